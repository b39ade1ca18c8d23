"""The sync summary as the DAG run's note, written through Airflow's public REST API.

A Task SDK task cannot change its own run's note (Airflow 3.3's execution API reads a run's note, and sets
one only on a run the task triggers). The summary is therefore shown, with no connection at all, on the
run's "Class XPM sync" tab (the plugin's ``dag_run`` external view); and the report task also does what a
person would: it signs in to the API server with the ``airflow_api`` connection (host = the API server's
URL, login and password = a user allowed to edit DAG runs) and patches the note. Without that connection
the note is left alone and the log says so; the summary is in the task log, the JSON report, the task's
XCom and the run's tab either way. Each business keeps one line of the note, so the businesses of one run
do not overwrite each other.
"""

from __future__ import annotations

import logging

import httpx

from classxpm.airflow.rest_api import API_CONN_ID, AirflowApi, AirflowApiError, connection_root

log = logging.getLogger(__name__)


def merge_line(note: str | None, business_id: str, summary: str) -> str:
    """The run's note with this business's line replaced (or added), other lines kept."""
    prefix = f"{business_id}: "
    kept = [line for line in (note or "").splitlines() if line.strip() and not line.startswith(prefix)]
    return "\n".join([*kept, prefix + summary])


def write_note(api: AirflowApi, dag_id: str, run_id: str, *lines: tuple[str, str]) -> str:
    """Merge ``lines`` (business id, summary) into the run's note, in one read and one write.

    Returns:
        The note as stored.

    Raises:
        AirflowApiError: The API server is unreachable or refused.
    """
    note = api.dag_run(dag_id, run_id).get("note")
    for line in lines:
        note = merge_line(note, *line)
    api.set_note(dag_id, run_id, note or "")
    return note or ""


def set_run_note(dag_id: str, run_id: str, business_id: str, summary: str) -> None:
    """Put ``summary`` on the run's note when the ``airflow_api`` connection is configured; log otherwise."""
    set_run_notes(dag_id, run_id, [(business_id, summary)])


def set_run_notes(dag_id: str, run_id: str, lines: list[tuple[str, str]]) -> None:
    """Put each business's summary line on the run's note (one sign-in for a shard's businesses)."""
    from airflow.sdk.exceptions import AirflowNotFoundException

    if not lines:
        return
    try:
        root, login, password = connection_root(API_CONN_ID)
    except AirflowNotFoundException:
        log.info("no %s connection: the run's note is left as it is", API_CONN_ID)
        return
    try:
        with httpx.Client(timeout=10.0) as http:
            write_note(AirflowApi(http, root).sign_in(login, password), dag_id, run_id, *lines)
    except AirflowApiError as exc:
        log.warning("the run's note was not set: %s", exc)
