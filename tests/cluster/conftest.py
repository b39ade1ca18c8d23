"""A real Airflow cluster for the tier: ``classxpm.cluster`` up for the session, down (and dropped) after.

The cluster is the one ``make cluster`` starts (CeleryExecutor on Redis, two workers, scheduler,
dag-processor, triggerer, api-server, the XPM simulator, the demo business authorised), under a name of
its own (letters only: its databases and its Celery queue) in a temporary run folder, so it never meets a
developer's own ``make cluster`` or another session's. The simulator's limits are raised so the tier
measures the cluster, not Xero's rate limit.
"""

from __future__ import annotations

import json
import secrets
import string
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from classxpm.airflow.rest_api import AirflowApi, AirflowApiError
from classxpm.cluster import ADMIN, ClusterSpec, down, is_running, up

FUNDS = 2000
REDIS_DB = 12
DAG_ID = "class_xpm_sync"
RUN_TIMEOUT = 1500.0
"""Upper bound on any wait here (two cores shared with other work); each ends once its condition holds."""


@dataclass
class Cluster:
    """Handles on the running cluster: Airflow's REST API, the simulator's admin API, its databases."""

    spec: ClusterSpec
    state: dict[str, Any]
    api: AirflowApi
    sim: httpx.Client
    token: str

    def process(self, name: str) -> dict[str, Any]:
        """The recorded process (pid, start time, log) of one component."""
        return json.loads(self.spec.state_file.read_text())["processes"][name]

    def rows(self, role: str, statement: str, **params: Any) -> list[Any]:
        """Rows of a query on one of the cluster's databases (``class`` or ``state``)."""
        engine = sa.create_engine(self.spec.database_url(role))
        with engine.begin() as conn:
            result = conn.execute(sa.text(statement), params)
            rows = list(result.all()) if result.returns_rows else []
        engine.dispose()
        return rows

    def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """One REST call, tried again while the busy api-server times out (it answers in the end)."""
        deadline = time.monotonic() + RUN_TIMEOUT
        while True:
            try:
                return self.api.call(method, path, **kwargs)
            except AirflowApiError as exc:
                if exc.status is not None or time.monotonic() > deadline:
                    raise

    def wait_for(self, what: str, condition: Callable[[], Any]) -> Any:
        """Poll ``condition`` until it returns something truthy; fail after ``RUN_TIMEOUT``."""
        deadline = time.monotonic() + RUN_TIMEOUT
        while time.monotonic() < deadline:
            found = condition()
            if found:
                return found
            time.sleep(0.5)
        pytest.fail(f"gave up waiting for {what} after {RUN_TIMEOUT:.0f} s")

    def run_sync(self, conf: dict[str, Any], while_running: Callable[[str], None] | None = None) -> dict:
        """Trigger a sync run, optionally act while it runs, and return the finished run."""
        dag = self.wait_for("the sync DAG to be parsed", self._parsed_dag)
        body: dict[str, Any] = {"conf": conf, "logical_date": None}
        if dag["is_paused"]:
            # Unpausing would also start the latest scheduled interval: this run takes its logical date.
            body["logical_date"] = dag["next_dagrun_logical_date"]
        run = self.call("POST", f"/api/v2/dags/{DAG_ID}/dagRuns", json=body)
        if dag["is_paused"]:
            self.call("PATCH", f"/api/v2/dags/{DAG_ID}", json={"is_paused": False})
        run_id = run["dag_run_id"]
        if while_running:
            while_running(run_id)
        return self.wait_for("the sync run to finish", lambda: self._finished(run_id))

    def _parsed_dag(self) -> dict | None:
        try:
            dag = self.call("GET", f"/api/v2/dags/{DAG_ID}")
        except AirflowApiError as exc:
            if exc.status == 404:
                return None
            raise
        return dag if dag.get("next_dagrun_logical_date") or not dag["is_paused"] else None

    def _finished(self, run_id: str) -> dict | None:
        run = self.call("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}")
        return run if run["state"] in {"success", "failed"} else None

    def task_instances(self, run_id: str, task_id: str) -> list[dict[str, Any]]:
        """The run's task instances of one task (every map index)."""
        path = f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances"
        found = self.call("GET", path, params={"task_id": task_id, "limit": 1000})["task_instances"]
        return [ti for ti in found if ti["task_id"] == task_id]

    def tries(self, run_id: str, task_id: str, map_index: int) -> list[dict[str, Any]]:
        """Every try of one task instance, from Airflow's task instance history."""
        path = f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}/{map_index}/tries"
        return self.call("GET", path)["task_instances"]

    def export_codes(self) -> Counter[str]:
        """How many XPM clients the simulator holds for each ExportCode."""
        clients = self.sim.get("/_sim/state").raise_for_status().json()["clients"]
        return Counter(client["ExportCode"] for client in clients)

    def sim_writes(self) -> int:
        """Client writes the simulator has answered."""
        by_endpoint = self.sim.get("/_sim/calls").raise_for_status().json()["by_endpoint"]
        return sum(n for key, n in by_endpoint.items() if key.startswith("POST client.api/"))


def _name() -> str:
    return "classxpm_cl_" + "".join(secrets.choice(string.ascii_lowercase) for _ in range(10))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A cluster of the session's own, with 2,000 demo funds; stopped and dropped afterwards."""
    spec = ClusterSpec(
        _name(),
        Path(tmp_path_factory.mktemp("cluster")),
        REDIS_DB,
        funds=FUNDS,
        minute_limit=1_000_000,
        day_limit=1_000_000,
    )
    try:
        state = up(spec, echo=lambda _: None)
        password = json.loads(spec.secrets_file.read_text())["admin_password"]
        http = httpx.Client(timeout=60)
        api = AirflowApi(http, state["api_url"]).sign_in(ADMIN, password)
        with httpx.Client(base_url=state["sim_url"], timeout=60) as sim:
            yield Cluster(spec, state, api, sim, api.token or "")
        http.close()
    finally:
        recorded = json.loads(spec.state_file.read_text())["processes"] if spec.state_file.exists() else {}
        down(spec, drop=True, echo=lambda _: None)
    assert [name for name, record in recorded.items() if is_running(record)] == [], "down stopped them all"
