"""A benchmark world: scratch PostgreSQL databases, the simulator in its own process, a stored grant.

The sync runs step by step on a ``SyncEnv`` built here, each step on fresh resources (a fresh HTTP
session and rate governor), as each Airflow task does in its own process. Calls are counted by the
simulator's call log, never by the client.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import sqlalchemy as sa

from classxpm.demo import free_port
from classxpm.xpm_sim.config import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID
from classxpm.xpm_sim.testing import SimulatorHandle

PG_ADMIN_URL = os.environ.get("CLASSXPM_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
WRITE_METHODS = {"POST", "PUT", "DELETE"}
ROOT = Path(__file__).resolve().parents[1]
STEPS = ("start", "extract", "validate", "plan", "upsert", "finish")


@contextmanager
def scratch_databases(*names: str) -> Iterator[dict[str, str]]:
    """Create one empty PostgreSQL database per name for the block, dropped afterwards; yields URLs."""
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    tag = uuid.uuid4().hex[:8]
    made = {name: f"classxpm_bench_{name}_{tag}" for name in names}
    try:
        with admin.connect() as conn:
            for database in made.values():
                conn.execute(sa.text(f'CREATE DATABASE "{database}"'))
        base = sa.make_url(PG_ADMIN_URL)
        yield {name: base.set(database=db).render_as_string(hide_password=False) for name, db in made.items()}
    finally:
        with admin.connect() as conn:
            for database in made.values():
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


def sim_command(
    port: int, time_scale: float, minute_limit: int, day_limit: int, concurrent: int
) -> list[str]:
    """The ``classxpm xpm-sim serve`` command line the benchmark starts.

    The app-wide limit (10,000 a minute across tenants) rises with the tenant's: one tenant runs here, and
    a benchmark that lifts the tenant's minute limit means to lift them both.
    """
    return [
        str(Path(sys.executable).with_name("classxpm")),
        "xpm-sim",
        "serve",
        "--port",
        str(port),
        "--auto-approve",
        "--time-scale",
        str(time_scale),
        "--minute-limit",
        str(minute_limit),
        "--day-limit",
        str(day_limit),
        "--concurrent-limit",
        str(concurrent),
        "--app-minute-limit",
        str(max(10_000, minute_limit)),
    ]


@contextmanager
def simulator(
    time_scale: float = 1.0, minute_limit: int = 60, day_limit: int = 5_000, concurrent: int = 5
) -> Iterator[SimulatorHandle]:
    """Run the simulator in a process of its own (so it does not share the GIL with the sync)."""
    port = free_port()
    command = sim_command(port, time_scale, minute_limit, day_limit, concurrent)
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base_url = f"http://127.0.0.1:{port}"
    admin = httpx.Client(base_url=base_url, timeout=120.0)
    try:
        _wait_until_up(admin, process)
        yield SimulatorHandle(base_url, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID, admin)
    finally:
        admin.close()
        process.terminate()
        process.wait(timeout=20)


def _wait_until_up(admin: httpx.Client, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"the simulator stopped: {process.stderr.read().decode() if process.stderr else ''}"
            )
        try:
            if admin.get("/_sim/health").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("the simulator did not answer within 20 s")


def xpm_config(
    sim: SimulatorHandle, time_scale: float = 1.0, minute_limit: int = 60, max_in_flight: int = 5
) -> Any:
    """The client's config for ``sim``; its rate window and refresh margin follow the simulator's clock."""
    from classxpm.xpm.config import RetrySettings, XpmConfig
    from classxpm.xpm_sim.config import client_urls

    return XpmConfig(
        client_id=sim.client_id,
        client_secret=sim.client_secret,
        **client_urls(sim.base_url),
        redirect_uri="http://127.0.0.1:8766/callback",
        retry=RetrySettings(attempts=4),
        minute_limit=minute_limit,
        max_in_flight=max_in_flight,
        rate_window_seconds=60 / time_scale,
        refresh_margin_seconds=300 / time_scale,
    )


def authorise(
    config: Any, state: sa.Engine, cipher: Any, business_id: str, tenant: str | None = None
) -> None:
    """Store a grant for ``business_id`` through the simulator's auto-approved code flow.

    ``tenant`` (an id or name) is the XPM tenant the grant connects to; default the user's first.
    """
    from classxpm.state.tokens import TokenStore
    from classxpm.xpm.session import XpmSession

    with XpmSession(config) as session, httpx.Client(follow_redirects=False, timeout=10) as browser:
        authorise_in(session, browser, TokenStore(state, cipher), business_id, tenant)


def authorise_in(
    session: Any,
    browser: httpx.Client,
    store: Any,
    business_id: str,
    tenant: str | None = None,
    login_hint: str | None = None,
) -> None:
    """``authorise`` on an open XPM session, "browser" and token store, which many authorisations share.

    ``login_hint`` is the simulator user who signs in at Xero's page; default its demo user.
    """
    from classxpm.state.linking import complete_login
    from classxpm.xpm.auth import authorization_request, code_from_callback

    request = authorization_request(session.config)
    chosen = {key: value for key, value in (("tenant", tenant), ("login_hint", login_hint)) if value}
    answer = browser.get(request.url + (f"&{urlencode(chosen)}" if chosen else ""))
    tokens = session.identity.exchange_code(request, code_from_callback(request, answer.headers["location"]))
    complete_login(
        session,
        store,
        business_id,
        tokens,
        lambda found: next((c for c in found if tenant in (None, c.tenant_id, c.tenant_name)), found[0]),
    )


@dataclass
class CallLog:
    """The simulator's call log since it was last cleared."""

    entries: list[dict[str, Any]]

    def _api(self) -> list[dict[str, Any]]:
        return [e for e in self.entries if ".api/" in e["endpoint"]]

    @property
    def by_endpoint(self) -> dict[str, int]:
        """Calls per endpoint key (``"POST client.api/add"``), identity and connection calls included."""
        return dict(Counter(e["endpoint"] for e in self.entries))

    @property
    def api(self) -> int:
        """Calls to the XPM API (identity and connection calls left out), refused ones included."""
        return len(self._api())

    @property
    def writes(self) -> int:
        """POST, PUT and DELETE calls on the XPM API."""
        return sum(1 for e in self._api() if e["method"] in WRITE_METHODS)

    @property
    def reads(self) -> int:
        """GET calls on the XPM API."""
        return self.api - self.writes

    @property
    def rejected(self) -> int:
        """Calls XPM answered with 429 (a limit was hit)."""
        return sum(1 for e in self.entries if e["status"] == 429)

    @property
    def spent(self) -> int:
        """API calls XPM counts against its limits: neither refused (429) nor unauthorised (401)."""
        return sum(1 for e in self._api() if e["status"] not in (401, 429))


