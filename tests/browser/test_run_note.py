"""The sync summary lands on the DAG run's note through a live API server's REST API."""

from __future__ import annotations

import json

import httpx

from classxpm.airflow.run_note import set_run_note

from .conftest import PASSWORDS


def _new_run(stack) -> str:
    headers = {"Authorization": f"Bearer {stack.token('admin')}"}
    answer = httpx.post(
        f"{stack.url}/api/v2/dags/class_xpm_sync/dagRuns",
        json={"logical_date": None},
        headers=headers,
        timeout=10,
    )
    answer.raise_for_status()
    return answer.json()["dag_run_id"]


def _note(stack, run_id: str) -> str:
    headers = {"Authorization": f"Bearer {stack.token('admin')}"}
    url = f"{stack.url}/api/v2/dags/class_xpm_sync/dagRuns/{run_id}"
    return httpx.get(url, headers=headers, timeout=10).json()["note"]


def test_each_business_keeps_its_own_line_of_the_note(stack, monkeypatch):
    connection = {"conn_type": "http", "host": stack.url, "login": "admin", "password": PASSWORDS["admin"]}
    monkeypatch.setenv("AIRFLOW_CONN_AIRFLOW_API", json.dumps(connection))
    run_id = _new_run(stack)
    set_run_note("class_xpm_sync", run_id, "b-1", "3 created, 0 failed")
    set_run_note("class_xpm_sync", run_id, "b-2", "1 updated, 0 failed")
    set_run_note("class_xpm_sync", run_id, "b-1", "0 created, 4 unchanged")
    assert _note(stack, run_id).splitlines() == ["b-2: 1 updated, 0 failed", "b-1: 0 created, 4 unchanged"]


def test_a_viewer_cannot_write_the_note_and_the_run_goes_on(stack, monkeypatch, caplog):
    connection = {"conn_type": "http", "host": stack.url, "login": "viewer", "password": PASSWORDS["viewer"]}
    monkeypatch.setenv("AIRFLOW_CONN_AIRFLOW_API", json.dumps(connection))
    run_id = _new_run(stack)
    set_run_note("class_xpm_sync", run_id, "b-1", "3 created")
    assert _note(stack, run_id) in (None, "")
    assert "the run's note was not set: Airflow's API answered HTTP 403" in caplog.text
