"""Many businesses on the cluster: N Class businesses of M funds through ``classxpm.cluster``, two workers.

The cluster is the one ``make cluster`` starts (CeleryExecutor, scheduler, dag-processor, triggerer,
api-server, two Celery workers, the XPM simulator at 60 calls a minute a tenant), under a name of its own,
in a temporary run folder, on Redis db 13. Its Class database is filled with N businesses of M funds (the
demo's planted TFN/ABN faults blanked) before it starts; every business but the demo one (which ``up``
authorises) is then authorised to a simulator tenant of its own through the code flow, as
``classxpm auth login`` does, from a process with the cluster's own connections, several at once.

Each run is triggered through the REST API as a practice would and waited on by its state: a first
``class_xpm_sync``, the same again with no change, and ``class_xpm_incremental`` with no change. Rows:
Airflow's run start to end and trigger to end, task instances by task and by worker, sync runs by status
(state database), XPM calls and writes (the simulator's call log), CPU seconds of each component (its
session's processes, from /proc), and the scheduler's loop time over the run (its DEBUG log line).
Everything started is stopped and dropped on the way out, on error or Ctrl-C too.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import string
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from bench.instant import _clear_faults
from bench.loop_times import NAMESPACE_LEVELS, LoopTimes, loop_durations
from bench.world import ROOT, CallLog
from classxpm.cluster import (
    ClusterSpec,
    cluster_environment,
    create_databases,
    down,
    read_settings,
    session_processes,
    up,
)
from classxpm.cluster_client import ClusterClient

REDIS_DB = 13
RUN_BOUND = 6 * 3600.0
"""Upper bound on one run's wait: a first sync of 3,000 businesses at a low time scale takes hours."""
AUTHORISE_THREADS = 8
POLL_SECONDS = 2.0
"""How often a run's state is asked for: rarely enough not to load the api-server being measured."""
RUNS = (
    ("first sync", "class_xpm_sync"),
    ("no change", "class_xpm_sync"),
    ("no change", "class_xpm_incremental"),
)


@dataclass(frozen=True)
class ClusterRun:
    """One DAG run on the cluster."""

    run: str
    dag_id: str
    run_id: str
    state: str
    seconds: float
    """Airflow's own start_date to end_date of the run."""
    trigger_seconds: float
    """From the REST call that triggered it to Airflow's end_date."""
    task_instances: int
    tasks: dict[str, int]
    hosts: dict[str, int]
    sync_runs: dict[str, int]
    calls: int
    writes: int
    rejected: int
    cpu_seconds: dict[str, float]
    """CPU seconds of each component's processes (its session, task processes included) over the run."""
    loop: dict[str, Any]
    other_runs: int
    """Runs of any DAG, other than this one, that overlapped it (none expected)."""


