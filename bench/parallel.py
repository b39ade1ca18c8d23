"""Scenario 7: one tenant's call budget shared by parallel upsert tasks, and what sharing it costs a call.

Parallel row: 2 "workers" x 4 mapped upsert tasks, each batch in a process of its own (as Celery runs them),
write one run's plan to one tenant at production limits (60 a minute, 5 at once) under ``--time-scale F``.
Every process spends the tenant's budget on the state database (PostgreSQL). The floor is the calls XPM
counted during the upsert ÷ 60; the upsert's wall time runs from the moment the 8 processes, started and set
up (as warm Celery workers are), are told to go, to the last one's end.

Overhead rows: the state-database transactions and statements one call adds (take a slot, read XPM's
answer, give the slot back), and their time, on SQLite and PostgreSQL, without any HTTP. On PostgreSQL every
statement runs in autocommit, a transaction of its own.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.throughput import child_result, start_child
from bench.walltime import api_span_minutes, minutes, within_floor
from bench.world import World, one_ref, scratch_databases, world

WORKERS, TASKS_PER_WORKER = 2, 4
MINUTE_LIMIT, CONCURRENT = 60, 5


@dataclass
class ParallelRow:
    """Parallel upsert batches on one tenant, in simulated minutes."""

    funds: int
    time_scale: float
    processes: int
    calls: int
    writes: int
    rejected: int
    floor_minutes: float
    upsert_minutes: float
    api_minutes: float
    real_seconds: float
    counts: dict[str, int]
    load: tuple[float, float]
    """The machine's 1-minute load average when the processes were told to go and when the last ended."""

    @property
    def ratio(self) -> float:
        """The upsert's simulated time over the floor."""
        return self.upsert_minutes / self.floor_minutes if self.floor_minutes else 0.0

    @property
    def met(self) -> bool:
        """At most 1.10 times the floor and no 429 at all."""
        return within_floor(self.ratio, self.rejected)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with the ratio."""
        return {**asdict(self), "ratio": round(self.ratio, 3), "met": self.met}


def run_parallel(funds: int, seed: int, time_scale: float, reports: Path) -> ParallelRow:
    """A first sync of ``funds`` funds whose upsert runs as 8 parallel batch processes on one tenant."""
    from classxpm.sync import steps

    limits = {"minute_limit": MINUTE_LIMIT, "day_limit": 5_000, "concurrent": CONCURRENT}
    with world(funds, seed=seed, time_scale=time_scale, reports=reports, **limits) as bench:
        ref = _planned(bench)
        bench.clear_calls()
        load_at_go = os.getloadavg()[0]
        (began, real_began), _ = _upsert_in_parallel(bench, ref, WORKERS * TASKS_PER_WORKER)
        ended, real_seconds = bench.sim_now(), time.perf_counter() - real_began
        load_at_end = os.getloadavg()[0]
        log = bench.calls()
        with bench.env(shared_budget=True) as env:
            report = steps.finish(env, ref)
    return ParallelRow(
        funds=funds,
        time_scale=time_scale,
        processes=WORKERS * TASKS_PER_WORKER,
        calls=log.spent,
        writes=log.writes,
        rejected=log.rejected,
        floor_minutes=round(log.spent / MINUTE_LIMIT, 2),
        upsert_minutes=round(minutes(began, ended), 2),
        api_minutes=api_span_minutes(log),
        real_seconds=round(real_seconds, 1),
        counts={key: n for key, n in report.counts.items() if n},
        load=(round(load_at_go, 2), round(load_at_end, 2)),
    )


def _planned(bench: World) -> Any:
    """Start, extract, validate and plan a full run (each step on fresh resources); returns its ref."""
    from classxpm.sync import steps
    from classxpm.sync.run import RunRequest

    with bench.env(shared_budget=True) as env:
        ref = one_ref(steps.start(env, "bench_parallel", uuid.uuid4().hex, RunRequest()))
    for step in (steps.extract, steps.validate, steps.plan):
        with bench.env(shared_budget=True) as env:
            step(env, ref)
    return ref


def _upsert_in_parallel(
    bench: World, ref: Any, batches: int
) -> tuple[tuple[datetime, float], list[dict[str, Any]]]:
    """Run the batches in processes of their own, started together once all are set up (warm workers)."""
    spec = {
        "class_url": bench.class_url,
        "state_url": bench.state_url,
        "sim": bench.sim.base_url,
        "fernet_key": bench.fernet_key,
        "reports": str(bench.reports),
        "time_scale": bench.time_scale,
        "minute_limit": bench.minute_limit,
        "shared_budget": True,
        "ref": ref.to_xcom(),
        "step": "upsert",
        "of": batches,
    }
    started = [start_child({**spec, "batch": batch, "wait_for_go": True}) for batch in range(batches)]
    for batch, process in enumerate(started):
        if process.stdout is None or process.stdout.readline().strip() != "ready":
            raise RuntimeError(f"upsert[{batch}] did not start: {child_result(process, 'upsert')}")
    began = bench.sim_now(), time.perf_counter()
    for process in started:
        if process.stdin is not None:
            process.stdin.write("go\n")
            process.stdin.flush()
    results = [child_result(process, f"upsert[{batch}]") for batch, process in enumerate(started)]
    return began, results


@dataclass
class OverheadRow:
    """What the shared budget adds to one call, measured without HTTP."""

    database: str
    calls: int
    transactions_per_call: float
    statements_per_call: float
    ms_per_call: float


def run_overhead(calls: int) -> list[OverheadRow]:
    """Time ``calls`` slot-and-answer cycles on a fresh SQLite file and a fresh PostgreSQL database."""
    with (
        tempfile.TemporaryDirectory(prefix="classxpm-budget-") as folder,
        scratch_databases("budget") as urls,
    ):
        sqlite_url = f"sqlite:///{Path(folder) / 'state.db'}"
        return [_overhead("SQLite", sqlite_url, calls), _overhead("PostgreSQL", urls["budget"], calls)]


def _overhead(database: str, url: str, calls: int) -> OverheadRow:
    from classxpm.db import make_engine
    from classxpm.state.migrations import upgrade
    from classxpm.state.rate_budget import SharedGovernors

    upgrade(url)
    engine = make_engine(url)
    counted = {"statements": 0, "transactions": 0}

    def statement(conn: sa.Connection, *_: Any) -> None:
        counted["statements"] += 1
        if conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
            counted["transactions"] += 1  # a statement in autocommit is a transaction of its own

    sa.event.listen(engine, "before_cursor_execute", statement)
    sa.event.listen(engine, "commit", lambda *_: counted.update(transactions=counted["transactions"] + 1))
    governor = SharedGovernors(engine).for_tenant("bench-tenant", minute_limit=10 * calls)
    answer = {"X-DayLimit-Remaining": "4000"}
    try:
        began = time.perf_counter()
        for _ in range(calls):
            with governor.slot():
                governor.observe(answer)
        seconds = time.perf_counter() - began
    finally:
        engine.dispose()
    return OverheadRow(
        database,
        calls,
        round(counted["transactions"] / calls, 2),
        round(counted["statements"] / calls, 2),
        round(1000 * seconds / calls, 2),
    )
