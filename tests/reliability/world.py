"""The reliability tier's world: Class demo data, PostgreSQL state, the simulator and the sync's own steps.

Steps run directly on a ``SyncEnv`` whose retries and rate governor wait on injected time, so faults that
make the client back off cost no wall-clock seconds. Every wait is recorded and printed with the figures.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from fixtures.sync_world import authorise
from fixtures.xpm_auth import FakeTime, sim_config

_RUNS = itertools.count(1)


@dataclass
class World:
    """Handles on one reliability scenario: the databases, the simulator and the injected time."""

    class_url: str
    state_url: str
    sim: Any
    reports: Path
    business_id: str
    waits: list[float] = field(default_factory=list)

    @contextmanager
    def env(self, transport: httpx.BaseTransport | None = None, **xpm: Any) -> Iterator[Any]:
        """A SyncEnv on this world whose waits (retry backoff, rate windows) are recorded, not slept.

        ``transport`` stands between the client and the simulator (a hostile proxy), when given.
        """
        from classxpm.db import make_engine
        from classxpm.mapping import load_default_mappings
        from classxpm.state.crypto import load_cipher
        from classxpm.state.tokens import StoredTokenSource, TokenStore
        from classxpm.sync.run import CallCounter, SyncEnv
        from classxpm.xpm.governor import GovernorRegistry
        from classxpm.xpm.session import XpmSession

        fake = FakeTime(self.waits)
        counter, cipher = CallCounter(), load_cipher()
        config = sim_config(self.sim, minute_limit=100_000, max_in_flight=5, **xpm)
        hooks = {"request": [counter]}
        http = httpx.Client(timeout=config.timeout_seconds, event_hooks=hooks, transport=transport)
        governors = GovernorRegistry(clock=fake.clock, sleep=fake.sleep)
        session = XpmSession(config, sleep=fake.sleep, http=http, governors=governors)
        source, state = make_engine(self.class_url), make_engine(self.state_url)

        def open_api(business_id: str) -> Any:
            store = TokenStore(state, cipher)
            return session.api(StoredTokenSource(store, business_id, session.identity, session.clock))

        try:
            mappings = load_default_mappings()
            yield SyncEnv(source, state, cipher, mappings, open_api, self.reports, calls=counter)
        finally:
            session.close()
            source.dispose()
            state.dispose()

    def sync(
        self,
        dag_id: str = "class_xpm_sync",
        *,
        upto: str = "finish",
        transport: Any = None,
        xpm: dict[str, Any] | None = None,
        **params: Any,
    ) -> Any:
        """Run the steps of one sync (start … ``upto``) in this process; returns the report or the ref.

        ``xpm`` changes the client's config (``XpmConfig`` fields) for this run.
        """
        from classxpm.sync import steps
        from classxpm.sync.run import RunRequest

        request = RunRequest.from_params({"mode": "full", **params})
        with self.env(transport, **(xpm or {})) as env:
            opened = steps.start(env, dag_id, f"manual__{next(_RUNS)}", request)
            ref = opened[0] if isinstance(opened, list) else opened
            for name in ("extract", "validate", "plan", "upsert_funds", "finish"):
                if name == "finish" and upto == "finish":
                    return steps.finish(env, ref)
                getattr(steps, name)(env, ref)
                if name == upto:
                    return ref
        raise ValueError(upto)

    def clients(self) -> list[dict[str, Any]]:
        """Every client XPM (the simulator) holds, TFNs in clear as XPM holds them."""
        return self.sim.state()["clients"]

    def query(self, statement: str, url: str | None = None, **params: Any) -> list[Any]:
        """Rows of a statement on the state database (or ``url``)."""
        engine = sa.create_engine(url or self.state_url)
        with engine.connect() as conn:
            rows = conn.execute(sa.text(statement), params).all()
        engine.dispose()
        return rows

    def source(self, statement: str, **params: Any) -> None:
        """Change the Class database."""
        engine = sa.create_engine(self.class_url)
        with engine.begin() as conn:
            conn.execute(sa.text(statement), params)
        engine.dispose()

    def desired(self) -> dict[str, Any]:
        """Every Class fund mapped as XPM should hold it, by scope code (None for those that cannot be)."""
        from classxpm.mapping import load_default_mappings
        from classxpm.source.extract import FundFilter, iter_fund_chunks
        from classxpm.state.crypto import load_cipher
        from classxpm.sync.desired import map_fund

        mappings, key = load_default_mappings(), load_cipher().hash_key
        engine = sa.create_engine(self.class_url)
        found = {
            fund["scope_code"]: map_fund(fund, chunk.members.get(fund["fund_id"], []), mappings, key).desired
            for chunk in iter_fund_chunks(engine, FundFilter(self.business_id))
            for fund in chunk.funds
        }
        engine.dispose()
        return found


def world_of(tmp_path: Path, pg_url: str, sim: Any, funds: int, seed: int = 11) -> World:
    """Write ``funds`` demo funds to Class, migrate the state DB and store a grant for the demo business."""
    from classxpm.source.demo_data import DEMO_BUSINESS_ID, write_demo_data
    from classxpm.state.migrations import upgrade

    class_url = f"sqlite:///{tmp_path / 'class.db'}"
    write_demo_data(class_url, funds, seed)
    upgrade(pg_url)
    sim.patch_config(minute_limit=100_000, day_limit=100_000)
    authorise(pg_url, sim, DEMO_BUSINESS_ID)
    sim.admin.delete("/_sim/calls")
    return World(class_url, pg_url, sim, tmp_path / "reports", DEMO_BUSINESS_ID)


def duplicates(clients: list[dict[str, Any]]) -> dict[str, int]:
    """ExportCodes held by more than one live client."""
    live = Counter(c["ExportCode"] for c in clients if c["IsDeleted"] == "No" and c["IsArchived"] == "No")
    return {code: n for code, n in live.items() if n > 1}


def call_figures(sim: Any) -> dict[str, int]:
    """The simulator's calls by status: how many faults it injected and how many calls it answered."""
    return sim.calls()["by_status"]