@dataclass(frozen=True)
class ClusterShardsResult:
    """The bench's rows and the cluster they ran on."""

    businesses: int
    funds: int
    shard_businesses: int
    shard_threads: int
    workers: int
    time_scale: float
    setup_seconds: dict[str, float]
    authorise_threads: int
    authorise_seconds_a_business: float
    """The code flows' seconds over the businesses they authorised, ``AUTHORISE_THREADS`` at once."""
    load_before: str
    load_after: str
    runs: list[ClusterRun]
    measured_at: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON form for results.json."""
        return asdict(self)


def run_cluster_shards(businesses: int, funds: int, seed: int, time_scale: float) -> ClusterShardsResult:
    """Start a bench cluster of N businesses of M funds, run the three runs, and stop it; returns the rows."""
    load_before = _load()
    with tempfile.TemporaryDirectory(prefix="classxpm-cluster-shards-") as scratch, _signals_interrupt():
        name = "classxpm_clusterbench_" + "".join(secrets.choice(string.ascii_lowercase) for _ in range(6))
        spec = ClusterSpec(
            name,
            Path(scratch) / "cluster",
            REDIS_DB,
            funds=funds,
            time_scale=time_scale,
            minute_limit=60,
            settings=NAMESPACE_LEVELS,
        )
        try:
            setup, state = _set_up(spec, businesses, funds, seed)
            with ClusterClient.signed_in(spec, state, RUN_BOUND) as client:
                runs = [_measured(client, run, dag_id) for run, dag_id in RUNS]
        finally:
            down(spec, drop=True, remove_files=True, echo=_quiet)
    settings = read_settings()
    return ClusterShardsResult(
        businesses,
        funds,
        int(settings["CLASSXPM_SHARD_BUSINESSES"]),
        int(settings["CLASSXPM_SHARD_THREADS"]),
        spec.workers,
        time_scale,
        setup,
        AUTHORISE_THREADS,
        round(setup["authorise_code_flows"] / max(businesses - 1, 1), 3),
        load_before,
        _load(),
        runs,
        datetime.now(UTC).isoformat(timespec="seconds"),
    )


def _set_up(
    spec: ClusterSpec, businesses: int, funds: int, seed: int
) -> tuple[dict[str, float], dict[str, Any]]:
    """Class data, cluster start, then every business authorised; returns the seconds of each, the state."""
    from classxpm.source.demo_data import demo_businesses, write_demo_data

    seconds, began = {}, time.perf_counter()
    create_databases(spec)
    write_demo_data(spec.database_url("class"), funds, seed, businesses=businesses)
    _clear_faults(spec.database_url("class"))
    seconds["class_data"], began = time.perf_counter() - began, time.perf_counter()
    state = up(spec, echo=_quiet)
    seconds["cluster_start"], began = time.perf_counter() - began, time.perf_counter()
    owners = [row["business_id"] for row in demo_businesses(businesses)][1:]
    flows = _authorise_all(spec, state, owners)
    seconds["authorise"] = time.perf_counter() - began
    seconds["authorise_code_flows"] = flows
    rounded = {part: round(value, 1) for part, value in seconds.items()}
    print(f"cluster-shards: {businesses} businesses of {funds} funds set up: {rounded} s", flush=True)
    return rounded, state


def _authorise_all(spec: ClusterSpec, state: dict[str, Any], owners: list[str]) -> float:
    """One simulator tenant per business, then each authorised to it from a process with the cluster's env.

    Returns the seconds the code flows took, the process's start and the seeding left out.
    """
    import httpx

    if not owners:
        return 0.0
    # Each practice signs in as its own Xero user: a grant of its own, connecting its one tenant.
    triples = [(business, f"Practice {business}", f"owner@{business}.example") for business in owners]
    seed = {
        "tenants": [{"name": tenant} for _, tenant, _ in triples],
        "users": [{"email": email, "tenants": [tenant]} for _, tenant, email in triples],
    }
    with httpx.Client(base_url=state["sim_url"], timeout=600) as sim:
        sim.post("/_sim/seed", json=seed).raise_for_status()
    plan = spec.run_dir / "authorise.json"
    plan.write_text(json.dumps(triples))
    env = cluster_environment(spec, state)
    command = [sys.executable, "-m", "bench.cluster_shards", "--plan", str(plan)]
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode:
        raise click.ClickException(f"authorising the businesses failed:\n{done.stderr[-3000:]}")
    return float(json.loads(done.stdout.splitlines()[-1])["seconds"])


def _measured(client: ClusterClient, name: str, dag_id: str) -> ClusterRun:
    """Trigger one run, wait for it, and read what it did."""
    client.sim.delete("/_sim/calls").raise_for_status()
    cpu_before, triggered = _cpu(client), datetime.now(UTC)
    run = client.run(dag_id, {}, every=POLL_SECONDS)
    cpu = {part: round(seconds - cpu_before.get(part, 0.0), 1) for part, seconds in _cpu(client).items()}
    start, end = _stamp(run["start_date"]), _stamp(run["end_date"])
    instances = client.task_instances_of(dag_id, run["dag_run_id"])
    calls = CallLog(client.sim.get("/_sim/calls").raise_for_status().json()["entries"])
    measured = ClusterRun(
        name,
        dag_id,
        run["dag_run_id"],
        run["state"],
        round((end - start).total_seconds(), 1),
        round((end - triggered).total_seconds(), 1),
        len(instances),
        dict(Counter(ti["task_id"] for ti in instances)),
        dict(Counter(ti["hostname"] or "none" for ti in instances)),
        _sync_runs(client, dag_id, run["dag_run_id"]),
        calls.api,
        calls.writes,
        calls.rejected,
        cpu,
        _loop_times(client, start, end).to_dict(),
        _other_runs(client, run["dag_run_id"], start, end),
    )
    print(f"cluster-shards: {measured}", flush=True)
    return measured


def _sync_runs(client: ClusterClient, dag_id: str, run_id: str) -> dict[str, int]:
    statement = "SELECT status, count(*) FROM sync_runs WHERE run_id LIKE :p GROUP BY status ORDER BY status"
    return dict(client.rows("state", statement, p=f"{dag_id}/{run_id}/%"))


def _other_runs(client: ClusterClient, run_id: str, start: datetime, end: datetime) -> int:
    statement = (
        "SELECT count(*) FROM dag_run WHERE run_id != :r AND start_date <= :end "
        "AND (end_date IS NULL OR end_date >= :start)"
    )
    return int(client.rows("airflow", statement, r=run_id, start=start, end=end)[0][0])


def _loop_times(client: ClusterClient, start: datetime, end: datetime) -> LoopTimes:
    """The scheduler's loop durations logged from the run's start to its end."""
    log = Path(client.process("scheduler")["log"])
    with log.open(errors="replace") as lines:
        return LoopTimes.of(loop_durations(lines, start, end))


def _cpu(client: ClusterClient) -> dict[str, float]:
    """CPU seconds so far of each component: its session's live processes and the children they reaped."""
    tick = os.sysconf("SC_CLK_TCK")
    processes = json.loads(client.spec.state_file.read_text())["processes"]
    return {name: _session_ticks(record["pid"]) / tick for name, record in processes.items()}


