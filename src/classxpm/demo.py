"""``make demo``: the whole job on embedded defaults, end to end, on this machine only.

A demo Class database (SQLite), or with ``--source class_api`` the Class API simulator and a
``classxpm class-auth login``; the XPM simulator in the background, a headless authorisation through
``classxpm auth login``, ``airflow dags test class_xpm_sync``, then the run summary. It stops what it
started. Everything lands under ``$AIRFLOW_HOME/demo`` so it can be looked at afterwards.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import click
import httpx

SIM_CLIENT_ID, SIM_CLIENT_SECRET = "classxpm-demo", "classxpm-demo-secret"
TIME_SCALE = 30.0
"""The simulator runs 30 times faster than the clock on the wall: production limits, a demo-sized wait."""


@dataclass(frozen=True)
class DemoPaths:
    """Where the demo keeps its databases, the simulator's state, reports and logs."""

    root: Path

    @property
    def class_db(self) -> str:
        """The demo Class database URL."""
        return f"sqlite:///{self.root / 'class.db'}"

    @property
    def state_db(self) -> str:
        """The pipeline's state database URL."""
        return f"sqlite:///{self.root / 'state.db'}"

    @property
    def sim_state(self) -> Path:
        """The simulator's saved state (what XPM holds after the demo)."""
        return self.root / "xpm-sim.db"

    @property
    def reports(self) -> Path:
        """The run reports folder."""
        return self.root / "reports"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def xpm_connection(base_url: str, time_scale: float = TIME_SCALE, **limits: int | None) -> str:
    """The ``xpm_default`` connection (as JSON) for the simulator at ``base_url`` running ``time_scale`` fast.

    The client's rate window and token refresh margin follow the simulator's clock; ``limits`` (connection
    extras such as ``minute_limit`` and ``day_limit``) are set when given.
    """
    from classxpm.xpm_sim.config import client_urls

    urls = client_urls(base_url)
    api = {
        "conn_type": "xpm",
        "login": SIM_CLIENT_ID,
        "password": SIM_CLIENT_SECRET,
        "host": urls.pop("api_base_url"),
        "extra": {
            **urls,
            "redirect_uri": "http://127.0.0.1:8766/callback",
            "rate_window_seconds": 60 / time_scale,
            "refresh_margin_seconds": 300 / time_scale,
            **{name: value for name, value in limits.items() if value},
        },
    }
    return json.dumps(api)


def _environment(paths: DemoPaths, base_url: str) -> dict[str, str]:
    from classxpm.airflow.connections import database_connection

    return {
        **os.environ,
        "AIRFLOW_CONN_CLASS_DB": database_connection(paths.class_db),
        "AIRFLOW_CONN_CLASSXPM_STATE": database_connection(paths.state_db),
        "AIRFLOW_CONN_XPM_DEFAULT": xpm_connection(base_url),
        "CLASSXPM_REPORTS_DIR": str(paths.reports),
    }


def _classxpm(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("classxpm")), *args]


@contextmanager
def simulator(paths: DemoPaths) -> Iterator[str]:
    """Run ``classxpm xpm-sim serve`` in the background until the block ends; yields its base URL."""
    port = free_port()
    command = _classxpm(
        "xpm-sim",
        "serve",
        "--port",
        str(port),
        "--auto-approve",
        "--state",
        str(paths.sim_state),
        "--time-scale",
        str(TIME_SCALE),
    )
    with _background(command, paths.root / "xpm-sim.log", f"http://127.0.0.1:{port}", "/_sim/health") as url:
        yield url


@contextmanager
def class_simulator(paths: DemoPaths, funds: int) -> Iterator[str]:
    """Run ``classxpm class-sim serve`` holding ``funds`` demo funds until the block ends; yields its URL."""
    port = free_port()
    command = _classxpm(
        "class-sim", "serve", "--port", str(port), "--funds", str(funds), "--set", f"time_scale={TIME_SCALE}"
    )
    with _background(
        command, paths.root / "class-sim.log", f"http://127.0.0.1:{port}", "/_sim/config"
    ) as url:
        yield url


@contextmanager
def _background(command: list[str], log_path: Path, base_url: str, health: str) -> Iterator[str]:
    log = log_path.open("w")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        _wait_until_up(base_url + health, process, command[1])
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def _wait_until_up(url: str, process: subprocess.Popen, name: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise click.ClickException(f"the {name} simulator stopped at start-up: see its log")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise click.ClickException(f"the {name} simulator did not answer within 20 s")


def _class_api_environment(env: dict[str, str], class_url: str) -> dict[str, str]:
    """The environment of a demo that reads Class through its API (``class_api``, the password flow)."""
    from classxpm.class_sim.config import (
        DEFAULT_BUSINESS_CODE,
        DEFAULT_CLIENT_ID,
        DEFAULT_CLIENT_SECRET,
        DEFAULT_PASSWORD,
        DEFAULT_USERNAME,
    )

    connection = {
        "conn_type": "http",
        "login": DEFAULT_CLIENT_ID,
        "password": DEFAULT_CLIENT_SECRET,
        "host": f"{class_url}/api/1.0",
        "extra": {
            "identity_url": class_url,
            "flow": "password",
            "username": DEFAULT_USERNAME,
            "user_password": DEFAULT_PASSWORD,
            "business_code": DEFAULT_BUSINESS_CODE,
            "rate_window_seconds": 60 / TIME_SCALE,
        },
    }
    env = {**env, "CLASSXPM_SOURCE": "class_api", "AIRFLOW_CONN_CLASS_API": json.dumps(connection)}
    env.pop("AIRFLOW_CONN_CLASS_DB")
    return env


def class_login(business_id: str, env: dict[str, str]) -> str:
    """``classxpm class-auth login`` (the password flow: no browser); returns what it printed first."""
    command = _classxpm("class-auth", "login", "--business", business_id)
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)  # noqa: S603
    if done.returncode:
        raise click.ClickException(f"class-auth login failed: {(done.stdout + done.stderr).strip()}")
    return done.stdout.strip().splitlines()[0]