def invalid_codes(world: World) -> set[str]:
    """Scope codes whose TFN or ABN fails its check digit: the funds the gate must hold back."""
    from classxpm.identifiers import is_valid_abn, is_valid_tfn

    rows = world.query("SELECT scope_code, tfn, abn FROM funds", url=world.class_url)
    return {
        code for code, tfn, abn in rows if (tfn and not is_valid_tfn(tfn)) or (abn and not is_valid_abn(abn))
    }


@dataclass(frozen=True)
class Holdings:
    """How what XPM holds compares with what Class says it should."""

    clients: int
    expected: int
    duplicates: dict[str, int]
    missing: set[str]
    unexpected: set[str]
    wrong_fields: dict[str, list[str]]
    wrong_contacts: set[str]
    orphan_contacts: int


def holdings(world: World, valid: dict[str, Any]) -> Holdings:
    """Compare the simulator's clients and contacts with the ``valid`` desired funds (by scope code)."""
    from classxpm.identifiers import reveal

    state = world.sim.state()
    live = [c for c in state["clients"] if c["IsDeleted"] == "No" and c["IsArchived"] == "No"]
    names = {c["UUID"]: c["Name"] for c in state["contacts"]}
    by_code = {c["ExportCode"]: c for c in live}
    wrong_fields, wrong_contacts = {}, set()
    for code, desired in valid.items():
        held = by_code.get(code)
        if held is None:
            continue
        # The simulator holds TFNs in clear, so the comparison reveals the mapped Tfn.
        bad = [f for f, v in desired.fields.items() if v is not None and held.get(f, "") != reveal(v).strip()]
        if bad:
            wrong_fields[code] = bad
        wanted = sorted(c.fields["Name"] for c in desired.contacts)
        if sorted(names[link["UUID"]] for link in held["_contacts"]) != wanted:
            wrong_contacts.add(code)
    linked = sum(len(c["_contacts"]) for c in live)
    return Holdings(
        clients=len(live),
        expected=len(valid),
        duplicates=duplicates(live),
        missing=set(valid) - set(by_code),
        unexpected=set(by_code) - set(valid),
        wrong_fields=wrong_fields,
        wrong_contacts=wrong_contacts,
        orphan_contacts=len(state["contacts"]) - linked,
    )


def outcomes_of(world: World, run_id: str) -> Counter:
    """How many outcome rows each fund has in one run."""
    rows = world.query("SELECT fund_id FROM sync_outcomes WHERE run_id = :r", r=run_id)
    return Counter(fund_id for (fund_id,) in rows)


def source_fund_ids(world: World) -> set[str]:
    """Every fund id in Class."""
    return {fund_id for (fund_id,) in world.query("SELECT fund_id FROM funds", url=world.class_url)}