def _session_ticks(sid: int) -> int:
    total = 0
    for pid in session_processes(sid):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        total += sum(int(field) for field in fields[11:15])  # utime, stime, cutime, cstime
    return total


def _stamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else ""


def _quiet(_: str) -> None:
    return None


@contextmanager
def _signals_interrupt() -> Iterator[None]:
    """SIGINT and SIGTERM raise KeyboardInterrupt in the block, so a stopped bench still stops its cluster.

    SIGINT too: a bench started in the background of a script inherits it ignored.
    """

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = {signum: signal.signal(signum, interrupt) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@click.command()
@click.option("--plan", type=click.Path(exists=True, path_type=Path), required=True)
@click.option("--threads", default=AUTHORISE_THREADS, show_default=True)
def authorise_command(plan: Path, threads: int) -> None:
    """Authorise each (business, tenant, user) of ``plan`` with the connections of this process's env.

    The XPM session and the token store come from the ``xpm_default`` and ``classxpm_state`` connections
    and ``CLASSXPM_FERNET_KEY`` as ``classxpm auth login`` builds them, one of each shared by every
    authorisation; the grant is stored as it stores it.
    """
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from bench.world import authorise_in
    from classxpm.airflow.connections import STATE_CONN_ID
    from classxpm.airflow.resources import engine, token_store, xpm_session

    triples = json.loads(plan.read_text())
    with (
        engine(STATE_CONN_ID) as state,
        xpm_session() as session,
        httpx.Client(follow_redirects=False, timeout=60) as browser,
    ):
        store, began = token_store(state), time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            done = list(pool.map(lambda triple: authorise_in(session, browser, store, *triple), triples))
        seconds = time.perf_counter() - began
    click.echo(json.dumps({"authorised": len(done), "seconds": round(seconds, 2)}))


if __name__ == "__main__":
    authorise_command()
