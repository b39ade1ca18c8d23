"""The name a worker gives Airflow as its task instances' ``hostname`` (``[core] hostname_callable``).

Several Celery workers on one machine would all report the machine's name, so nobody could tell from a
task instance which worker ran it. A worker started with ``CLASSXPM_WORKER_NAME`` reports that name; any
other process (or a worker in its own container, where the machine's name already tells) reports the
machine's fully qualified name, as Airflow does by default.
"""

from __future__ import annotations

import os

WORKER_NAME_ENV = "CLASSXPM_WORKER_NAME"


def worker_hostname() -> str:
    """``CLASSXPM_WORKER_NAME`` when set, else Airflow's own ``getfqdn``."""
    name = os.environ.get(WORKER_NAME_ENV, "").strip()
    if name:
        return name
    from airflow.utils.net import getfqdn

    return getfqdn()
