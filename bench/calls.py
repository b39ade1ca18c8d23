"""Scenario 1: API calls per sync, ours beside the naive full push, counted by the simulator's call log.

Five runs in a row on one world: the first sync, a full re-sync with no change, an incremental run after
1% of funds changed in Class, a run of 10 funds after a bulk import (``fund_codes``, as the operating guide
says), and a full re-sync after 1% of clients were edited by hand in XPM. The naive push runs beside each
against a simulator of its own.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.naive import NaivePush, desired_funds
from bench.world import CallLog, SyncRun, World, scratch_databases, simulator

UNLIMITED = {"minute_limit": 10_000_000, "day_limit": 100_000_000, "concurrent": 5}


@dataclass
class CallRow:
    """One scenario's counts: ours, the naive push's, and the target."""

    scenario: str
    funds: int
    considered: int
    quarantined: int
    changed: int
    calls: int
    reads: int
    writes: int
    naive: int
    counts: dict[str, int]
    target: str
    met: bool

    @property
    def ratio(self) -> float:
        """Naive calls per call of ours."""
        return self.naive / self.calls if self.calls else math.inf

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with the ratio."""
        return {**asdict(self), "ratio": None if math.isinf(self.ratio) else round(self.ratio, 1)}


def _quarantined(run: SyncRun) -> set[str]:
    return {p["scope_code"] for p in run.report.problems if p["status"] == "quarantined"}


def _sent(run: SyncRun) -> int:
    return sum(run.counts.get(key, 0) for key in ("created", "linked", "updated", "failed"))


class Bench:
    """Our sync and the naive push side by side on the same Class data."""

    def __init__(self, ours: World, naive_world: World, naive: NaivePush, funds: int) -> None:
        self.ours, self.naive_world, self.naive, self.funds = ours, naive_world, naive, funds
        self.skip: set[str] = set()

    def measure(
        self, name: str, run: Callable[[], SyncRun], changed: int, check: Callable[..., tuple[str, bool]]
    ) -> CallRow:
        """Run our sync and the naive push once each; returns the row."""
        self.ours.clear_calls()
        done = run()
        log = self.ours.calls()
        self.skip |= _quarantined(done)
        naive_calls = self._naive()
        target, met = check(log=log, run=done, changed=changed, funds=self.funds, naive=naive_calls)
        considered = sum(done.counts.values())
        return CallRow(
            name,
            self.funds,
            considered,
            len(_quarantined(done)),
            changed,
            log.api,
            log.reads,
            log.writes,
            naive_calls,
            done.counts,
            target,
            met,
        )

    def _naive(self) -> int:
        self.naive_world.clear_calls()
        with self.naive_world.env() as env:
            self.naive.push(desired_funds(env, _business(), self.skip))
        return self.naive_world.calls().api


def _business() -> str:
    from classxpm.source.demo_data import DEMO_BUSINESS_ID

    return DEMO_BUSINESS_ID


def first_sync_target(log: CallLog, run: SyncRun, **_: Any) -> tuple[str, bool]:
    per_fund = log.api / max(_sent(run), 1)
    return f"≤ 1.02 calls per fund sent (got {per_fund:.3f})", per_fund <= 1.02


def no_change_target(log: CallLog, funds: int, **_: Any) -> tuple[str, bool]:
    ceiling = math.ceil(funds / 500) + 5
    return f"0 writes, ≤ {ceiling} calls", log.writes == 0 and log.api <= ceiling


def per_changed_target(log: CallLog, changed: int, **_: Any) -> tuple[str, bool]:
    per_fund = log.writes / max(changed, 1)
    return f"≤ 1.1 writes per changed fund (got {per_fund:.2f})", per_fund <= 1.1


def one_percent_target(log: CallLog, naive: int, **kwargs: Any) -> tuple[str, bool]:
    writes, met = per_changed_target(log, **kwargs)
    ratio = naive / max(log.api, 1)
    return f"{writes}; naive ÷ ours ≥ 50 (got {ratio:.0f})", met and ratio >= 50


def change_in_class(ours: World, share: float) -> int:
    """Change the city of ``share`` of the synced funds in Class, bumping updated_at; returns how many."""
    chosen = _synced_funds(ours, share)
    now = datetime.now(UTC).replace(tzinfo=None)
    for fund_id in chosen:
        ours.source(
            "UPDATE funds SET physical_city = 'Wagga Wagga', updated_at = :t WHERE fund_id = :f",
            t=now,
            f=fund_id,
        )
    return len(chosen)


