"""Instant sync, measured with Airflow running for real: Class commit to XPM write, runs, watcher cost.

api-server, scheduler, dag-processor and triggerer run as ``bench.live`` starts them (LocalExecutor, a
PostgreSQL metadata DB of their own); the Class and state databases are scratch PostgreSQL databases and
the simulator runs in its own process at production limits (60 calls a minute, 5 at once). Nothing is
triggered by hand: every run is the scheduler's, on the watcher's asset events.

Latency is from the commit of the change in Class to the moment the simulator holds the new value,
polled every 0.2 s. The watcher's queries are counted by PostgreSQL (``pg_stat_database``: transactions
on the Class database) over an idle window, with no sync running.
"""

from __future__ import annotations

import json
import math
import statistics
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.live import LiveAirflow, live_airflow
from bench.world import World, scratch_databases, simulator

BUSINESS_NAME = "Instant Bench Practice"
SYNC_BOUND = 1800.0
IDLE_WINDOW = 60.0


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def connections(world: World) -> dict[str, str]:
    """AIRFLOW_CONN_* values for the bench world (the XPM connection at production limits)."""
    from classxpm.airflow.connections import database_connection
    from classxpm.xpm_sim.config import client_urls

    urls = client_urls(world.sim.base_url)
    xpm = {
        "conn_type": "xpm",
        "login": world.sim.client_id,
        "password": world.sim.client_secret,
        "host": urls.pop("api_base_url"),
        "extra": {**urls, "redirect_uri": world.config.redirect_uri, "attempts": 4},
    }
    return {
        "AIRFLOW_CONN_CLASS_DB": database_connection(world.class_url),
        "AIRFLOW_CONN_CLASSXPM_STATE": database_connection(world.state_url),
        "AIRFLOW_CONN_XPM_DEFAULT": json.dumps(xpm),
        "CLASSXPM_FERNET_KEY": world.fernet_key,
        "CLASSXPM_REPORTS_DIR": str(world.reports),
        "CLASSXPM_INSTANT_SYNC": "on",
    }


class InstantBench:
    """One world with Airflow running: makes Class changes and times them to XPM."""

    def __init__(self, world: World, airflow: LiveAirflow, business_id: str) -> None:
        self.world, self.airflow, self.business_id = world, airflow, business_id
        self.source = sa.create_engine(world.class_url)

    def clients(self) -> dict[str, dict[str, Any]]:
        state = self.world.sim.admin.get("/_sim/state").json()
        return {client["ExportCode"]: client for client in state["clients"]}

    def _timed(self, change: str, params: dict[str, Any], reached: Any) -> float:
        with self.source.begin() as conn:
            conn.execute(sa.text(change), params)
        committed = time.monotonic()
        self.airflow.wait_for(lambda: reached(self.clients()), SYNC_BOUND, "the change in XPM")
        return round(time.monotonic() - committed, 1)

    def change_fund(self, code: str, n: int) -> float:
        phone = f"02 9{n:03d} 0000"
        return self._timed(
            "UPDATE funds SET phone = :p, updated_at = :t WHERE scope_code = :c",
            {"p": phone, "t": _now(), "c": code},
            lambda clients: clients.get(code, {}).get("Phone") == phone,
        )

    def new_fund(self, code: str) -> float:
        return self._timed(
            "INSERT INTO funds (fund_id, business_id, scope_code, scope_description, created_at, updated_at) "
            "VALUES (:c, :b, :c, 'Instant Super Fund', :t, :t)",
            {"c": code, "b": self.business_id, "t": _now()},
            lambda clients: code in clients,
        )

    def bulk_import(self, count: int) -> dict[str, Any]:
        """``count`` new funds, one transaction each; seconds from the last commit to the last write, runs."""
        runs_before = len(self.airflow.runs())
        codes = [f"BULK{n:05d}" for n in range(count)]
        began = time.monotonic()
        for code in codes:
            with self.source.begin() as conn:
                conn.execute(
                    sa.text(
                        "INSERT INTO funds (fund_id, business_id, scope_code, scope_description, created_at, "
                        "updated_at) VALUES (:c, :b, :c, 'Bulk Super Fund', :t, :t)"
                    ),
                    {"c": code, "b": self.business_id, "t": _now()},
                )
        committed = time.monotonic()
        self.airflow.wait_for(
            lambda: set(codes) <= set(self.clients()), SYNC_BOUND * 2, "the bulk import in XPM"
        )
        done = time.monotonic()
        self.airflow.wait_for(self.airflow.settled, SYNC_BOUND, "the bulk import's runs to finish")
        runs = self.airflow.runs()[runs_before:]
        return {
            "funds": count,
            "import_seconds": round(committed - began, 1),
            "to_last_write_seconds": round(done - committed, 1),
            "from_first_commit_seconds": round(done - began, 1),
            "runs": len(runs),
            "run_types": sorted({run.run_type for run in runs}),
        }

    def idle_queries_per_minute(self, window: float = IDLE_WINDOW) -> float:
        """Transactions on the Class database per minute while nothing changes and no run is active."""
        database = sa.make_url(self.world.class_url).database
        statement = sa.text(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = :d"
        ).bindparams(d=database)
        with self.source.connect() as conn:
            conn.execute(sa.text("SELECT pg_stat_clear_snapshot()"))
            before = conn.execute(statement).scalar_one()
        time.sleep(window)
        with self.source.connect() as conn:
            conn.execute(sa.text("SELECT pg_stat_clear_snapshot()"))
            after = conn.execute(statement).scalar_one()
        # The two reads above are transactions too (one each, plus the snapshot clear's).
        return round((after - before - 2) * 60 / window, 1)


