"""The daily keep-alive of every linked XPM grant, as the ``xpm_token_refresh`` DAG runs it."""

from __future__ import annotations

from classxpm.airflow.hooks.xpm import XpmHook
from classxpm.airflow.outcomes import task_outcomes
from classxpm.errors import NotAuthorised, Reauthorise
from classxpm.state.grants import open_store
from classxpm.state.linking import GrantsNeedAttention, refresh_grants
from classxpm.xpm.auth import utcnow


def refresh_all_grants() -> list[str]:
    """Refresh every linked grant; return the business ids refreshed.

    Raises:
        AirflowSkipException: No business has a grant (not authorised).
        AirflowFailException: Every grant in trouble was refused by Xero: re-authorise (no retries).
        GrantsNeedAttention: Some grant could not be refreshed and is within 7 days of expiring (retried).
    """
    with task_outcomes():
        hook = XpmHook()
        store = open_store(hook.state_db_url())
        if not store.business_ids():
            raise NotAuthorised()
        with hook.get_conn() as session:
            try:
                return refresh_grants(session, store, utcnow)
            except GrantsNeedAttention as exc:
                if exc.needs_person:
                    raise Reauthorise(str(exc)) from exc
                raise
