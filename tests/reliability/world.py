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
    def env(self, **xpm: Any) -> Iterator[Any]:
        """A SyncEnv on this world whose waits (retry backoff, rate windows) are recorded, not slept."""
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
        http = httpx.Client(timeout=config.timeout_seconds, event_hooks={"request": [counter]})
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

    def sync(self, dag_id: str = "class_xpm_sync", *, upto: str = "finish", **params: Any) -> Any:
        """Run the steps of one sync (start … ``upto``) in this process; returns the report or the ref."""
        from classxpm.sync import steps
        from classxpm.sync.run import RunRequest

        request = RunRequest.from_params({"mode": "full", **params})
        with self.env() as env:
            ref = steps.start(env, dag_id, f"manual__{next(_RUNS)}", request)
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
    live = Counter(c["ExportCode"] for c in clients if not c.get("IsDeleted") and not c.get("IsArchived"))
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
    duplicates: dict[str, int]
    missing: set[str]
    unexpected: set[str]
    wrong_fields: dict[str, list[str]]
    wrong_contacts: set[str]
    orphan_contacts: int


def holdings(world: World, valid: dict[str, Any]) -> Holdings:
    """Compare the simulator's clients and contacts with the ``valid`` desired funds (by scope code)."""
    state = world.sim.state()
    live = [c for c in state["clients"] if c["IsDeleted"] == "No" and c["IsArchived"] == "No"]
    names = {c["UUID"]: c["Name"] for c in state["contacts"]}
    by_code = {c["ExportCode"]: c for c in live}
    wrong_fields, wrong_contacts = {}, set()
    for code, desired in valid.items():
        held = by_code.get(code)
        if held is None:
            continue
        bad = [f for f, v in desired.fields.items() if v is not None and held.get(f, "") != v.strip()]
        if bad:
            wrong_fields[code] = bad
        wanted = sorted(c.fields["Name"] for c in desired.contacts)
        if sorted(names[link["UUID"]] for link in held["_contacts"]) != wanted:
            wrong_contacts.add(code)
    linked = sum(len(c["_contacts"]) for c in live)
    return Holdings(
        clients=len(live),
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
