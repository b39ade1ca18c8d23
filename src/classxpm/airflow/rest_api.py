"""Airflow's own REST API (v2), as the pages and the report task call it: one client and one error.

The pages call it as the signed-in user (their token); the report task signs in with the ``airflow_api``
connection, an ``http`` connection whose base URL is read by the HTTP provider's hook.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from classxpm.errors import Retriable

API_CONN_ID = "airflow_api"


class AirflowApiError(Retriable):
    """Airflow's API could not be reached or refused a call.

    Attributes:
        status: The HTTP status of the refusal, or None when no answer came.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class AirflowApi:
    """Calls on Airflow's REST API under ``root`` (the API server's URL), with a bearer token when given."""

    def __init__(self, http: httpx.Client, root: str, token: str | None = None) -> None:
        self.http, self.root, self.token = http, root.rstrip("/"), token

    def sign_in(self, login: str, password: str) -> AirflowApi:
        """Return a client carrying the token Airflow issues for ``login`` and ``password``."""
        answer = self.call("POST", "/auth/token", json={"username": login, "password": password})
        return AirflowApi(self.http, self.root, answer["access_token"])

    def dag(self, dag_id: str) -> dict[str, Any]:
        """The DAG's details (``is_paused`` among them)."""
        return self.call("GET", _dag_path(dag_id))

    def trigger(self, dag_id: str, conf: dict[str, Any]) -> dict[str, Any]:
        """Queue a run of ``dag_id`` now with ``conf``; returns the new run."""
        return self.call("POST", f"{_dag_path(dag_id)}/dagRuns", json={"logical_date": None, "conf": conf})

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        """One DAG run (its ``note`` among its fields)."""
        return self.call("GET", _run_path(dag_id, run_id))

    def set_note(self, dag_id: str, run_id: str, note: str) -> dict[str, Any]:
        """Replace the run's note."""
        path = _run_path(dag_id, run_id)
        return self.call("PATCH", path, params={"update_mask": "note"}, json={"note": note})

    def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """Send one call and return its JSON body.

        Raises:
            AirflowApiError: No answer came, or Airflow answered with an error status.
        """
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            response = self.http.request(method, f"{self.root}{path}", headers=headers, **kwargs)
        except httpx.TransportError as exc:
            raise AirflowApiError(f"Airflow's API could not be reached ({type(exc).__name__})") from None
        if response.status_code >= 400:
            status = response.status_code
            raise AirflowApiError(f"Airflow's API answered HTTP {status} to {method} {path}", status)
        return response.json()


def connection_root(conn_id: str = API_CONN_ID) -> tuple[str, str, str]:
    """The API server's URL, login and password from an ``http`` connection, read by the HTTP provider.

    Raises:
        AirflowNotFoundException: There is no such connection.
    """
    from airflow.providers.http.hooks.http import HttpHook

    hook = HttpHook(method="GET", http_conn_id=conn_id)
    connection = hook.get_connection(conn_id)
    return hook.url_from_endpoint(None), connection.login or "", connection.password or ""


def _dag_path(dag_id: str) -> str:
    return f"/api/v2/dags/{quote(dag_id, safe='')}"


def _run_path(dag_id: str, run_id: str) -> str:
    return f"{_dag_path(dag_id)}/dagRuns/{quote(run_id, safe='')}"
