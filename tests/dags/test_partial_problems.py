"""Partial problems stay partial (issue 16), through the sync DAGs: demo Class data, PostgreSQL state and
the XPM simulator. Each test asserts what XPM holds afterwards, what the report says and that no client or
contact exists twice."""

from __future__ import annotations

from collections import Counter

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.postgres


def _by_code(world) -> dict[str, dict]:
    return {c["ExportCode"]: c for c in world.clients()}


def _assert_no_duplicates(world) -> None:
    """No client twice (by ExportCode), and no client with more contacts than its fund has members."""
    clients = world.clients()
    codes = Counter(c["ExportCode"] for c in clients)
    assert [code for code, n in codes.items() if n > 1] == [], "no client exists twice"
    per_fund = "SELECT fund_id, count(*) FROM members GROUP BY fund_id"
    members = dict(world.query(per_fund))
    engine = sa.create_engine(world.state_url)
    with engine.connect() as conn:
        fund_of = dict(conn.execute(sa.text("SELECT client_uuid, fund_id FROM fund_links")).all())
    engine.dispose()
    for client in clients:
        wanted = members.get(fund_of.get(client["UUID"]), 0)
        assert len(client["_contacts"]) <= wanted, f"no contact of {client['ExportCode']} twice"


def _funds_with_members(world, least: int) -> list[tuple[str, str]]:
    """(fund_id, scope_code) of funds with at least ``least`` members, in scope-code order."""
    return [
        (row.fund_id, row.scope_code)
        for row in world.query(
            "SELECT fund_id, scope_code FROM funds JOIN members USING (fund_id) "
            "GROUP BY fund_id, scope_code HAVING count(*) >= :n ORDER BY scope_code",
            n=least,
        )
    ]


def test_a_member_with_no_name_holds_back_that_member_only_every_run_until_fixed(sync_world):
    sync_world.run()
    (linked_fund, linked_code), (other_fund, other_code) = _funds_with_members(sync_world, 2)[:2]
    contacts_before = len(_by_code(sync_world)[linked_code]["_contacts"])
    (blanked,) = sync_world.query(
        "SELECT member_id FROM members WHERE fund_id = :f ORDER BY member_id LIMIT 1",
        f=linked_fund,
    )[0]
    sync_world.source(
        "UPDATE members SET first_name = NULL, last_name = ' ', email = 'blank.name@example.com.au', "
        "updated_at = '2027-04-01' WHERE member_id = :m",
        m=blanked,
    )
    sync_world.source(
        "INSERT INTO members (member_id, fund_id, preferred_name, created_at, updated_at) "
        "VALUES ('new-nameless', :f, 'Bobby', '2027-04-01', '2027-04-01')",
        f=other_fund,
    )
    sync_world.source(
        "UPDATE funds SET updated_at = '2027-04-01' WHERE fund_id IN (:a, :b)", a=linked_fund, b=other_fund
    )
    other_before = len(_by_code(sync_world)[other_code]["_contacts"])

    state, report = sync_world.run()

    assert state == "success"
    assert report["counts"]["quarantined"] == 0, "a nameless member holds back no fund"
    assert {(w["scope_code"], w["member"]) for w in report["warnings"]} == {
        (linked_code, "with email blank.name@example.com.au"),
        (other_code, "known as Bobby"),
    }
    assert all("no name in Class" in w["detail"] for w in report["warnings"])
    clients = _by_code(sync_world)
    assert len(clients[linked_code]["_contacts"]) == contacts_before, "the linked contact stays"
    assert len(clients[other_code]["_contacts"]) == other_before, "the nameless member is not sent"
    held = {m["member_id"]: m["reason"] for m in report["members_not_in_xpm"]}
    assert "no name in Class" in held["new-nameless"]
    assert blanked not in held, "a member already linked stays linked"
    _assert_no_duplicates(sync_world)

    _, again = sync_world.run("class_xpm_incremental")
    assert {w["scope_code"] for w in again["warnings"]} == {linked_code, other_code}, "reported until fixed"

    sync_world.source(
        "UPDATE members SET first_name = 'Robert', last_name = 'Nameless', updated_at = '2027-04-02' "
        "WHERE member_id = 'new-nameless'"
    )
    _, fixed = sync_world.run("class_xpm_incremental")
    assert {w["scope_code"] for w in fixed["warnings"]} == {linked_code}
    contacts = {c["UUID"]: c for c in sync_world.sim.state()["contacts"]}
    names = [contacts[link["UUID"]]["Name"] for link in _by_code(sync_world)[other_code]["_contacts"]]
    assert "Robert Nameless" in names
    assert len(names) == other_before + 1
    _assert_no_duplicates(sync_world)


