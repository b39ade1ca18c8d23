"""The run store on SQLite and PostgreSQL: run rows, the plan and its sealed payloads, the quarantine,
call counts and watermarks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from classxpm.identifiers import Tfn
from classxpm.state.crypto import TokenCipher
from classxpm.sync import run_store
from classxpm.sync.model import Action, DesiredContact, DesiredFund
from classxpm.sync.plan import ContactStep, FundPlan
from classxpm.sync.run_store import UNFINISHED_REASON, end_runs, end_unfinished
from classxpm.sync.staging import StagingError
from classxpm.sync.tables import planned_payloads, sync_runs, tenant_leases
from classxpm.xpm.errors import ConfigurationError

AT = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
TFN = "123456782"


def open_run(state, run_id="run-1", business_id="b1") -> None:
    with state.begin() as conn:
        _open_row(conn, run_id, business_id)


def _open_row(conn, run_id: str, business_id: str) -> None:
    run_store.open_run(
        conn,
        {
            "run_id": run_id,
            "dag_id": "class_xpm_sync",
            "business_id": business_id,
            "tenant_id": "t1",
            "mode": "full",
            "sync_mode": "upsert",
            "dry_run": False,
            "started_at": AT,
            "status": "running",
            "summary": {},
        },
    )


def fund(n: int, tfn: str = TFN) -> DesiredFund:
    contact = DesiredContact(f"m{n:05}", {"Name": f"Member {n}", "Email": None}, f"ch{n}")
    fields = {"Name": f"Fund {n}", "ExportCode": f"F{n:05}", "TaxNumber": Tfn(tfn)}
    return DesiredFund(f"f{n:05}", f"F{n:05}", fields, f"h{n}", (contact,))


@pytest.fixture
def cipher() -> TokenCipher:
    return TokenCipher(Fernet.generate_key().decode())


def test_a_run_is_opened_again_by_a_retried_start_and_read_back(state):
    open_run(state)
    open_run(state)
    run = run_store.run_row(state, "run-1")
    assert (run.business_id, run.status, run.started_at) == ("b1", "running", AT)


def test_payloads_come_back_as_planned_tfn_included_and_never_in_clear_at_rest(state, cipher):
    writer = run_store.PayloadWriter(state, cipher, "run-1", chunk_size=3)
    for n in range(7):
        writer.add(fund(n, tfn=TFN if n != 4 else "876543210"))
    writer.flush()
    with state.connect() as conn:
        blobs = conn.execute(sa.select(planned_payloads.c.payload)).scalars().all()
    assert len(blobs) == 3, "7 funds in chunks of 3"
    assert not any(TFN.encode() in blob or b"Fund 1" in blob for blob in blobs)
    found = run_store.load_payloads(state, cipher, "run-1", {"f00001", "f00004", "f00006"})
    assert found == {"f00001": fund(1), "f00004": fund(4, "876543210"), "f00006": fund(6)}
    assert isinstance(found["f00004"].fields["TaxNumber"], Tfn)
    assert found["f00004"].fields["TaxNumber"].reveal() == "876543210"
    assert "876543210" not in repr(found)


def test_a_replanned_run_replaces_its_payloads_and_other_runs_keep_theirs(state, cipher):
    first = run_store.PayloadWriter(state, cipher, "run-1")
    first.add(fund(1))
    first.flush()
    other = run_store.PayloadWriter(state, cipher, "run-2")
    other.add(fund(2))
    other.flush()
    again = run_store.PayloadWriter(state, cipher, "run-1")
    again.add(fund(3))
    again.flush()
    assert run_store.load_payloads(state, cipher, "run-1", {"f00001", "f00003"}) == {"f00003": fund(3)}
    assert run_store.load_payloads(state, cipher, "run-2", {"f00002"}) == {"f00002": fund(2)}


def test_payloads_sealed_under_another_key_are_refused_with_what_to_do(state, cipher):
    writer = run_store.PayloadWriter(state, cipher, "run-1")
    writer.add(fund(1))
    writer.flush()
    other = TokenCipher(Fernet.generate_key().decode())
    with pytest.raises(ConfigurationError, match="Fernet key"):
        run_store.load_payloads(state, other, "run-1", {"f00001"})
    with state.begin() as conn:
        conn.execute(sa.update(planned_payloads).values(payload=cipher.encrypt_bytes(b"not a payload")))
    with pytest.raises(StagingError, match="a planned payload is damaged: re-run the plan"):
        run_store.load_payloads(state, cipher, "run-1", {"f00001"})


def plan(n: int, action: Action, **values) -> FundPlan:
    return FundPlan(f"f{n:05}", f"F{n:05}", action, name=f"Fund {n}", **values)


def test_plans_round_trip_in_fund_order_and_writes_are_counted(state):
    update = plan(
        2,
        Action.UPDATE,
        client_uuid="c2",
        changed_fields=("Name", "TaxNumber"),
        contact_steps=(ContactStep("m2", Action.CREATE),),
    )
    plans = [plan(3, Action.UNCHANGED, client_uuid="c3"), update, plan(1, Action.CREATE)]
    diff = [{"field": "TaxNumber", "before": "******782", "after": "******210"}]
    run_store.store_plans(state, "run-1", [run_store.planned_row("run-1", p, diff) for p in plans])
    assert run_store.load_plans(state, "run-1") == sorted(plans, key=lambda p: p.fund_id)
    assert run_store.count_writes(state, "run-1") == 2
    assert {r.fund_id: r.diff for r in run_store.planned_rows(state, "run-1")}["f00002"] == diff
    run_store.store_plans(state, "run-1", [run_store.planned_row("run-1", plans[0], [])])
    assert run_store.load_plans(state, "run-1") == [plans[0]], "a plan replaces the run's earlier plan"


def test_the_quarantine_is_replaced_and_read_back_with_its_rules(state):
    rows = [{"run_id": "run-1", "fund_id": "f1", "scope_code": "F1", "rules": ["tfn_valid", "abn_valid"]}]
    run_store.store_quarantine(state, "run-1", rows)
    assert run_store.quarantined(state, "run-1") == {"f1": "tfn_valid; abn_valid"}
    run_store.store_quarantine(state, "run-1", [])
    assert run_store.quarantined(state, "run-1") == {}


def test_calls_add_up_over_steps_and_a_retried_step_counts_once(state):
    run_store.add_calls(state, "run-1", "plan", 3)
    run_store.add_calls(state, "run-1", "upsert[0]", 10)
    run_store.add_calls(state, "run-1", "upsert[0]", 12)
    run_store.add_calls(state, "run-2", "plan", 100)
    assert run_store.calls_of(state, "run-1") == 15
    assert run_store.calls_of(state, "nobody") == 0


@pytest.mark.parametrize("advance", [True, False])
def test_closing_a_run_moves_the_watermark_only_when_asked_and_drops_its_plan(state, cipher, advance):
    open_run(state)
    mark = datetime(2026, 11, 29, 23, 0)
    run_store.set_source_watermark(state, "run-1", mark)
    run_store.note_unmatched_codes(state, "run-1", ["NOPE1"])
    run_store.store_plans(state, "run-1", [run_store.planned_row("run-1", plan(1, Action.CREATE), [])])
    writer = run_store.PayloadWriter(state, cipher, "run-1")
    writer.add(fund(1))
    writer.flush()
    run_store.store_quarantine(
        state, "run-1", [{"run_id": "run-1", "fund_id": "f2", "scope_code": "F2", "rules": []}]
    )
    run = run_store.run_row(state, "run-1")
    assert run.summary == {"unmatched_fund_codes": ["NOPE1"]}
    summary = {**run.summary, "counts": {"created": 1}}
    run_store.close_run(state, run, status="success", summary=summary, now=AT, advance_watermark=advance)
    closed = run_store.run_row(state, "run-1")
    assert (closed.status, closed.finished_at, closed.summary) == ("success", AT, summary)
    assert run_store.watermark(state, "b1") == (mark if advance else None)
    assert run_store.load_plans(state, "run-1") == []
    assert run_store.load_payloads(state, cipher, "run-1", {"f00001"}) == {}
    assert run_store.quarantined(state, "run-1") == {}


# Ending runs that never reached their report.

NOW = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
AIRFLOW_RUN = "manual__2026-05-01T09:00:00+00:00"


def _open(state, business: str, status: str = "running", dag_id: str = "class_xpm_sync") -> str:
    run_id = f"{dag_id}/{AIRFLOW_RUN}/{business}"
    with state.begin() as conn:
        conn.execute(
            sa.insert(sync_runs).values(
                run_id=run_id,
                dag_id=dag_id,
                business_id=business,
                tenant_id=f"tenant-{business}",
                mode="full",
                sync_mode="upsert",
                dry_run=False,
                started_at=NOW,
                status=status,
                summary={"counts": {"created": 1}} if status != "running" else {},
            )
        )
        conn.execute(
            sa.insert(tenant_leases).values(
                tenant_id=f"tenant-{business}", holder=run_id, expires_at=NOW + timedelta(minutes=15)
            )
        )
    return run_id


def _rows(state) -> dict[str, dict]:
    with state.connect() as conn:
        return {row["business_id"]: dict(row) for row in conn.execute(sa.select(sync_runs)).mappings()}


def test_a_run_is_ended_once_with_its_reason_and_a_later_ending_changes_nothing(state):
    run = _open(state, "b-1")

    end_runs(state, [run], "skipped", "Xero Integration not Authorised", NOW)
    end_runs(state, [run], "failed", "a later reason", NOW + timedelta(minutes=1))

    ended = _rows(state)["b-1"]
    assert (ended["status"], ended["summary"]) == ("skipped", {"reason": "Xero Integration not Authorised"})
    assert ended["finished_at"] == NOW


def test_the_finish_ends_only_this_dag_runs_unfinished_runs_and_frees_their_tenants(state):
    _open(state, "b-1")
    _open(state, "b-2", status="success")
    _open(state, "b-3", dag_id="class_xpm_incremental")

    ended = end_unfinished(state, "class_xpm_sync", AIRFLOW_RUN, NOW)

    rows = _rows(state)
    assert ended == {"b-1": "failed", "b-2": "success"}
    assert rows["b-1"]["summary"] == {"reason": UNFINISHED_REASON}
    assert rows["b-2"]["summary"] == {"counts": {"created": 1}}, (
        "a run that reached its report is left as it is"
    )
    assert rows["b-3"]["status"] == "running", "another DAG's run is not this finish's business"
    with state.connect() as conn:
        assert conn.execute(sa.select(tenant_leases.c.tenant_id)).scalars().all() == ["tenant-b-3"]
