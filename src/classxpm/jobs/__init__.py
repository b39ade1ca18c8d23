"""XPM jobs and tasks of linked clients, snapshotted into the state database for the fund dashboard."""
