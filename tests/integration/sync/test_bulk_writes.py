"""Large runs' writes: COPY on PostgreSQL keeps what INSERT would write, and no statement outgrows the
65,535 bound parameters PostgreSQL takes, however many funds a run logs or XPM returns."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from classxpm.db import bulk_insert
from classxpm.sync.links import LinkRecorder, Outcome
from classxpm.sync.model import RemoteClient
from classxpm.sync.remote import RemoteState
from classxpm.sync.tables import planned_funds, remote_clients, sync_outcomes, sync_runs

AT = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
MORE_THAN_POSTGRES_BINDS = 70_000


def plan_row(fund_id: str, **values) -> dict:
    return {
        "run_id": "run",
        "fund_id": fund_id,
        "scope_code": f"S{fund_id}",
        "fund_name": 'Smith Super Fund\'s "family" \\ fund\ttab',
        "action": "create",
        "client_uuid": None,
        "reason": None,
        "changed_fields": ["Name", "Address"],
        "contact_steps": [{"member_id": "m1", "action": "create", "contact_uuid": None}],
        "write_calls": 1,
        "diff": [{"field": "Name", "before": None, "after": "Émilie & Co <x>\nline"}],
        **values,
    }


def test_bulk_insert_writes_what_insert_writes(state):
    rows = [plan_row("a"), plan_row("b", diff=None, reason="two lines\nof reason")]
    with state.begin() as conn:
        bulk_insert(conn, planned_funds, rows)
        conn.execute(sa.insert(planned_funds), [{**row, "run_id": "by insert"} for row in rows])
    with state.connect() as conn:
        read = conn.execute(sa.select(planned_funds).order_by(planned_funds.c.fund_id)).mappings().all()
    by_run = {
        run: [dict(row, run_id=None) for row in read if row["run_id"] == run] for run in ("run", "by insert")
    }
    assert by_run["run"] == by_run["by insert"]
    assert by_run["run"][0]["diff"][0]["after"] == "Émilie & Co <x>\nline"


def test_bulk_insert_gives_missing_columns_their_defaults_and_joins_the_transaction(state):
    row = {
        "run_id": "r1",
        "dag_id": "class_xpm_sync",
        "business_id": "b",
        "mode": "full",
        "sync_mode": "upsert",
        "started_at": AT,
        "summary": {},
    }

    def insert_then_fail() -> None:
        with state.begin() as conn:
            bulk_insert(conn, sync_runs, [row])
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError, match="rolled back"):
        insert_then_fail()
    with state.begin() as conn:
        bulk_insert(conn, sync_runs, [row])
        bulk_insert(conn, sync_runs, [])
    with state.connect() as conn:
        stored = conn.execute(sa.select(sync_runs)).mappings().one()
    assert (stored["dry_run"], stored["status"]) == (False, "running")


def test_a_run_logs_more_outcomes_at_once_than_postgres_takes_parameters(state):
    recorder = LinkRecorder("b", "t", "run")
    outcomes = [
        Outcome(f"f{n:06d}", f"S{n}", "unchanged", "unchanged") for n in range(MORE_THAN_POSTGRES_BINDS)
    ]
    with state.begin() as conn:
        recorder.outcomes(conn, outcomes[:10], AT)
    with state.begin() as conn:
        recorder.outcomes(conn, outcomes, AT)  # a re-run after a crash: the first ten are not logged twice
    with state.connect() as conn:
        logged = conn.execute(
            sa.select(sa.func.count(), sa.func.count(sa.distinct(sync_outcomes.c.fund_id)))
        ).one()
    assert tuple(logged) == (MORE_THAN_POSTGRES_BINDS, MORE_THAN_POSTGRES_BINDS)


def test_a_fund_logged_one_at_a_time_is_logged_once_however_often_it_is_recorded(state):
    recorder = LinkRecorder("b", "t", "run")
    for status in ("created", "created", "failed"):  # the write loop, then a retried upsert of the same run
        with state.begin() as conn:
            recorder.outcomes(conn, [Outcome("f1", "S1", "create", status, "a detail")], AT)
    with state.begin() as conn:
        LinkRecorder("b", "t", "next run").outcomes(conn, [Outcome("f1", "S1", "update", "updated")], AT)
    with state.connect() as conn:
        logged = sync_outcomes.c
        rows = conn.execute(
            sa.select(logged.run_id, logged.status, logged.detail, logged.at).order_by(logged.id)
        ).all()
    assert [tuple(row) for row in rows] == [
        ("run", "created", "a detail", AT),
        ("next run", "updated", None, AT),
    ]


def test_a_modified_read_larger_than_postgres_parameters_merges_into_the_cache(state):
    cache = RemoteState(state, "tenant")
    clients = [
        RemoteClient(f"uuid-{n:06d}", {"Name": f"Fund {n}", "ExportCode": f"S{n}"})
        for n in range(MORE_THAN_POSTGRES_BINDS)
    ]
    cache.replace(clients, AT)
    renamed = [
        RemoteClient(c.uuid, {**c.fields, "Name": c.fields["Name"] + " (renamed)"}) for c in clients[:-2]
    ]

    archived = RemoteClient(clients[-1].uuid, {**clients[-1].fields, "IsArchived": "Yes"})

    cache.merge([*renamed, archived], AT)

    index = cache.index()
    assert len(index.by_uuid) == MORE_THAN_POSTGRES_BINDS, "an archived client stays in the cache, marked"
    assert index.retired == {archived.uuid: "archived"}
    assert index.by_uuid["uuid-000000"].name == "Fund 0 (renamed)"
    assert index.by_uuid[clients[-2].uuid].name == clients[-2].name
    with state.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(remote_clients)).scalar_one() == len(
            index.by_uuid
        )
