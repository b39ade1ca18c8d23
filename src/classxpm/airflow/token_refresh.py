"""The daily keep-alive of every linked XPM grant, as the ``xpm_token_refresh`` DAG runs it."""

from __future__ import annotations

from airflow.sdk.exceptions import AirflowFailException

from classxpm.airflow.hooks.xpm import XpmHook
from classxpm.state.grants import open_store
from classxpm.state.linking import GrantsNeedAttention, refresh_grants
from classxpm.xpm.auth import utcnow


def refresh_all_grants() -> list[str]:
    """Refresh every linked grant; return the business ids refreshed.

    Raises:
        AirflowFailException: Some grant was refused by Xero (a retry cannot help): re-authorise it.
        GrantsNeedAttention: Some grant could not be refreshed and is within 7 days of expiring.
    """
    hook = XpmHook()
    store = open_store(hook.state_db_url())
    with hook.get_conn() as session:
        try:
            return refresh_grants(session, store, utcnow)
        except GrantsNeedAttention as exc:
            if exc.needs_person:
                raise AirflowFailException(str(exc)) from exc
            raise
