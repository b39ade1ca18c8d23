"""The sync summary as the DAG run's note, written through Airflow's public REST API.

A Task SDK task cannot change its own run's note, so the report task does what a person would: it signs
in to the API server with the ``airflow_api`` connection (host = the API server's URL, login and password
= a user allowed to edit DAG runs) and patches the note. Without that connection the note is left alone
and the log says so; the summary is in the task log, the JSON report and the task's XCom either way.
Each business keeps one line of the note, so the businesses of one run do not overwrite each other.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

import httpx

from classxpm.errors import Retriable

log = logging.getLogger(__name__)

API_CONN_ID = "airflow_api"


class NoteNotSet(Retriable):
    """The API server could not be reached or refused the note (the run itself is not affected)."""


def merge_line(note: str | None, business_id: str, summary: str) -> str:
    """The run's note with this business's line replaced (or added), other lines kept."""
    prefix = f"{business_id}: "
    kept = [line for line in (note or "").splitlines() if line.strip() and not line.startswith(prefix)]
    return "\n".join([*kept, prefix + summary])


def _call(client: httpx.Client, method: str, url: str, **kwargs: object) -> dict:
    try:
        response = client.request(method, url, **kwargs)
    except httpx.TransportError as exc:
        raise NoteNotSet(f"Airflow's API could not be reached ({type(exc).__name__})") from None
    if response.status_code >= 400:
        raise NoteNotSet(f"Airflow's API answered HTTP {response.status_code} to {method} {url}")
    return response.json()


def write_note(
    base_url: str, credentials: tuple[str, str], dag_id: str, run_id: str, line: tuple[str, str]
) -> str:
    """Sign in with ``credentials`` (login, password), merge ``line`` (business id, summary) into the note.

    Returns:
        The note as stored.

    Raises:
        NoteNotSet: The API server is unreachable or refused.
    """
    root = base_url.rstrip("/")
    with httpx.Client(timeout=10.0) as client:
        token = _call(
            client,
            "POST",
            f"{root}/auth/token",
            json=dict(zip(("username", "password"), credentials, strict=True)),
        )
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        run_url = f"{root}/api/v2/dags/{quote(dag_id, safe='')}/dagRuns/{quote(run_id, safe='')}"
        note = merge_line(_call(client, "GET", run_url, headers=headers).get("note"), *line)
        _call(client, "PATCH", run_url, headers=headers, params={"update_mask": "note"}, json={"note": note})
    return note


def set_run_note(dag_id: str, run_id: str, business_id: str, summary: str) -> None:
    """Put ``summary`` on the run's note when the ``airflow_api`` connection is configured; log otherwise."""
    from airflow.sdk.exceptions import AirflowNotFoundException

    from classxpm.airflow.connections import get_connection

    try:
        connection = get_connection(API_CONN_ID)
    except AirflowNotFoundException:
        log.info("no %s connection: the run's note is left as it is", API_CONN_ID)
        return
    try:
        credentials = (connection.login or "", connection.password or "")
        write_note(connection.host or "", credentials, dag_id, run_id, (business_id, summary))
    except NoteNotSet as exc:
        log.warning("the run's note was not set: %s", exc)
