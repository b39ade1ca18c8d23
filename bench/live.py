"""Airflow for real: api-server, scheduler, dag-processor and triggerer, LocalExecutor, own metadata DB.

For the instant-sync test and benchmark: nothing is triggered by hand, so whatever runs was started by the
scheduler (on the watcher's asset events, or a cron). Only ``class_xpm_incremental`` is in the DAG folder.
Each process starts in a session of its own and is stopped by its process group id, so the LocalExecutor's
workers go with it.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.world import free_port

ROOT = Path(__file__).resolve().parents[1]
INCREMENTAL = "class_xpm_incremental"
PROCESSES = ("scheduler", "dag-processor", "triggerer")


@dataclass
class LiveAirflow:
    """Handles on the running Airflow: its home, its metadata database and its processes."""

    home: Path
    metadata_url: str
    processes: dict[str, subprocess.Popen]

    def rows(self, statement: str, **params: Any) -> list[Any]:
        """Rows of a query on the metadata database."""
        engine = sa.create_engine(self.metadata_url)
        try:
            with engine.connect() as conn:
                return list(conn.execute(sa.text(statement), params).all())
        finally:
            engine.dispose()

    def runs(self) -> list[Any]:
        """The incremental DAG's runs: run id, run type, state, queued/start/end times, in creation order."""
        return self.rows(
            "SELECT run_id, run_type, state, queued_at, start_date, end_date FROM dag_run "
            "WHERE dag_id = :d ORDER BY id",
            d=INCREMENTAL,
        )

    def settled(self) -> bool:
        """Whether every run so far has finished (the start-up run of the latest cron tick included)."""
        return all(run.state in {"success", "failed"} for run in self.runs())

    def succeeded(self, run_type: str) -> list[Any]:
        """The finished, successful runs of ``run_type``."""
        return [run for run in self.runs() if run.run_type == run_type and run.state == "success"]

    def watching(self) -> bool:
        """Whether the watcher has read Class once (its baseline fingerprint is stored)."""
        return bool(self.rows("SELECT 1 FROM asset_state_store WHERE key = 'fingerprint'"))

    def check_alive(self) -> None:
        """Raise when one of the processes stopped (with the tail of its log)."""
        for name, process in self.processes.items():
            if process.poll() is not None:
                log = (self.home / f"{name}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"airflow {name} stopped with {process.returncode}:\n{log}")

    def wait_for(self, condition: Callable[[], Any], bound: float, what: str) -> Any:
        """Poll ``condition`` until it is truthy (returned) or ``bound`` seconds pass (raises)."""
        deadline = time.monotonic() + bound
        while time.monotonic() < deadline:
            self.check_alive()
            if found := condition():
                return found
            time.sleep(0.2)
        raise TimeoutError(f"not within {bound:.0f} s: {what}")


def airflow_env(home: Path, metadata_url: str, extra: dict[str, str]) -> dict[str, str]:
    """The environment of every Airflow process: own home and DB, LocalExecutor, only the incremental DAG."""
    dags = home / "dags"
    dags.mkdir(parents=True, exist_ok=True)
    link = dags / f"{INCREMENTAL}.py"
    if not link.exists():
        link.symlink_to(ROOT / "dags" / f"{INCREMENTAL}.py")
    port = free_port()
    return {
        **os.environ,
        **extra,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(16),
        "GX_ANALYTICS_ENABLED": "False",
    }


@contextmanager
def live_airflow(home: Path, metadata_url: str, extra_env: dict[str, str]) -> Iterator[LiveAirflow]:
    """Migrate a fresh metadata DB, then run api-server, scheduler, dag-processor and triggerer."""
    env = airflow_env(home, metadata_url, extra_env)
    airflow = str(Path(sys.executable).with_name("airflow"))
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=600)
    subprocess.run(
        [airflow, "pools", "set", "xpm_api", "5", "Calls to XPM"], env=env, check=True, capture_output=True
    )
    with ExitStack() as stack:
        port = env["AIRFLOW__API__PORT"]
        api = stack.enter_context(
            _process([airflow, "api-server", "--port", port], env, home / "api-server.log")
        )
        live = LiveAirflow(home, metadata_url, {"api-server": api})
        # Workers report to the api-server: a task started before it answers fails its first try.
        live.wait_for(
            lambda: _answers(f"http://127.0.0.1:{port}/api/v2/monitor/health"), 600, "the api-server"
        )
        for name in PROCESSES:
            live.processes[name] = stack.enter_context(_process([airflow, name], env, home / f"{name}.log"))
        yield live


def _answers(url: str) -> bool:
    import httpx

    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.TransportError:
        return False


@contextmanager
def _process(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    with log.open("ab") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield process
    finally:
        _stop(process)


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM the process's own group (it and its workers), SIGKILL the group if it lingers."""
    group = process.pid  # start_new_session: the process leads a group of the same id
    for sig, grace in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(group, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            continue
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(1)
