"""The shared XPM call budget on the state database: two governors stand for two worker processes.

Each governor has an engine of its own (as each process does) and waits on injected time, so no test sleeps.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from classxpm.db import make_engine
from classxpm.state import rate_budget
from classxpm.state.rate_budget import DAY_MEMORY_WINDOWS, SharedGovernors
from classxpm.xpm.errors import Deferred
from fixtures.xpm_auth import FakeTime

TENANT = "tenant-shared"


@pytest.fixture
def time():
    return FakeTime([])


@pytest.fixture
def workers(state, db_url, time):
    """Two processes' governor registries on the same state database (each with its own engine)."""
    engines = [state, make_engine(db_url)]
    yield [
        SharedGovernors(engine, clock=time.clock, sleep=time.sleep, lease_margin=5.0) for engine in engines
    ]
    engines[1].dispose()


def test_two_processes_spend_one_minute_budget(workers, time):
    first, second = (w.for_tenant(TENANT, minute_limit=3) for w in workers)
    for governor in (first, second, first):
        with governor.slot():
            time.now += 1
    assert time.sleeps == []
    with second.slot():
        pass
    assert time.sleeps == [pytest.approx(60.6 - 3)], "the fourth call waits for the shared window to turn"


def test_calls_in_flight_are_capped_across_processes_and_a_dead_holders_slot_lapses(workers, time):
    first, second = (w.for_tenant(TENANT, max_in_flight=2) for w in workers)
    held = [first.slot(hold=10.0), second.slot(hold=10.0)]
    for slot in held:
        slot.__enter__()  # never left: the processes holding them were killed mid-call
    assert second.view().in_flight == 2
    with first.slot():
        assert first.view().in_flight == 1, "both dead leases lapsed; only this call is in flight"
    assert sum(time.sleeps) == pytest.approx(15.0), "it waited exactly until the leases' call time + margin"


def test_a_slot_freed_by_one_process_is_taken_by_the_other(workers, time):
    first, second = (w.for_tenant(TENANT, max_in_flight=1) for w in workers)
    with first.slot():
        assert second.view().in_flight == 1
    with second.slot():
        assert first.view().in_flight == 1
    assert first.view().in_flight == 0
    assert time.sleeps == []


def test_a_header_seen_by_one_process_corrects_the_others_budget(workers, time):
    first, second = (w.for_tenant(TENANT) for w in workers)
    with first.slot():
        first.observe({"X-MinLimit-Remaining": "0", "X-DayLimit-Remaining": "4321"})
    with second.slot():
        pass
    assert time.sleeps == [pytest.approx(60.6)]
    assert second.remaining_daily() == 4321


def test_xpm_turning_its_window_over_restores_the_shared_budget_at_once(workers, time):
    first, second = (w.for_tenant(TENANT, minute_limit=10) for w in workers)
    for remaining, governor in zip(("9", "8", "7", "9"), (first, second, first, second), strict=True):
        with governor.slot():
            governor.observe({"X-MinLimit-Remaining": remaining})
    for _ in range(9):
        with first.slot():
            pass
    assert time.sleeps == []
    with second.slot():
        pass
    assert time.sleeps == [pytest.approx(60.6)]


def test_a_spent_day_defers_every_process_until_retry_after(workers, time):
    first, second = (w.for_tenant(TENANT) for w in workers)
    with first.slot():
        first.observe({"X-Rate-Limit-Problem": "day", "Retry-After": "5000"})
    assert second.remaining_daily() == 0
    with pytest.raises(Deferred), second.slot():
        pass
    time.now += 5000
    with second.slot():
        pass
    assert second.view().in_flight == 0


def test_what_is_left_today_is_forgotten_after_a_pause_so_the_next_call_asks_again(workers, time):
    first, second = (w.for_tenant(TENANT) for w in workers)
    with first.slot():
        first.observe({"X-DayLimit-Remaining": "120"})
    assert second.remaining_daily() == 120
    time.now += DAY_MEMORY_WINDOWS * 60 + 1
    assert second.remaining_daily() is None


def test_tenants_keep_budgets_of_their_own(workers, time):
    first = workers[0].for_tenant(TENANT, minute_limit=1)
    other = workers[1].for_tenant("tenant-other", minute_limit=1)
    for governor in (first, other):
        with governor.slot():
            pass
    assert time.sleeps == []


