"""A live Airflow API server with the project's plugin, the XPM simulator behind it, and headless Chromium.

The API server runs from a throw-away AIRFLOW_HOME with SimpleAuthManager users ``admin`` (Admin role) and
``viewer`` (Viewer role). It is started in a session of its own and stopped by its process id with SIGTERM
(uvicorn shuts down cleanly), its process group being killed only if it has not exited in time.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from classxpm.db import make_engine
from classxpm.demo import free_port
from classxpm.state.migrations import upgrade
from classxpm.state.tables import xpm_grants
from classxpm.sync.tables import fund_links
from classxpm.validation.report import run_folder, write_stopped
from classxpm.xpm_sim.config import DEFAULT_TENANT_ID, client_urls
from classxpm.xpm_sim.testing import SimulatorHandle, running_simulator
from fixtures.screenshots import SCREENSHOTS, Screenshots

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PASSWORDS = {"admin": "admin-password", "viewer": "viewer-password"}
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
START_TIMEOUT = 240.0  # a deadline for start-up on a loaded machine, not a speed check
BUSINESS = "biz-1"
LAUNCH = "Launch Xero Practice Manager"
BROWSER_WAIT_MS = 120_000
"""How long a condition may take to hold (a page loading, an element showing) before the test fails: a
deadline for a machine shared and loaded, never a speed check."""


@dataclass(frozen=True)
class Stack:
    """The running stack: Airflow's URL, the state database, the simulator, reports and the env used."""

    url: str
    state_url: str
    sim: SimulatorHandle
    reports: Path
    env: dict[str, str]

    def token(self, username: str) -> str:
        """An Airflow JWT for ``username`` from Airflow's own token endpoint."""
        body = {"username": username, "password": PASSWORDS[username]}
        answer = httpx.post(f"{self.url}/auth/token", json=body, timeout=10)
        answer.raise_for_status()
        return answer.json()["access_token"]


def _xpm_connection(sim: SimulatorHandle) -> str:
    extra = {**client_urls(sim.base_url), "attempts": 2}
    host = extra.pop("api_base_url")
    return json.dumps(
        {
            "conn_type": "xpm",
            "login": sim.client_id,
            "password": sim.client_secret,
            "host": host,
            "extra": extra,
        }
    )


def _environment(home: Path, sim: SimulatorHandle, state_file: Path, port: int) -> dict[str, str]:
    (home / "passwords.json").write_text(json.dumps(PASSWORDS))
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin,viewer:viewer",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW_CONN_XPM_DEFAULT": _xpm_connection(sim),
        "AIRFLOW_CONN_CLASSXPM_STATE": json.dumps({"conn_type": "sqlite", "host": str(state_file)}),
        "CLASSXPM_FERNET_KEY": Fernet.generate_key().decode(),
        "CLASSXPM_REPORTS_DIR": str(home / "reports"),
        "GX_ANALYTICS_ENABLED": "False",
    }


