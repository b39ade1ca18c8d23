"""Imported by each Celery worker at start (``classxpm.airflow.worker``): the modules every sync task needs.

Task processes are forked from the worker, so they find these already imported. Importing this module does
nothing else: no connection, no thread, no file opened.
"""

from __future__ import annotations

import gc
import logging
import time

began = time.process_time()

import classxpm.airflow.sync_tasks  # noqa: E402
import classxpm.sync.executor  # noqa: E402
import classxpm.sync.planner  # noqa: E402
import classxpm.sync.steps  # noqa: E402
import classxpm.validation.gate  # noqa: E402, F401

# As Airflow's own preload does: objects made so far are left alone by the collector, so forked task
# processes keep sharing their memory pages (the worker unfreezes once its pool is up).
gc.freeze()
logging.getLogger(__name__).info(
    "classxpm: the sync's modules are imported for this worker's tasks (%.1f s of CPU)",
    time.process_time() - began,
)