@dataclass
class World:
    """One benchmark world: Class and state databases, the simulator and an authorised business."""

    class_url: str
    state_url: str
    sim: SimulatorHandle
    reports: Path
    time_scale: float = 1.0
    minute_limit: int = 60
    day_limit: int = 5_000
    fernet_key: str = ""

    def __post_init__(self) -> None:
        from cryptography.fernet import Fernet

        from classxpm.state.crypto import TokenCipher

        self.fernet_key = self.fernet_key or Fernet.generate_key().decode()
        self.cipher = TokenCipher(self.fernet_key)
        self.config = xpm_config(self.sim, self.time_scale, self.minute_limit)

    def authorise(self, business_id: str) -> None:
        """Store a grant for the business (as `classxpm auth login` would)."""
        from classxpm.db import make_engine

        engine = make_engine(self.state_url)
        try:
            authorise(self.config, engine, self.cipher, business_id)
        finally:
            engine.dispose()

    @contextmanager
    def env(self, shared_budget: bool = False) -> Iterator[Any]:
        """A fresh ``SyncEnv`` (as one Airflow task builds from its connections), closed afterwards.

        ``shared_budget`` spends the tenant's call budget on the state database, shared with every other
        process (as the composition root wires it for tasks); otherwise the process keeps its own.
        """
        from classxpm.db import make_engine
        from classxpm.mapping import load_default_mappings
        from classxpm.state.rate_budget import SharedGovernors
        from classxpm.state.tokens import StoredTokenSource, TokenStore
        from classxpm.sync.run import SyncEnv
        from classxpm.xpm.governor import GovernorRegistry
        from classxpm.xpm.session import XpmSession

        source, state = make_engine(self.class_url), make_engine(self.state_url)
        governors = SharedGovernors(state) if shared_budget else GovernorRegistry()
        session = XpmSession(self.config, governors=governors)

        def open_api(business_id: str) -> Any:
            store = TokenStore(state, self.cipher)
            return session.api(StoredTokenSource(store, business_id, session.identity, session.clock))

        try:
            yield SyncEnv(
                source,
                state,
                self.cipher,
                load_default_mappings(),
                open_api,
                self.reports,
                day_limit=self.day_limit,
                calls_per_minute=self.minute_limit,
            )
        finally:
            session.close()
            source.dispose()
            state.dispose()

    def sync(self, mode: str = "full", **params: Any) -> SyncRun:
        """Run one sync, every step on fresh resources; returns its report and each step's seconds."""
        from classxpm.sync import steps
        from classxpm.sync.run import RunRef, RunRequest

        request = RunRequest.from_params({"mode": mode, **params})
        seconds: dict[str, float] = {}
        ref: RunRef | None = None
        for name in STEPS:
            began = time.perf_counter()
            with self.env() as env:
                if name == "start":
                    ref = one_ref(steps.start(env, f"bench_{mode}", uuid.uuid4().hex, request))
                elif name == "upsert":
                    steps.upsert_funds(env, ref)
                else:
                    result = getattr(steps, name)(env, ref)
            seconds[name] = time.perf_counter() - began
        return SyncRun(result, seconds)

    def calls(self) -> CallLog:
        """The simulator's call log since the last ``clear_calls``."""
        return CallLog(self.sim.calls()["entries"])

    def clear_calls(self) -> None:
        """Empty the simulator's call log."""
        self.sim.admin.delete("/_sim/calls").raise_for_status()

    def sim_now(self) -> datetime:
        """The simulator's current time."""
        return datetime.fromisoformat(self.sim.admin.get("/_sim/clock").json()["now"])

    def source(self, statement: str, **params: Any) -> None:
        """Run a statement on the Class database (a change made in Class)."""
        engine = sa.create_engine(self.class_url)
        try:
            with engine.begin() as conn:
                conn.execute(sa.text(statement), params)
        finally:
            engine.dispose()