def authorise(business_id: str, env: dict[str, str]) -> str:
    """Authorise headlessly: ``classxpm auth login --no-browser``, its URL followed as a browser would."""
    command = _classxpm("auth", "login", "--business", business_id, "--no-browser", "--port", "0")
    process = subprocess.Popen(  # noqa: S603 - our own console script, arguments from this module
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    first = process.stdout.readline() if process.stdout else ""
    match = re.search(r"https?://\S+", first)
    if match is None:
        process.kill()
        raise click.ClickException(f"auth login printed no URL: {first.strip()}")
    httpx.get(match.group(0), follow_redirects=True, timeout=30)
    rest, _ = process.communicate(timeout=60)
    if process.returncode:
        raise click.ClickException(f"auth login failed: {rest.strip()}")
    return rest.strip().splitlines()[-1]


def run_dag(dag_id: str, env: dict[str, str], log_path: Path) -> int:
    """Run ``airflow dags test`` for ``dag_id``, its output to ``log_path``; returns the exit code."""
    airflow = str(Path(sys.executable).with_name("airflow"))
    with log_path.open("w") as log:
        command = [airflow, "dags", "test", dag_id]
        return subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT, check=False).returncode  # noqa: S603


def latest_sync_report(reports: Path) -> dict | None:
    """The newest sync report under ``reports``, or None."""
    found = sorted(reports.glob("*/*/sync-report.json"), key=lambda p: p.stat().st_mtime)
    return json.loads(found[-1].read_text()) if found else None


@click.command()
@click.option("--funds", default=200, show_default=True, help="How many demo funds to generate.")
@click.option("--keep", is_flag=True, help="Keep the previous demo's databases instead of starting afresh.")
@click.option(
    "--source",
    type=click.Choice(["class_db", "class_api"]),
    default="class_db",
    show_default=True,
    help="Read Class from its database, or through the Class API (the Class simulator).",
)
def main(funds: int, keep: bool, source: str) -> None:
    """Run the demo end to end and print the run summary."""
    from classxpm.source.demo_data import DEMO_BUSINESS_ID, write_demo_data
    from classxpm.state.migrations import upgrade

    paths = DemoPaths(Path(os.environ.get("AIRFLOW_HOME", ".airflow")).resolve() / "demo")
    if paths.root.exists() and not keep:
        shutil.rmtree(paths.root)
    paths.root.mkdir(parents=True, exist_ok=True)
    upgrade(paths.state_db)
    with ExitStack() as stack:
        base_url = stack.enter_context(simulator(paths))
        env = _environment(paths, base_url)
        if source == "class_api":
            class_url = stack.enter_context(class_simulator(paths, funds))
            env = _class_api_environment(env, class_url)
            click.echo(f"1. Class API simulator on {class_url}: {funds} demo funds")
            click.echo(f"   {class_login(DEMO_BUSINESS_ID, env)}")
        else:
            summary = write_demo_data(paths.class_db, funds, replace=True)
            click.echo(
                f"1. Demo Class database: {summary.funds} funds, {summary.members} members ({paths.class_db})"
            )
        click.echo(f"2. XPM simulator on {base_url} (state saved in {paths.sim_state})")
        click.echo(f"3. {authorise(DEMO_BUSINESS_ID, env)}")
        code = run_dag("class_xpm_sync", env, paths.root / "class_xpm_sync.log")
        calls = httpx.get(f"{base_url}/_sim/calls", timeout=10).json()
        clients = sum(1 for _ in httpx.get(f"{base_url}/_sim/state", timeout=30).json().get("clients", []))
    _print_summary(paths, code, calls, clients)
    sys.exit(code)


def _print_validation(paths: DemoPaths) -> None:
    from classxpm.validation.report import latest_report

    stored = latest_report(paths.reports)
    if stored is None:
        return
    quarantined = stored.document.get("quarantined", [])
    blocking = [t for t in stored.document.get("failed_rules", []) if t["severity"] == "blocking"]
    reasons = ", ".join(f"{t['funds']} {t['message']}" for t in blocking) or "none"
    click.echo(f"   Validation report: {stored.summary}")
    click.echo(f"   {len(quarantined)} funds quarantined: {reasons}")


def _print_summary(paths: DemoPaths, code: int, calls: dict, clients: int) -> None:
    report = latest_sync_report(paths.reports)
    status = "succeeded" if code == 0 else f"failed (exit {code}; log {paths.root / 'class_xpm_sync.log'})"
    click.echo(f"4. airflow dags test class_xpm_sync {status}")
    if report:
        counts = ", ".join(f"{n} {k.replace('_', '-')}" for k, n in report["counts"].items() if n)
        click.echo(f"   Run summary: {counts or 'nothing to do'}; {report['api_calls']} API calls")
        for problem in report["problems"][:10]:
            click.echo(f"   - {problem['scope_code']}: {problem['status']}: {problem['detail']}")
        click.echo(f"   Report: {report['report_path']}")
    _print_validation(paths)
    click.echo(f"   The simulator answered {calls.get('total', 0)} calls and now holds {clients} clients.")
    click.echo(f"5. Look at them: classxpm xpm-sim serve --state {paths.sim_state} --port 8765")
    click.echo("   then open http://127.0.0.1:8765/_sim/state (every client, contact and job as JSON).")


if __name__ == "__main__":
    main()
