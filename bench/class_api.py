"""Scenario 8: the Class API source's calls per fund and wall time at Class's limit, for either call plan.

The Class simulator enforces Class's limit (500 calls a minute per OAuth client) under ``--time-scale F``,
and the client's window follows it (60/F real seconds), so simulated minutes pass F times faster. The
floor is the calls Class answered ÷ 500: no client of one OAuth registration can be faster.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

CLASS_LIMIT = 500


@dataclass
class ClassApiRow:
    """One read of every fund of a business through the Class API, in one call plan."""

    plan: str
    funds: int
    members: int
    calls: int
    rejected: int
    real_seconds: float
    time_scale: float

    @property
    def calls_per_fund(self) -> float:
        """Class calls per fund read (the fund list counted)."""
        return self.calls / self.funds if self.funds else 0.0

    @property
    def minutes(self) -> float:
        """Simulated minutes the read took."""
        return self.real_seconds * self.time_scale / 60

    @property
    def floor_minutes(self) -> float:
        """The calls ÷ Class's 500 a minute."""
        return self.calls / CLASS_LIMIT

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with the derived figures."""
        return {
            **asdict(self),
            "calls_per_fund": round(self.calls_per_fund, 3),
            "minutes": round(self.minutes, 2),
            "floor_minutes": round(self.floor_minutes, 2),
            "ratio": round(self.minutes / self.floor_minutes, 3) if self.floor_minutes else 0.0,
        }


def run_class_api(funds: int, seed: int, time_scale: float) -> list[ClassApiRow]:
    """Read ``funds`` demo funds through the Class simulator with the export plan, then the detail plan."""
    from cryptography.fernet import Fernet

    from classxpm.class_sim.testing import running_class_simulator
    from classxpm.db import make_engine
    from classxpm.mapping.api_source import load_api_source_mapping
    from classxpm.source.class_api.config import ClassApiConfig
    from classxpm.source.class_api.source import ClassApiSource
    from classxpm.state.class_grants import ClassGrantStore
    from classxpm.state.crypto import TokenCipher
    from classxpm.state.migrations import upgrade

    rows = []
    cipher = TokenCipher(Fernet.generate_key().decode())
    with (
        tempfile.TemporaryDirectory() as folder,
        running_class_simulator(funds, seed, minute_limit=CLASS_LIMIT, time_scale=time_scale) as sim,
    ):
        url = f"sqlite:///{Path(folder) / 'state.db'}"
        upgrade(url)
        state = make_engine(url)
        for plan in ("export", "detail"):
            extras = {
                "identity_url": sim.base_url,
                "flow": "password",
                "username": sim.config.username,
                "user_password": sim.config.password,
                "business_code": sim.business_code,
                "plan": plan,
                "concurrency": 4,
                "rate_window_seconds": 60 / time_scale,
            }
            config = ClassApiConfig.from_settings(
                sim.config.client_id, sim.config.client_secret, f"{sim.base_url}/api/1.0", extras
            )
            source = ClassApiSource(config, load_api_source_mapping())
            ClassGrantStore(state, cipher).save("bench", "password", source.identity.password_grant())
            time.sleep(60 / time_scale)  # start in a fresh window of Class's, as a nightly run would
            sim.clear_calls()
            began = time.monotonic()
            read = source.read(state, cipher, "bench")
            seconds = time.monotonic() - began
            source.close()
            statuses = sim.statuses()
            members = sum(len(group) for chunk in read.chunks for group in chunk.members.values())
            read_funds = sum(len(chunk.funds) for chunk in read.chunks)
            rows.append(
                ClassApiRow(
                    plan,
                    read_funds,
                    members,
                    statuses.get("200", 0),
                    statuses.get("429", 0),
                    round(seconds, 2),
                    time_scale,
                )
            )
        state.dispose()
    return rows