def one_ref(opened: Any) -> Any:
    """The run of the one business the benchmark authorises (``start`` may open one per business)."""
    return opened[0] if isinstance(opened, list) else opened


@dataclass
class SyncRun:
    """One finished sync: its report and the seconds each step took."""

    report: Any
    seconds: dict[str, float]

    @property
    def counts(self) -> dict[str, int]:
        """Funds by outcome."""
        return {key: n for key, n in self.report.counts.items() if n}


@contextmanager
def world(
    funds: int,
    *,
    seed: int = 20260630,
    time_scale: float = 1.0,
    minute_limit: int = 100_000,
    day_limit: int = 1_000_000,
    concurrent: int = 5,
    reports: Path,
) -> Iterator[World]:
    """A ready world: ``funds`` demo funds in Class, an empty XPM tenant, an authorised business."""
    from classxpm.source.demo_data import DEMO_BUSINESS_ID, write_demo_data
    from classxpm.state.migrations import upgrade

    with (
        scratch_databases("class", "state") as urls,
        simulator(time_scale, minute_limit, day_limit, concurrent) as sim,
    ):
        write_demo_data(urls["class"], funds, seed)
        upgrade(urls["state"])
        made = World(urls["class"], urls["state"], sim, reports, time_scale, minute_limit, day_limit)
        made.authorise(DEMO_BUSINESS_ID)
        made.clear_calls()
        yield made
