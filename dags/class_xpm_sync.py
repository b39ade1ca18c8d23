"""Nightly full re-sync of every Class fund into XPM at 02:00 Sydney time; also run by hand with params."""

from __future__ import annotations

from classxpm.airflow.sync_dag import build_sync_dag

build_sync_dag(
    "class_xpm_sync",
    schedule="0 2 * * *",
    mode="full",
    description="Full re-sync of Class funds and members into Xero Practice Manager",
)