def test_a_changed_scope_code_updates_the_export_code_and_a_refusal_is_reported_once(sync_world):
    sync_world.run()
    (fund_id, code), (other_id, other_code) = _funds_with_members(sync_world, 1)[:2]
    clients_before = len(sync_world.clients())
    sync_world.source(
        "UPDATE funds SET scope_code = 'RENAMED01', updated_at = '2027-05-01' WHERE fund_id = :f", f=fund_id
    )
    sync_world.sim.patch_config(update_accepts_export_code=False)  # XPM answers 200 but keeps the old code
    sync_world.source(
        "UPDATE funds SET scope_code = 'RENAMED02', updated_at = '2027-05-01' WHERE fund_id = :f", f=other_id
    )
    sync_world.clear_calls()

    state, report = sync_world.run()

    assert state == "failed", "a value XPM did not take fails the run once"
    refused = {p["scope_code"]: p["detail"] for p in report["problems"] if p["status"] == "failed"}
    assert set(refused) == {"RENAMED01", "RENAMED02"}
    assert "did not take the new ExportCode 'RENAMED01'" in refused["RENAMED01"]
    assert {code, other_code} <= set(_by_code(sync_world)), "XPM kept the old codes"

    sync_world.clear_calls()
    state, again = sync_world.run()
    assert state == "success"
    assert sync_world.writes() == 0, "the refused value is not sent again"
    assert [p for p in again["problems"] if p["status"] == "failed"] == [], "reported once"
    _, incremental = sync_world.run("class_xpm_incremental")
    assert sync_world.writes() == 0
    assert incremental["counts"]["failed"] == 0

    sync_world.sim.patch_config(update_accepts_export_code=True)
    sync_world.source(
        "UPDATE funds SET scope_code = 'RENAMED03', updated_at = '2027-05-02' WHERE fund_id = :f", f=fund_id
    )
    sync_world.clear_calls()
    state, changed = sync_world.run()
    assert state == "success"
    assert changed["counts"]["updated"] == 1, "a changed value is sent again"
    assert sync_world.calls()["PUT client.api/update"] == 1
    held = _by_code(sync_world)
    assert "RENAMED03" in held
    assert code not in held
    assert len(sync_world.clients()) == clients_before, "the client is renamed, never created again"
    _assert_no_duplicates(sync_world)


def test_funds_deferred_for_the_daily_quota_are_sent_first_by_the_next_run(sync_world):
    sync_world.sim.patch_config(day_limit=520)  # the sync keeps a share for people: a few creates fit
    _, first = sync_world.run()
    deferred = {p["scope_code"] for p in first["problems"] if p["status"] == "deferred"}
    assert deferred
    created = len(sync_world.clients())
    sync_world.source(
        "INSERT INTO funds (fund_id, business_id, scope_code, scope_description, created_at, updated_at) "
        "VALUES ('00000000-0000-4000-8000-000000000001', :b, 'AAAFIRST01', 'First By Id Super Fund', "
        "'2027-06-01', '2027-06-01')",
        b=sync_world.business_id,
    )
    sync_world.sim.patch_config(day_limit=100_000)

    state, second = sync_world.run()

    assert state == "success"
    assert second["counts"]["created"] == len(deferred) + 1
    order = [c["ExportCode"] for c in sync_world.clients()[created:]]  # the simulator keeps creation order
    assert set(order[: len(deferred)]) == deferred, "the leftovers go before a fund that sorts first"
    assert order[-1] == "AAAFIRST01"
    _assert_no_duplicates(sync_world)


def _seed_run(conn, run_id: str, status: str, started_at, tenant: str, business: str) -> None:
    from classxpm.sync.tables import planned_funds, quarantined_funds, staged_chunks, sync_runs

    conn.execute(
        sa.insert(sync_runs).values(
            run_id=run_id,
            dag_id="class_xpm_sync",
            business_id=business,
            tenant_id=tenant,
            mode="full",
            sync_mode="upsert",
            dry_run=False,
            started_at=started_at,
            status=status,
            summary={},
        )
    )
    chunk = {"run_id": run_id, "chunk_no": 0, "first_fund_id": "a", "last_fund_id": "z"}
    conn.execute(sa.insert(staged_chunks).values(**chunk, funds=1, members=0, payload=b"sealed"))
    conn.execute(sa.insert(quarantined_funds).values(run_id=run_id, fund_id="f", scope_code="X", rules=[]))
    conn.execute(
        sa.insert(planned_funds).values(
            run_id=run_id,
            fund_id="f",
            scope_code="X",
            action="create",
            changed_fields=[],
            contact_steps=[],
            write_calls=1,
        )
    )


def test_a_run_that_died_before_its_report_is_closed_by_the_next_and_its_staging_removed(
    sync_world, monkeypatch
):
    from datetime import UTC, datetime, timedelta

    from classxpm.sync.tables import planned_funds, quarantined_funds, staged_chunks, sync_runs

    monkeypatch.setenv("CLASSXPM_DEAD_RUN_HOURS", "6")
    now, tenant, business = datetime.now(UTC), sync_world.sim.tenant_id, sync_world.business_id
    engine = sa.create_engine(sync_world.state_url)
    with engine.begin() as conn:
        _seed_run(conn, "class_xpm_sync/dead/b", "running", now - timedelta(hours=7), tenant, business)
        _seed_run(conn, "class_xpm_sync/ended/b", "failed", now - timedelta(hours=8), tenant, business)
        _seed_run(conn, "class_xpm_sync/young/b", "running", now - timedelta(hours=1), tenant, business)

    state, report = sync_world.run()

    assert state == "success"
    assert report["counts"]["created"] == len(sync_world.clients())
    assert any("class_xpm_sync/dead/b" in notice and "died" in notice for notice in report["notices"])
    with engine.connect() as conn:
        runs = {r.run_id: r for r in conn.execute(sa.select(sync_runs)).all()}
        left = {
            table.name: set(conn.execute(sa.select(table.c.run_id).distinct()).scalars())
            for table in (staged_chunks, planned_funds, quarantined_funds)
        }
    engine.dispose()
    dead = runs["class_xpm_sync/dead/b"]
    assert dead.status == "failed"
    assert "died before its report" in dead.summary["reason"]
    assert dead.finished_at is not None
    assert runs["class_xpm_sync/young/b"].status == "running", "a run younger than the setting is left alone"
    for table, run_ids in left.items():
        assert run_ids == {"class_xpm_sync/young/b"}, f"{table} keeps only the young run's rows"
    _assert_no_duplicates(sync_world)
