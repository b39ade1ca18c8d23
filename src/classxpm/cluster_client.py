"""Driving a running ``classxpm.cluster`` from outside, as a practice would: its REST API and databases.

The cluster tier (``tests/cluster``) and the cluster bench (``bench/cluster_shards.py``) both trigger DAG
runs through Airflow's REST API with the admin password from the cluster's secrets file, wait on the run's
state, and read task instances, the simulator's admin API and the cluster's databases.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import sqlalchemy as sa

from classxpm.airflow.rest_api import AirflowApi, AirflowApiError
from classxpm.cluster import ADMIN, ClusterSpec
from classxpm.errors import Fatal

RUN_TIMEOUT = 1500.0
"""Default upper bound on any wait (two cores shared with other work); each ends once its condition holds."""
PAGE = 100
"""Task instances asked for a page at a time: the REST API's default largest page."""


class GaveUpWaiting(Fatal):
    """A condition did not hold within the wait's upper bound."""


@dataclass
class ClusterClient:
    """Handles on a running cluster: Airflow's REST API, the simulator's admin API, its databases."""

    spec: ClusterSpec
    state: dict[str, Any]
    api: AirflowApi
    sim: httpx.Client
    token: str
    timeout: float = RUN_TIMEOUT

    @classmethod
    @contextmanager
    def signed_in(
        cls, spec: ClusterSpec, state: dict[str, Any], timeout: float = RUN_TIMEOUT
    ) -> Iterator[ClusterClient]:
        """A client signed in as the cluster's admin (password from its secrets file); closed on leaving."""
        password = json.loads(spec.secrets_file.read_text())["admin_password"]
        with httpx.Client(timeout=60) as http, httpx.Client(base_url=state["sim_url"], timeout=600) as sim:
            api = AirflowApi(http, state["api_url"]).sign_in(ADMIN, password)
            yield cls(spec, state, api, sim, api.token or "", timeout)

    def process(self, name: str) -> dict[str, Any]:
        """The recorded process (pid, start time, log) of one component."""
        return json.loads(self.spec.state_file.read_text())["processes"][name]

    def rows(self, role: str, statement: str, **params: Any) -> list[Any]:
        """Rows of a statement on one of the cluster's databases (``class``, ``state`` or ``airflow``)."""
        engine = sa.create_engine(self.spec.database_url(role))
        try:
            with engine.begin() as conn:
                result = conn.execute(sa.text(statement), params)
                return list(result.all()) if result.returns_rows else []
        finally:
            engine.dispose()

    def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """One REST call, tried again while the busy api-server times out (it answers in the end)."""
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                return self.api.call(method, path, **kwargs)
            except AirflowApiError as exc:
                if exc.status is not None or time.monotonic() > deadline:
                    raise

    def wait_for(self, what: str, condition: Callable[[], Any], every: float = 0.5) -> Any:
        """Poll ``condition`` until it returns something truthy, which is returned.

        Raises:
            GaveUpWaiting: It did not within the client's ``timeout``.
        """
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            found = condition()
            if found:
                return found
            time.sleep(every)
        raise GaveUpWaiting(f"gave up waiting for {what} after {self.timeout:.0f} s")

    def trigger(self, dag_id: str, conf: dict[str, Any]) -> str:
        """Trigger a run of ``dag_id`` as a practice would (unpausing the DAG after); returns its run id."""
        dag = self.wait_for(f"{dag_id} to be parsed", lambda: self._parsed_dag(dag_id))
        body: dict[str, Any] = {"conf": conf, "logical_date": None}
        if dag["is_paused"]:
            # Unpausing would also start the latest scheduled interval: this run takes its logical date.
            body["logical_date"] = dag["next_dagrun_logical_date"]
        run = self.call("POST", f"/api/v2/dags/{dag_id}/dagRuns", json=body)
        if dag["is_paused"]:
            self.call("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})
        return run["dag_run_id"]

    def run(
        self,
        dag_id: str,
        conf: dict[str, Any],
        while_running: Callable[[str], None] | None = None,
        every: float = 0.5,
    ) -> dict[str, Any]:
        """Trigger a run, optionally act while it runs, and return it finished (polled every ``every`` s)."""
        run_id = self.trigger(dag_id, conf)
        if while_running:
            while_running(run_id)
        return self.wait_for(f"{dag_id} run {run_id} to finish", lambda: self.finished(dag_id, run_id), every)

    def _parsed_dag(self, dag_id: str) -> dict[str, Any] | None:
        try:
            dag = self.call("GET", f"/api/v2/dags/{dag_id}")
        except AirflowApiError as exc:
            if exc.status == 404:
                return None
            raise
        return dag if dag.get("next_dagrun_logical_date") or not dag["is_paused"] else None

    def finished(self, dag_id: str, run_id: str) -> dict[str, Any] | None:
        """The run once it succeeded or failed, else None."""
        run = self.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
        return run if run["state"] in {"success", "failed"} else None

    def task_instances_of(self, dag_id: str, run_id: str, task_id: str | None = None) -> list[dict[str, Any]]:
        """The run's task instances (of one task when ``task_id``, every map index), page by page."""
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances"
        params: dict[str, Any] = {"limit": PAGE} | ({"task_id": task_id} if task_id else {})
        found: list[dict[str, Any]] = []
        while True:
            page = self.call("GET", path, params={**params, "offset": len(found)})
            found += page["task_instances"]
            if not page["task_instances"] or len(found) >= page["total_entries"]:
                break
        return [ti for ti in found if task_id in (None, ti["task_id"])]

    def tries_of(self, dag_id: str, run_id: str, task_id: str, map_index: int) -> list[dict[str, Any]]:
        """Every try of one task instance, from Airflow's task instance history."""
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/{map_index}/tries"
        return self.call("GET", path)["task_instances"]
