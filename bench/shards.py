"""Many businesses in one run: N Class businesses of M funds, each its own XPM tenant on the simulator.

Each business is authorised to a tenant of its own (the simulator holds them all, indexed by tenant), and
``airflow dags test`` runs the DAGs for real in one process (no scheduler, every task in turn): a first
``class_xpm_sync``, the same again with no change, and the compact ``class_xpm_incremental`` with no change.
Rows: wall time (the whole ``airflow dags test`` command, process start included), task instances, the
businesses by sync status, XPM calls and writes. The scheduler's loop time needs a real scheduler
(``make cluster``), so it is not measured here. The demo's deliberately invalid TFNs and ABNs are blanked
first: a business with a held-back fund is validated again on its own (for its Data Docs), which this
row does not price.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.instant import _clear_faults, connections
from bench.world import ROOT, World, authorise, scratch_databases, simulator

DAGS = ("class_xpm_sync", "class_xpm_incremental")


@dataclass(frozen=True)
class ShardsRun:
    """One DAG run of the bench."""

    run: str
    dag_id: str
    state: str
    seconds: float
    cpu_seconds: float
    """CPU time of ``airflow dags test`` and its children (not the simulator's, nor PostgreSQL's)."""
    task_instances: int
    tasks: dict[str, int]
    sync_runs: dict[str, int]
    calls: int
    writes: int


@dataclass(frozen=True)
class ShardsResult:
    """The bench's rows and the world they ran in."""

    businesses: int
    funds: int
    shard_businesses: int
    shard_threads: int
    time_scale: float
    setup_seconds: float
    load_before: str
    load_after: str
    runs: list[ShardsRun]
    measured_at: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON form for results.json."""
        return asdict(self)


def run_shards(
    businesses: int, funds: int, seed: int, time_scale: float, shard_businesses: int = 50, threads: int = 8
) -> ShardsResult:
    """Set up N businesses of M funds and run the three DAG runs; returns their rows."""
    from classxpm.source.demo_data import demo_businesses, write_demo_data
    from classxpm.state.migrations import upgrade

    load_before = _load()
    began = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="classxpm-shards-") as scratch,
        scratch_databases("class", "state", "airflow") as urls,
        simulator(time_scale=time_scale, minute_limit=60) as sim,
    ):
        write_demo_data(urls["class"], funds, seed, businesses=businesses)
        _clear_faults(urls["class"])
        upgrade(urls["state"])
        world = World(urls["class"], urls["state"], sim, Path(scratch) / "reports", time_scale=time_scale)
        owners = [row["business_id"] for row in demo_businesses(businesses)]
        _authorise_each(world, owners)
        env = _airflow_env(Path(scratch) / "airflow", urls["airflow"], world, shard_businesses, threads)
        _airflow(env, "db", "migrate")
        _airflow(env, "pools", "set", "xpm_api", "5", "Calls to XPM")
        setup = time.perf_counter() - began
        print(f"shards: {businesses} businesses of {funds} funds set up in {setup:.0f} s", flush=True)
        runs = []
        for name, dag_id in (("first sync", DAGS[0]), ("no change", DAGS[0]), ("no change", DAGS[1])):
            world.clear_calls()
            runs.append(_timed_run(name, dag_id, env, urls, world))
            print(f"shards: {runs[-1]}", flush=True)
    return ShardsResult(
        businesses,
        funds,
        shard_businesses,
        threads,
        time_scale,
        round(setup, 1),
        load_before,
        _load(),
        runs,
        datetime.now(UTC).isoformat(timespec="seconds"),
    )


def _authorise_each(world: World, owners: list[str]) -> None:
    """The demo business on the default tenant; every other business on a tenant of its own."""
    from classxpm.db import make_engine

    world.sim.patch_config(reauth_keeps_old_refresh=True)
    names = [f"Practice {business}" for business in owners[1:]]
    if names:
        world.sim.seed(
            {
                "tenants": [{"name": name} for name in names],
                "users": [{"email": "demo@practice.example", "tenants": names}],
            }
        )
    engine = make_engine(world.state_url)
    try:
        for business, tenant in zip(owners, [None, *names], strict=True):
            authorise(world.config, engine, world.cipher, business, tenant)
    finally:
        engine.dispose()


def _airflow_env(home: Path, metadata_url: str, world: World, shard: int, threads: int) -> dict[str, str]:
    conns = connections(world)
    xpm = json.loads(conns["AIRFLOW_CONN_XPM_DEFAULT"])
    xpm["extra"] |= {
        "rate_window_seconds": 60 / world.time_scale,
        "refresh_margin_seconds": 300 / world.time_scale,
    }
    home.mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        **conns,
        "AIRFLOW_CONN_XPM_DEFAULT": json.dumps(xpm),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
        "CLASSXPM_SHARD_BUSINESSES": str(shard),
        "CLASSXPM_SHARD_THREADS": str(threads),
        "CLASSXPM_INSTANT_SYNC": "off",
        "CLASSXPM_RETRY_DELAY_SECONDS": "3",
        "GX_ANALYTICS_ENABLED": "False",
    }


def _airflow(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    airflow = str(Path(sys.executable).with_name("airflow"))
    return subprocess.run([airflow, *args], env=env, capture_output=True, text=True, check=True, timeout=7200)


def _timed_run(name: str, dag_id: str, env: dict[str, str], urls: dict[str, str], world: World) -> ShardsRun:
    airflow = str(Path(sys.executable).with_name("airflow"))
    log = Path(env["AIRFLOW_HOME"]) / f"{dag_id}-{name.replace(' ', '-')}.log"
    began, cpu_began = time.perf_counter(), _children_cpu()
    with log.open("w") as out:
        subprocess.run(
            [airflow, "dags", "test", dag_id], env=env, stdout=out, stderr=subprocess.STDOUT, check=False
        )
    seconds, cpu_seconds = time.perf_counter() - began, _children_cpu() - cpu_began
    run_id, state = _rows(
        urls["airflow"],
        "SELECT run_id, state FROM dag_run WHERE dag_id = :d ORDER BY id DESC LIMIT 1",
        d=dag_id,
    )[0]
    tasks = dict(
        _rows(
            urls["airflow"],
            "SELECT task_id, count(*) FROM task_instance WHERE dag_id = :d AND run_id = :r GROUP BY task_id",
            d=dag_id,
            r=run_id,
        )
    )
    statuses = _rows(
        urls["state"], "SELECT status FROM sync_runs WHERE run_id LIKE :p", p=f"{dag_id}/{run_id}/%"
    )
    calls = world.calls()
    return ShardsRun(
        name,
        dag_id,
        str(state),
        round(seconds, 1),
        round(cpu_seconds, 1),
        sum(tasks.values()),
        tasks,
        dict(Counter(status for (status,) in statuses)),
        calls.api,
        calls.writes,
    )


def _rows(url: str, statement: str, **params: Any) -> list[Any]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text(statement), params).all())
    finally:
        engine.dispose()


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else ""
