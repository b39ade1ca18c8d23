"""Starting ``class_xpm_sync`` through Airflow's REST API, as the signed-in user (Airflow checks again)."""

from __future__ import annotations

import httpx

from classxpm.errors import Retriable
from classxpm.ui.access import SYNC_DAG_ID


class TriggerFailed(Retriable):
    """Airflow did not start the sync; the message says why in plain words."""


def trigger_sync(client: httpx.Client, api_root: str, token: str | None, business_id: str) -> str:
    """Queue a run of ``class_xpm_sync`` for ``business_id``; return a sentence for the page.

    Raises:
        TriggerFailed: Airflow's API could not be reached or refused the run.
    """
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    dag_url = f"{api_root.rstrip('/')}/api/v2/dags/{SYNC_DAG_ID}"
    body = {"logical_date": None, "conf": {"business_id": business_id}}
    run = _call(client, "POST", f"{dag_url}/dagRuns", headers, body)
    sentence = f"Sync started: run {run.get('dag_run_id')} of {SYNC_DAG_ID} is {run.get('state')}."
    if _call(client, "GET", dag_url, headers).get("is_paused"):
        sentence += f" {SYNC_DAG_ID} is paused in Airflow: the run starts once it is unpaused."
    return sentence


def _call(client: httpx.Client, method: str, url: str, headers: dict, body: dict | None = None) -> dict:
    try:
        response = client.request(method, url, headers=headers, json=body)
    except httpx.TransportError as exc:
        raise TriggerFailed(f"Airflow's API could not be reached ({type(exc).__name__}).") from None
    if response.status_code == 404:
        raise TriggerFailed(f"Airflow does not know the {SYNC_DAG_ID} DAG yet: has the DAG processor run?")
    if response.status_code >= 400:
        raise TriggerFailed(f"Airflow refused to start {SYNC_DAG_ID} (HTTP {response.status_code}).")
    return response.json()