def _run(env: dict[str, str], *args: str) -> None:
    done = subprocess.run([str(BIN / "airflow"), *args], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"airflow {' '.join(args)}: {done.stderr[-2000:]}"


def _wait_until_healthy(server: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        assert server.poll() is None, f"the API server exited: {log.read_text()[-3000:]}"
        try:
            if httpx.get(f"{url}/api/v2/monitor/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    pytest.fail(f"the API server did not answer within {START_TIMEOUT:.0f} s: {log.read_text()[-3000:]}")


def _stop(server: subprocess.Popen) -> None:
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)


@pytest.fixture(scope="session")
def browser_sim() -> Iterator[SimulatorHandle]:
    """A simulator showing its consent page (no auto-approve), with a second XPM account for the demo user."""
    with running_simulator(auto_approve=False) as handle:
        yield handle


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, browser_sim: SimulatorHandle) -> Iterator[Stack]:
    """Migrate a fresh Airflow database, serialise the DAGs and start ``airflow api-server``."""
    home = tmp_path_factory.mktemp("airflow_home")
    port = free_port()
    state_file = home / "state.db"
    env = _environment(home, browser_sim, state_file, port)
    upgrade(f"sqlite:///{state_file}")
    _run(env, "db", "migrate")
    _run(env, "dags", "reserialize")
    log = home / "api-server.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [str(BIN / "airflow"), "api-server", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(server, url, log)
        yield Stack(url, f"sqlite:///{state_file}", browser_sim, home / "reports", env)
    finally:
        _stop(server)


@pytest.fixture(scope="module")
def chromium() -> Iterator:
    """Debian's Chromium driven by Playwright (no browser download), one per module.

    Not per session: Playwright's sync API keeps its event loop running in this thread while it is open, so
    every later test that calls ``asyncio.run`` (the Class watcher's) would fail with "cannot be called
    from a running event loop".
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def signed_in(stack: Stack, chromium):
    """Open browser contexts signed in to Airflow as a user (Airflow's JWT in its ``_token`` cookie)."""
    contexts = []

    def open_as(username: str):
        context = chromium.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(BROWSER_WAIT_MS)
        context.add_cookies([{"name": "_token", "value": stack.token(username), "url": stack.url}])
        contexts.append(context)
        return context

    yield open_as
    for context in contexts:
        context.close()


@pytest.fixture
def practice(stack, monkeypatch):
    """A practice in XPM with two accounts, a synced fund with a job, a quarantined fund, and a report."""
    monkeypatch.setenv("CLASSXPM_FERNET_KEY", stack.env["CLASSXPM_FERNET_KEY"])
    stack.sim.reset()
    stack.sim.seed(
        {
            "tenants": [{"name": "Second Practice"}],
            "users": [{"email": "demo@practice.example", "tenants": ["Second Practice"]}],
            "clients": [{"Name": "Smith Super Fund", "ExportCode": "SMITH01"}],
        }
    )
    client = stack.sim.state()["clients"]
    client_uuid = next(iter(client.values()))["UUID"] if isinstance(client, dict) else client[0]["UUID"]
    stack.sim.seed(
        {
            "jobs": [
                {
                    "client_uuid": client_uuid,
                    "ID": "J000042",
                    "Name": "2026 annual return",
                    "State": "In Progress",
                    "DueDate": "20260930",
                    "Manager": "Pat Manager",
                    "Tasks": [
                        {"Name": "Collect bank statements", "Completed": True},
                        {"Name": "Lodge SMSF return", "Completed": False, "DueDate": "20261031"},
                    ],
                }
            ]
        }
    )
    engine = make_engine(stack.state_url)
    with engine.begin() as conn:
        conn.execute(sa.delete(xpm_grants))  # each test starts not authorised, whatever ran before
        conn.execute(sa.delete(fund_links))
        conn.execute(sa.insert(fund_links), [_fund("f-smith", "SMITH01", "Smith Super Fund", client_uuid)])
        conn.execute(sa.insert(fund_links), [_fund("f-jones", "JONES01", "Jones Family Super Fund", None)])
    folder = run_folder(stack.reports, BUSINESS, "class_xpm_sync/manual_1")
    (folder / "data_docs").mkdir(parents=True, exist_ok=True)
    (folder / "data_docs" / "index.html").write_text("<html><body><p>TFN 123 456 782</p></body></html>")
    write_stopped(
        folder, run_id="class_xpm_sync/manual_1", business_id=BUSINESS, funds=2, members=3, problem=""
    )
    yield engine
    engine.dispose()


def _fund(fund_id: str, code: str, name: str, client_uuid: str | None) -> dict:
    return {
        "business_id": BUSINESS,
        "fund_id": fund_id,
        "tenant_id": DEFAULT_TENANT_ID,
        "scope_code": code,
        "fund_name": name,
        "client_uuid": client_uuid,
        "last_status": "synced" if client_uuid else "quarantined",
        "last_synced_at": datetime(2026, 5, 1, 2, 0, tzinfo=UTC),
        "last_error": None if client_uuid else "TFN fails its check digit",
    }


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Screenshots:
    """``shot(page, name)``: a screenshot kept under test-artifacts/screenshots, checked for TFNs."""
    return Screenshots(request.module.__name__.rpartition(".")[2], request.node.name)


def pytest_terminal_summary(terminalreporter) -> None:
    if SCREENSHOTS.exists():
        terminalreporter.write_line(f"browser screenshots: {SCREENSHOTS}")


def open_from_menu(page, stack: Stack, entry: str):
    """Open Airflow's home page, then Plugins → Class XPM → ``entry``; return the entry's frame."""
    page.goto(f"{stack.url}/")
    page.get_by_role("button", name="Plugins").click()
    page.get_by_role("menuitem", name="Class XPM").click()
    page.get_by_role("menuitem", name=entry).click()
    return page.frame_locator(f"iframe[title='{entry}']")
