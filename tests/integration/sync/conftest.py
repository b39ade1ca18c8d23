"""A sync's resources on real parts for the sync core's module tests: demo Class data in SQLite, the state
database (SQLite, then PostgreSQL), the simulator over loopback HTTP and a stored grant."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from fixtures.sync_world import SyncWorld, authorise
from fixtures.xpm_auth import sim_config


@dataclass
class CoreWorld:
    """The world and a SyncEnv on it that keeps every request it sends to XPM."""

    world: SyncWorld
    env: Any
    sent: list[httpx.Request] = field(default_factory=list)
    runs: int = 0

    def run(self, upto: str = "finish", **params: Any) -> Any:
        """Run one sync's steps in this process, start … ``upto``; returns the report, or the ref."""
        from classxpm.sync import steps
        from classxpm.sync.run import RunRequest

        self.runs += 1
        request = RunRequest.from_params(params)
        ref = steps.start(self.env, "class_xpm_sync", f"manual__{self.runs}", request)[0]
        for name in ("extract", "validate", "plan", "upsert_funds"):
            getattr(steps, name)(self.env, ref)
            if name == upto:
                return ref
        return steps.finish(self.env, ref)

    def writes(self) -> list[httpx.Request]:
        """The write requests sent to XPM so far."""
        return [r for r in self.sent if r.method in {"POST", "PUT"} and ".api/" in r.url.path]


@pytest.fixture
def core(tmp_path, db_url, xpm_sim, fernet_key) -> Iterator[CoreWorld]:
    """Six demo funds in Class, an empty XPM tenant, an authorised business; the state on ``db_url``."""
    from classxpm.db import make_engine
    from classxpm.mapping import load_default_mappings
    from classxpm.source.demo_data import DEMO_BUSINESS_ID, write_demo_data
    from classxpm.state.crypto import load_cipher
    from classxpm.state.migrations import upgrade
    from classxpm.state.tokens import StoredTokenSource, TokenStore
    from classxpm.sync.run import CallCounter, SyncEnv
    from classxpm.xpm.governor import PROCESS_GOVERNORS
    from classxpm.xpm.session import XpmSession

    class_url = f"sqlite:///{tmp_path / 'class.db'}"
    write_demo_data(class_url, 6, 11)
    upgrade(db_url)
    xpm_sim.patch_config(minute_limit=100_000)
    PROCESS_GOVERNORS.forget()
    authorise(db_url, xpm_sim, DEMO_BUSINESS_ID)
    world = SyncWorld(class_url, db_url, xpm_sim, tmp_path / "reports", DEMO_BUSINESS_ID)
    world.clear_planted_faults()
    counter, cipher = CallCounter(), load_cipher()
    core = CoreWorld(world, None)
    config = sim_config(xpm_sim, minute_limit=100_000)
    http = httpx.Client(timeout=config.timeout_seconds, event_hooks={"request": [counter, core.sent.append]})
    session = XpmSession(config, http=http)
    source, state = make_engine(class_url), make_engine(db_url)

    def open_api(business_id: str) -> Any:
        return session.api(
            StoredTokenSource(TokenStore(state, cipher), business_id, session.identity, session.clock)
        )

    core.env = SyncEnv(source, state, cipher, load_default_mappings(), open_api, world.reports, calls=counter)
    try:
        yield core
    finally:
        session.close()
        source.dispose()
        state.dispose()