def run_instant(changes: int, bulk: int, funds: int, seed: int) -> dict[str, Any]:
    """Start Airflow on a fresh world; the idle watcher, a new fund, a bulk import, then edits."""
    from classxpm.source.demo_data import DEMO_BUSINESS_ID, write_demo_data
    from classxpm.state.migrations import upgrade

    with (
        tempfile.TemporaryDirectory(prefix="classxpm-instant-") as scratch,
        scratch_databases("class", "state", "airflow") as urls,
        simulator() as sim,
    ):
        write_demo_data(urls["class"], funds, seed)
        _clear_faults(urls["class"])
        upgrade(urls["state"])
        world = World(urls["class"], urls["state"], sim, Path(scratch) / "reports")
        world.authorise(DEMO_BUSINESS_ID)
        with live_airflow(Path(scratch) / "airflow", urls["airflow"], connections(world)) as airflow:
            bench = InstantBench(world, airflow, DEMO_BUSINESS_ID)
            airflow.wait_for(airflow.watching, SYNC_BOUND, "the watcher's first read of Class")
            airflow.wait_for(lambda: airflow.runs() and airflow.settled(), SYNC_BOUND, "the start-up run")
            queries = _shown("idle watcher transactions a minute", bench.idle_queries_per_minute())
            new_funds = [_shown("new fund", bench.new_fund("NEWFUND"))]
            airflow.wait_for(airflow.settled, SYNC_BOUND, "the runs to finish")
            bulk_row = bench.bulk_import(bulk)
            print(f"instant: bulk import {bulk_row}", flush=True)
            codes = sorted(c for c in bench.clients() if not c.startswith(("BULK", "NEWFUND")))
            latencies = [_shown("edit", bench.change_fund(codes[n % len(codes)], n)) for n in range(changes)]
            runs = airflow.runs()
    return {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "changes": changes,
        "latencies": latencies,
        "p50": round(statistics.median(latencies), 1),
        "p95": round(_percentile(latencies, 95), 1),
        "new_funds": new_funds,
        "bulk": bulk_row,
        "idle_queries_per_minute": queries,
        "run_types": dict(sorted(Counter(run.run_type for run in runs).items())),
        "met": _percentile(latencies, 95) <= 60,
    }


def _shown(what: str, value: float) -> float:
    """Print one measurement as it comes (a long benchmark's progress), and pass it on."""
    print(f"instant: {what}: {value}", flush=True)
    return value


def _percentile(values: list[float], pct: int) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def _clear_faults(class_url: str) -> None:
    """Blank the demo's deliberately invalid TFNs and ABNs: every change timed here is one XPM accepts."""
    from classxpm.identifiers import is_valid_abn, is_valid_tfn

    engine = sa.create_engine(class_url)
    with engine.begin() as conn:
        for fund_id, tfn, abn in conn.execute(sa.text("SELECT fund_id, tfn, abn FROM funds")).all():
            if (tfn and not is_valid_tfn(tfn)) or (abn and not is_valid_abn(abn)):
                conn.execute(
                    sa.text("UPDATE funds SET tfn = NULL, abn = NULL WHERE fund_id = :f"), {"f": fund_id}
                )
    engine.dispose()
