"""The daily keep-alive of every linked XPM grant, as the ``xpm_token_refresh`` DAG runs it."""

from __future__ import annotations

from classxpm.airflow.connections import STATE_CONN_ID
from classxpm.airflow.outcomes import task_outcomes
from classxpm.airflow.resources import engine, token_store, xpm_session
from classxpm.errors import NotAuthorised, Reauthorise
from classxpm.state.linking import GrantsNeedAttention, refresh_grants
from classxpm.xpm.auth import utcnow


def refresh_all_grants() -> list[str]:
    """Refresh every linked grant; return the business ids refreshed.

    Raises:
        AirflowSkipException: No business has a grant (not authorised).
        AirflowFailException: Every grant in trouble was refused by Xero: re-authorise (no retries).
        GrantsNeedAttention: Some grant could not be refreshed and is within 7 days of expiring (retried).
    """
    with task_outcomes(), engine(STATE_CONN_ID) as state, xpm_session() as session:
        store = token_store(state)
        if not store.business_ids():
            raise NotAuthorised()
        try:
            return refresh_grants(session, store, utcnow)
        except GrantsNeedAttention as exc:
            if exc.needs_person:
                raise Reauthorise(str(exc)) from exc
            raise
