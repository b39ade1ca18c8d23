"""What the ``xpm_jobs_snapshot`` DAG's task calls: a snapshot for every business with a stored grant.

Resources come from the ``xpm_default`` and ``classxpm_state`` connections; the XPM session shares the
process's rate governor with the sync. A refused grant does not stop the other businesses: it fails the
run at the end, without retries, with the seed's message. A spent daily quota only skips that business;
with no grant at all the task is skipped (not authorised).
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from sqlalchemy.engine import Engine

from classxpm.jobs.snapshot import SnapshotResult, take_snapshot
from classxpm.state.tokens import TokenStore
from classxpm.xpm.auth import utcnow
from classxpm.xpm.errors import Deferred, NotAuthorised, Reauthorise
from classxpm.xpm.session import XpmSession

log = logging.getLogger(__name__)


def snapshot_business(
    session: XpmSession, state: Engine, store: TokenStore, business_id: str
) -> SnapshotResult:
    """Take one business's snapshot with its stored grant.

    Raises:
        Reauthorise: Xero refused the business's grant.
        Deferred: The tenant's daily quota is spent.
    """
    from classxpm.state.tokens import StoredTokenSource

    tokens = StoredTokenSource(store, business_id, session.identity, session.clock)
    return take_snapshot(state, session.api(tokens), business_id, tokens.tenant_id, utcnow)


def snapshot_all(session: XpmSession, state: Engine) -> tuple[list[SnapshotResult], list[str]]:
    """Snapshot every business with a grant; return the results and the businesses needing a person.

    Raises:
        NotAuthorised: No business has a grant.
    """
    from classxpm.state.crypto import load_cipher

    store = TokenStore(state, load_cipher())
    businesses = store.business_ids()
    if not businesses:
        raise NotAuthorised()
    results, problems = [], []
    for business_id in businesses:
        try:
            results.append(snapshot_business(session, state, store, business_id))
        except Reauthorise as exc:
            problems.append(f"business {business_id}: {exc}")
        except Deferred as exc:
            log.warning("business %s skipped: %s", business_id, exc)
    return results, problems


def run_snapshot() -> list[dict[str, Any]]:
    """The task: snapshot every linked business; the results go to XCom (counts only).

    Raises:
        AirflowSkipException: No business has a grant (not authorised).
        AirflowFailException: A grant was refused by Xero (retrying cannot help): re-authorise it.
    """
    from classxpm.airflow.hooks.xpm import XpmHook
    from classxpm.airflow.outcomes import task_outcomes
    from classxpm.db import make_engine

    with task_outcomes():
        hook = XpmHook()
        engine = make_engine(hook.state_db_url(), hide_parameters=True)
        try:
            with hook.get_conn() as session:
                results, problems = snapshot_all(session, engine)
        finally:
            engine.dispose()
        for result in results:
            log.info("jobs snapshot: %s", result)
        if problems:
            raise Reauthorise("; ".join(problems))
    return [asdict(result) for result in results]
