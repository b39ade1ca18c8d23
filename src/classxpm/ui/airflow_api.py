"""Starting ``class_xpm_sync`` through Airflow's REST API, as the signed-in user (Airflow checks again)."""

from __future__ import annotations

import httpx

from classxpm.airflow.rest_api import AirflowApi, AirflowApiError
from classxpm.ui.access import SYNC_DAG_ID


class TriggerFailed(AirflowApiError):
    """Airflow did not start the sync; the message says why in plain words."""


def trigger_sync(client: httpx.Client, api_root: str, token: str | None, business_id: str) -> str:
    """Queue a run of ``class_xpm_sync`` for ``business_id``; return a sentence for the page.

    Raises:
        TriggerFailed: Airflow's API could not be reached or refused the run.
    """
    api = AirflowApi(client, api_root, token)
    try:
        run = api.trigger(SYNC_DAG_ID, {"business_id": business_id})
        paused = api.dag(SYNC_DAG_ID).get("is_paused")
    except AirflowApiError as exc:
        raise TriggerFailed(_in_plain_words(exc), exc.status) from None
    sentence = f"Sync started: run {run.get('dag_run_id')} of {SYNC_DAG_ID} is {run.get('state')}."
    if paused:
        sentence += f" {SYNC_DAG_ID} is paused in Airflow: the run starts once it is unpaused."
    return sentence


def _in_plain_words(error: AirflowApiError) -> str:
    if error.status is None:
        return f"{error}."
    if error.status == 404:
        return f"Airflow does not know the {SYNC_DAG_ID} DAG yet: has the DAG processor run?"
    return f"Airflow refused to start {SYNC_DAG_ID} (HTTP {error.status})."
