"""The one Airflow REST client, against Airflow's API played by an httpx MockTransport."""

from __future__ import annotations

import json

import httpx
import pytest

from classxpm.airflow.rest_api import AirflowApi, AirflowApiError
from classxpm.airflow.run_note import write_note

ROOT = "http://airflow.test:8080/"


class FakeAirflow:
    """Answers as Airflow 3.3 does; remembers the note and what it was sent."""

    def __init__(self, note: str | None = None) -> None:
        self.note, self.requests = note, []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/auth/token":
            return httpx.Response(201, json={"access_token": "jwt-1"})
        if request.headers.get("Authorization") != "Bearer jwt-1":
            return httpx.Response(401, json={"detail": "Not authenticated"})
        if request.method == "PATCH":
            self.note = json.loads(request.content)["note"]
        return httpx.Response(200, json={"dag_run_id": "manual__1", "note": self.note})


def test_a_note_line_is_merged_after_signing_in_and_run_ids_are_quoted():
    airflow = FakeAirflow(note="b-2: 1 updated\nb-1: old line")
    with httpx.Client(transport=httpx.MockTransport(airflow)) as http:
        api = AirflowApi(http, ROOT).sign_in("admin", "pw")
        note = write_note(api, "class_xpm_sync", "manual__2026-05-01T09:00:00+00:00", ("b-1", "3 created"))

    assert note == airflow.note == "b-2: 1 updated\nb-1: 3 created"
    patch = airflow.requests[-1]
    assert patch.url.params["update_mask"] == "note"
    assert patch.url.raw_path.startswith(
        b"/api/v2/dags/class_xpm_sync/dagRuns/manual__2026-05-01T09%3A00%3A00%2B00%3A00"
    )


def test_a_refusal_names_the_status_and_the_call():
    with (
        httpx.Client(transport=httpx.MockTransport(FakeAirflow())) as http,
        pytest.raises(AirflowApiError) as refused,
    ):
        AirflowApi(http, ROOT).dag("class_xpm_sync")

    assert refused.value.status == 401
    assert str(refused.value) == "Airflow's API answered HTTP 401 to GET /api/v2/dags/class_xpm_sync"


def test_no_answer_is_an_error_without_a_status():
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with (
        httpx.Client(transport=httpx.MockTransport(unreachable)) as http,
        pytest.raises(AirflowApiError) as failed,
    ):
        AirflowApi(http, ROOT, "jwt-1").dag("class_xpm_sync")

    assert failed.value.status is None
    assert str(failed.value) == "Airflow's API could not be reached (ConnectError)"