def _synced_funds(ours: World, share: float) -> list[str]:
    engine = sa.create_engine(ours.state_url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT fund_id, client_uuid FROM fund_links WHERE last_status = 'synced' ORDER BY fund_id"
            )
        ).all()
    engine.dispose()
    step = max(1, round(1 / share))
    return [row.fund_id for row in rows[::step]]


def _synced_clients(ours: World, share: float) -> list[str]:
    engine = sa.create_engine(ours.state_url)
    with engine.connect() as conn:
        rows = (
            conn.execute(
                sa.text("SELECT client_uuid FROM fund_links WHERE last_status = 'synced' ORDER BY scope_code")
            )
            .scalars()
            .all()
        )
    engine.dispose()
    return rows[:: max(1, round(1 / share))]


def edit_in_xpm(ours: World, share: float) -> int:
    """Rename ``share`` of the linked clients through XPM's API, as a person would; returns how many."""
    chosen = _synced_clients(ours, share)
    with ours.env() as env:
        api = env.open_api(_business())
        for client_uuid in chosen:
            api.update_client(client_uuid, {"Name": "Edited by hand in XPM"})
    return len(chosen)


def import_funds(ours: World, count: int, seed: int) -> list[str]:
    """Insert ``count`` new funds (valid identifiers) with their members into Class; returns their codes."""
    from classxpm.identifiers import is_valid_abn, is_valid_tfn
    from classxpm.source import schema
    from classxpm.source.demo_data import generate

    now = datetime.now(UTC).replace(tzinfo=None)
    picked, members = [], []
    for chunk in generate(count * 3, seed=seed):
        for fund in chunk.funds:
            if (
                len(picked) < count
                and (fund["tfn"] is None or is_valid_tfn(fund["tfn"]))
                and is_valid_abn(fund["abn"])
            ):
                picked.append(
                    {**fund, "scope_code": f"BULK{len(picked):05d}", "created_at": now, "updated_at": now}
                )
        ids = {f["fund_id"] for f in picked}
        members += [{**m, "updated_at": now} for m in chunk.members if m["fund_id"] in ids]
    engine = sa.create_engine(ours.class_url)
    with engine.begin() as conn:
        conn.execute(sa.insert(schema.funds), picked)
        conn.execute(sa.insert(schema.members), members)
    engine.dispose()
    return [f["scope_code"] for f in picked]


def run_scenarios(funds: int, seed: int, reports: Path) -> list[CallRow]:
    """All five scenarios at ``funds`` funds; returns one row each."""
    from classxpm.source.demo_data import DEMO_BUSINESS_ID, write_demo_data
    from classxpm.state.migrations import upgrade

    with ExitStack() as stack:
        urls = stack.enter_context(scratch_databases("class", "state", "naive"))
        sim = stack.enter_context(simulator(**UNLIMITED))
        naive_sim = stack.enter_context(simulator(**UNLIMITED))
        write_demo_data(urls["class"], funds, seed)
        upgrade(urls["state"])
        upgrade(urls["naive"])
        ours = World(
            urls["class"],
            urls["state"],
            sim,
            reports,
            minute_limit=UNLIMITED["minute_limit"],
            day_limit=UNLIMITED["day_limit"],
        )
        naive_world = World(
            urls["class"], urls["naive"], naive_sim, reports, minute_limit=UNLIMITED["minute_limit"]
        )
        ours.authorise(DEMO_BUSINESS_ID)
        naive_world.authorise(DEMO_BUSINESS_ID)
        naive_env = stack.enter_context(naive_world.env())
        bench = Bench(ours, naive_world, NaivePush(naive_env.open_api(DEMO_BUSINESS_ID)), funds)
        return _sequence(bench, ours, seed)


def _sequence(bench: Bench, ours: World, seed: int) -> list[CallRow]:
    rows = [bench.measure("first sync", ours.sync, 0, first_sync_target)]
    rows.append(bench.measure("full re-sync, no change", ours.sync, 0, no_change_target))
    changed = change_in_class(ours, 0.01)
    rows.append(
        bench.measure(
            "incremental, 1% of funds changed in Class",
            lambda: ours.sync("incremental"),
            changed,
            one_percent_target,
        )
    )
    codes = import_funds(ours, 10, seed + 1)
    rows.append(
        bench.measure(
            "10 new funds after a bulk import (fund_codes)",
            lambda: ours.sync("full", fund_codes=codes),
            len(codes),
            per_changed_target,
        )
    )
    edited = edit_in_xpm(ours, 0.01)
    rows.append(
        bench.measure("full re-sync after 1% of clients edited in XPM", ours.sync, edited, per_changed_target)
    )
    return rows
