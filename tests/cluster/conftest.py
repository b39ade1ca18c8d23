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
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from classxpm.cluster import ClusterSpec, down, is_running, up
from classxpm.cluster_client import ClusterClient, GaveUpWaiting

FUNDS = 2000
REDIS_DB = 12
DAG_ID = "class_xpm_sync"
RUN_TIMEOUT = 1500.0
"""Upper bound on any wait here (two cores shared with other work); each ends once its condition holds."""


class Cluster(ClusterClient):
    """The shared cluster client, on the sync DAG, failing the test when a wait gives up."""

    def wait_for(self, what: str, condition: Callable[[], Any], every: float = 0.5) -> Any:
        """Poll ``condition`` until it returns something truthy; fail the test after ``RUN_TIMEOUT``."""
        try:
            return super().wait_for(what, condition, every)
        except GaveUpWaiting as exc:
            pytest.fail(str(exc))

    def run_sync(self, conf: dict[str, Any], while_running: Callable[[str], None] | None = None) -> dict:
        """Trigger a sync run, optionally act while it runs, and return the finished run."""
        return self.run(DAG_ID, conf, while_running)

    def task_instances(self, run_id: str, task_id: str) -> list[dict[str, Any]]:
        """The run's task instances of one task (every map index)."""
        return self.task_instances_of(DAG_ID, run_id, task_id)

    def tries(self, run_id: str, task_id: str, map_index: int) -> list[dict[str, Any]]:
        """Every try of one task instance, from Airflow's task instance history."""
        return self.tries_of(DAG_ID, run_id, task_id, map_index)

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
        with Cluster.signed_in(spec, state, RUN_TIMEOUT) as cluster:
            yield cluster
    finally:
        recorded = json.loads(spec.state_file.read_text())["processes"] if spec.state_file.exists() else {}
        down(spec, drop=True, echo=lambda _: None)
    assert [name for name, record in recorded.items() if is_running(record)] == [], "down stopped them all"