@pytest.mark.postgres
def test_a_process_that_loses_the_race_for_the_row_reads_again_and_never_overfills(pg_url, time):
    from classxpm.state.migrations import upgrade

    upgrade(pg_url)
    engines = [make_engine(pg_url), make_engine(pg_url)]
    first, second = (
        SharedGovernors(engine, clock=time.clock, sleep=time.sleep, lease_margin=5.0).for_tenant(
            TENANT, max_in_flight=1
        )
        for engine in engines
    )
    writes, held = [], []

    def another_process_takes_the_slot_first(conn, cursor, statement, *_):
        if "INSERT INTO xpm_rate_leases" in statement:
            writes.append(statement)
            if len(writes) == 1:  # between the first's read and its write; never given back (killed)
                held.append(second.slot(hold=10.0))
                held[0].__enter__()

    sa.event.listen(engines[0], "before_cursor_execute", another_process_takes_the_slot_first)
    try:
        with first.slot():
            assert first.view().in_flight == 1, "the second's lease lapsed before the first took the slot"
    finally:
        for slot in held:
            slot.__exit__(None, None, None)
        for engine in engines:
            engine.dispose()
    assert len(writes) == 2, "the first write found the row changed and wrote nothing"
    assert sum(time.sleeps) == pytest.approx(15.0), "then it waited for the second's lease to lapse"


@pytest.mark.postgres
def test_a_call_on_postgresql_is_four_statements_each_its_own_transaction(pg_url, time):
    from classxpm.state.migrations import upgrade

    upgrade(pg_url)
    engine = make_engine(pg_url)
    governor = SharedGovernors(engine, clock=time.clock, sleep=time.sleep).for_tenant(TENANT)
    with governor.slot():  # the tenant's first call creates its row
        pass
    autocommit = []
    sa.event.listen(
        engine,
        "before_cursor_execute",
        lambda conn, *_: autocommit.append(conn.connection.dbapi_connection.autocommit),
    )
    try:
        with governor.slot():
            governor.observe({"X-MinLimit-Remaining": "58", "X-DayLimit-Remaining": "4000"})
    finally:
        engine.dispose()
    assert autocommit == [True] * 4, "take: a read and a write; give back with the answer: a read and a write"


@pytest.mark.postgres
def test_an_answer_that_only_tells_the_day_leaves_the_version_a_take_compares(pg_url, time):
    from classxpm.state.migrations import upgrade

    upgrade(pg_url)
    engine = make_engine(pg_url)
    governor = SharedGovernors(engine, clock=time.clock, sleep=time.sleep).for_tenant(TENANT, minute_limit=60)

    def version() -> int:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT version FROM xpm_rate_budgets")).scalar_one()

    try:
        with governor.slot():
            governor.observe({"X-MinLimit-Remaining": "59", "X-DayLimit-Remaining": "4000"})
        taken_once = version()
        with governor.slot():
            governor.observe({"X-MinLimit-Remaining": "58", "X-DayLimit-Remaining": "3999"})
        assert version() == taken_once + 1, "only the take moved it"
        assert governor.remaining_daily() == 3999
        assert governor.view().in_flight == 0
        with governor.slot():
            governor.observe({"X-MinLimit-Remaining": "0"})
        assert version() == taken_once + 3, "the take and the answer that spent the minute moved it"
    finally:
        engine.dispose()


def test_a_process_asking_what_is_left_today_after_its_own_call_reads_it_from_that_answer(
    workers, state, monkeypatch
):
    monkeypatch.setattr(rate_budget, "DAY_REREAD_SECONDS", 3600.0)  # no stalled machine can make it stale
    governor = workers[0].for_tenant(TENANT)
    statements: list[str] = []

    def note(conn, cursor, statement, *rest) -> None:
        statements.append(statement)

    sa.event.listen(state, "before_cursor_execute", note)
    try:
        for left in ("4321", "4320", "4319"):
            with governor.slot():
                governor.observe({"X-MinLimit-Remaining": "50", "X-DayLimit-Remaining": left})
            statements.clear()
            assert governor.remaining_daily() == int(left)
            assert statements == [], "the write loop asks before every fund: no round trip for it"
    finally:
        sa.event.remove(state, "before_cursor_execute", note)
