"""Client for Xero Practice Manager 3.1, layered auth → transport → API (the Airflow hook sits on top)."""
