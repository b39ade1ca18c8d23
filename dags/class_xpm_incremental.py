"""Every 15 minutes: funds and members changed in Class since the watermark, so new funds reach XPM soon."""

from __future__ import annotations

from classxpm.airflow.sync_dag import build_sync_dag

build_sync_dag(
    "class_xpm_incremental",
    schedule="*/15 * * * *",
    mode="incremental",
    description="Incremental sync of changed Class funds and members into Xero Practice Manager",
)
