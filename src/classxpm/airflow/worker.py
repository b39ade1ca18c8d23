"""Celery settings for classxpm's workers: Airflow's own, and the sync's modules imported once a worker.

Airflow 3 runs each task instance in a process forked from the Celery worker, so a module the worker has
imported costs that process nothing. Airflow preloads its own operators this way (the
``celery_import_modules`` handler in the Celery provider); the sync's tasks also import pandas, SQLAlchemy
and, for the validation gate, Great Expectations: about 5 s of CPU for every task process that validates,
1 s for the others. A nightly run over 3,000 businesses starts some 300 task processes, so importing these
once per worker saves minutes of the two cores' time.

``deploy/airflow.env`` names ``CELERY_CONFIG`` as ``[celery] celery_config_options``. The scheduler builds
its Celery app from the same dict but never imports ``imports``: only a worker does, at start, before it
forks its pool.
"""

from __future__ import annotations

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

PRELOAD_MODULE = "classxpm.airflow.preload"

CELERY_CONFIG = {
    **DEFAULT_CELERY_CONFIG,
    "imports": (*DEFAULT_CELERY_CONFIG.get("imports", ()), PRELOAD_MODULE),
}
"""Airflow's Celery settings with the sync's modules imported by each worker at start."""
