"""classxpm: keeps Xero Practice Manager in step with Class Super, as an Apache Airflow 3 project."""

from __future__ import annotations

__version__ = "0.1.0"
