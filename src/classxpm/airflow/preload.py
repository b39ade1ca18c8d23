"""Imported by each Celery worker at start (``classxpm.airflow.worker``): the modules every sync task needs.

Task processes are forked from the worker, so they find these already imported, and Airflow's plugins
already loaded: each task's start otherwise loads the plugins folder again, running ``classxpm_plugin.py``
and building the pages' FastAPI app (a ninth of the workers' CPU in a no-change run of 3,000 businesses).
Importing this module does nothing else: no connection, no thread, no file opened beyond the plugins.
"""

from __future__ import annotations

import gc
import logging
import time

began = time.process_time()

from airflow.sdk.plugins_manager import integrate_macros_plugins  # noqa: E402

import classxpm.airflow.sync_tasks  # noqa: E402
import classxpm.sync.executor  # noqa: E402
import classxpm.sync.planner  # noqa: E402
import classxpm.sync.steps  # noqa: E402
import classxpm.validation.gate  # noqa: E402, F401

integrate_macros_plugins()  # what each task's start calls first; it loads the plugins, once (cached)

# As Airflow's own preload does: objects made so far are left alone by the collector, so forked task
# processes keep sharing their memory pages (the worker unfreezes once its pool is up).
gc.freeze()
logging.getLogger(__name__).info(
    "classxpm: the sync's modules are imported for this worker's tasks (%.1f s of CPU)",
    time.process_time() - began,
)