CHILD = Path(__file__).with_name("task_child.py")


def child_env(world: World) -> dict[str, str]:
    """The environment of a task child: this process's (the Fernet key) plus the three connections."""
    import os

    from fixtures.sync_world import connection_env

    conns = connection_env(world.class_url, world.state_url, world.sim, minute_limit=100_000)
    return {**os.environ, **conns, "CLASSXPM_REPORTS_DIR": str(world.reports)}


def start_child(world: World, *args: str) -> Any:
    """Start ``task_child.py`` with ``args`` in its own process."""
    import subprocess
    import sys

    command = [sys.executable, str(CHILD), *args]
    return subprocess.Popen(command, env=child_env(world), stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_until(process: Any, ready: Any, timeout: float = 60.0) -> None:
    """Poll ``ready()`` until true; fails if the child ends or the time runs out first."""
    import time

    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None:
            raise AssertionError(f"the child ended before the kill point: {process.stderr.read().decode()}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("the kill point was never reached")
        time.sleep(0.005)


def poll_until(ready: Any, what: str, timeout: float = 60.0) -> None:
    """Poll ``ready()`` until true; fails naming ``what`` when the time runs out first."""
    import time

    deadline = time.monotonic() + timeout
    while not ready():
        assert time.monotonic() < deadline, f"{what} never happened within {timeout:g} s"
        time.sleep(0.01)


def kill_when(process: Any, ready: Any, timeout: float = 60.0) -> None:
    """SIGKILL ``process`` as soon as ``ready()`` is true (see ``wait_until``)."""
    import os
    import signal

    wait_until(process, ready, timeout)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    process.stdout.close()
    process.stderr.close()


def finish_child(process: Any, timeout: float = 120.0) -> str:
    """Wait for a child to end; returns its output, failing with its stderr when it failed."""
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err.decode()[-3000:]
    return out.decode()


def writes_landed(sim: Any, endpoint: str = "POST client.api/add") -> int:
    """How many ``endpoint`` calls the simulator answered with 200 (the write was applied)."""
    entries = sim.calls()["entries"]
    return sum(1 for e in entries if e["endpoint"] == endpoint and e["status"] == 200)


def waiting_on(world: World, table: str) -> int:
    """How many lock requests on ``table`` are waiting (some transaction is blocked on it)."""
    rows = world.query(
        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON l.relation = c.oid "
        "WHERE c.relname = :t AND NOT l.granted",
        t=table,
    )
    return rows[0][0]


def holding(world: World, table: str, mode: str) -> int:
    """How many other sessions hold a granted ``mode`` lock on ``table``."""
    rows = world.query(
        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON l.relation = c.oid "
        "WHERE c.relname = :t AND l.granted AND l.mode = :m AND l.pid <> pg_backend_pid()",
        t=table,
        m=mode,
    )
    return rows[0][0]


@contextmanager
def table_locked(world: World, table: str) -> Iterator[None]:
    """Hold a SHARE lock on ``table``: others may read it, any write to it waits until the block ends."""
    engine = sa.create_engine(world.state_url)
    with engine.connect() as conn:
        conn.execute(sa.text(f"LOCK TABLE {table} IN SHARE MODE"))
        try:
            yield
        finally:
            conn.rollback()
    engine.dispose()


def clean_source(world: World) -> None:
    """Blank the demo's check-digit-invalid TFNs and ABNs, so every fund is one the sync sends."""
    from classxpm.identifiers import is_valid_abn, is_valid_tfn

    for column, valid in (("tfn", is_valid_tfn), ("abn", is_valid_abn)):
        rows = world.query(f"SELECT fund_id, {column} FROM funds", url=world.class_url)
        for fund_id, value in rows:
            if value and not valid(value):
                world.source(f"UPDATE funds SET {column} = NULL WHERE fund_id = :f", f=fund_id)


class HostileProxy(httpx.BaseTransport):
    """Forwards to the simulator, except that the chosen calls get a forged answer and never arrive."""

    def __init__(self, forged: dict[tuple[str, int], httpx.Response]) -> None:
        self.forged, self.seen = forged, Counter()
        self.real = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Answer the n-th call of ``(method path-ending)`` with its forged response."""
        key = f"{request.method} {request.url.path.rsplit('/3.1/', 1)[-1]}"
        self.seen[key] += 1
        forged = self.forged.get((key, self.seen[key]))
        return self.real.handle_request(request) if forged is None else forged
