"""What the ``xpm_jobs_snapshot`` DAG's task calls: a snapshot for every business with a stored grant.

Resources come from ``classxpm.airflow.resources`` (the ``xpm_default`` and ``classxpm_state`` connections);
the XPM session spends the tenant's shared call budget, as the sync does. A refused grant does not stop the
other businesses: it fails the run at the end, without retries, with the seed's message. A spent daily quota
only skips that business; with no grant at all the task is skipped (not authorised).
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from classxpm.airflow.connections import STATE_CONN_ID
from classxpm.airflow.outcomes import task_outcomes
from classxpm.airflow.resources import engine, xpm_session
from classxpm.errors import Reauthorise
from classxpm.jobs.snapshot import snapshot_all

log = logging.getLogger(__name__)


def run_snapshot() -> list[dict[str, Any]]:
    """The task: snapshot every linked business; the results go to XCom (counts only).

    Raises:
        AirflowSkipException: No business has a grant (not authorised).
        AirflowFailException: A grant was refused by Xero (retrying cannot help): re-authorise it.
    """
    with task_outcomes(), engine(STATE_CONN_ID) as state, xpm_session(state=state) as session:
        results, problems = snapshot_all(session, state)
        for result in results:
            log.info("jobs snapshot: %s", result)
        if problems:
            raise Reauthorise("; ".join(problems))
    return [asdict(result) for result in results]
