"""The pipeline's own state database (connection ``classxpm_state``): grants, and later sync state."""
