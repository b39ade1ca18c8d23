"""The Class XPM pages served by the Airflow API server: integration settings, fund dashboard, reports."""
