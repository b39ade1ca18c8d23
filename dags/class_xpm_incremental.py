"""Funds and members changed in Class since the watermark, sent to XPM within a minute of the change.

Started by the Class watcher (an asset the triggerer updates when Class changes) or hourly as a safety
net; with CLASSXPM_INSTANT_SYNC=off, every 15 minutes instead. See docs/operating.md, "Instant sync".
"""

from __future__ import annotations

from classxpm.airflow.sync_dag import build_sync_dag
from classxpm.airflow.watch import incremental_schedule

build_sync_dag(
    "class_xpm_incremental",
    schedule=incremental_schedule(),
    mode="incremental",
    description="Incremental sync of changed Class funds and members into Xero Practice Manager",
    compact=True,
)
