"""Many businesses in one run: shards of businesses per task, one business's failure holding back no other.

Five businesses, each its own XPM tenant, two a shard (three shards): one business's grant is refused by
Xero during the run, or the validation gate stops one, and one has a fund the gate holds back. The others
sync; XPM holds each fund once; the reports and the sync runs say per business what happened. Every
shard's report task succeeds, so Airflow keeps the asset events of every business that synced, the failed
one's shard partner too, in both DAGs; the ``finish`` teardown fails the DAG run naming the failed
business. A re-run, and the compact incremental DAG after it, write nothing (``start`` leaves the refused
grant out from then on, as it always did). On SQLite and PostgreSQL state databases, with ``dag.test()``,
the demo Class database and the XPM simulator.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from fixtures.sync_world import authorise, make_sync_world

EXTRA = ("b-shard-1", "b-shard-2", "b-shard-3", "b-shard-4")
FUNDS_EACH = 4
QUARANTINED, REFUSED = "b-shard-2", "b-shard-3"
BAD_TFN = "123456789"  # fails the TFN check digit: the gate holds the fund back


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def shard_world(request, tmp_path, xpm_sim, fernet_key, monkeypatch):
    """The demo business and four more, each with its own tenant and grant; two businesses a shard."""
    state_url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    world = make_sync_world(tmp_path, state_url, xpm_sim, monkeypatch)
    monkeypatch.setenv("CLASSXPM_SHARD_BUSINESSES", "2")
    world.sim.patch_config(reauth_keeps_old_refresh=True)
    tenants = [f"Practice {business}" for business in EXTRA]
    world.sim.seed(
        {
            "tenants": [{"name": name} for name in tenants],
            "users": [{"email": "demo@practice.example", "tenants": tenants}],
        }
    )
    for business, tenant in zip(EXTRA, tenants, strict=True):
        world.source("INSERT INTO businesses (business_id, name) VALUES (:b, :name)", b=business, name=tenant)
        for n in range(FUNDS_EACH):
            world.source(
                "INSERT INTO funds (fund_id, business_id, scope_code, scope_description, tfn, created_at, "
                "updated_at) VALUES (:f, :b, :c, :name, :tfn, '2026-01-01', '2026-01-01')",
                f=f"{business}-{n}",
                b=business,
                c=f"{business.upper().replace('-', '')}F{n}",
                name=f"{tenant} Fund {n}",
                tfn=BAD_TFN if business == QUARANTINED and n == 0 else None,
            )
        authorise(state_url, world.sim, business, tenant=tenant)
    world.clear_calls()
    return world


def _refuse_grant(world, business: str) -> None:
    """Xero refuses the business's grant at its next refresh: its access token is spent, its refresh token
    one Xero never issued."""
    from classxpm.state.crypto import load_cipher
    from classxpm.state.tables import xpm_grants

    engine = sa.create_engine(world.state_url)
    with engine.begin() as conn:
        conn.execute(
            sa.update(xpm_grants)
            .where(xpm_grants.c.business_id == business)
            .values(
                access_expires_at=datetime.now(UTC) - timedelta(hours=1),
                refresh_token=load_cipher().encrypt("a-refresh-token-xero-never-issued"),
                previous_refresh_token=None,
            )
        )
    engine.dispose()


def _runs(world, dag_id: str) -> dict[str, tuple[str, str]]:
    rows = world.state_rows(
        "SELECT business_id, status, summary FROM sync_runs WHERE dag_id = :d ORDER BY started_at", d=dag_id
    )
    return {business: (status, _reason(summary)) for business, status, summary in rows}


def _reason(summary) -> str:
    import json

    summary = json.loads(summary) if isinstance(summary, str) else summary or {}
    return summary.get("reason", "")


def _task_states(run, task_id: str) -> dict[int, str]:
    return {ti.map_index: str(ti.state) for ti in run.get_task_instances() if ti.task_id == task_id}


def _clients_by_tenant(world) -> Counter:
    return Counter((client["_tenant"], client["ExportCode"]) for client in world.clients())


def _tenants(world) -> dict[str, str]:
    """Business id → its XPM tenant id, as its sync runs hold it."""
    return dict(world.state_rows("SELECT DISTINCT business_id, tenant_id FROM sync_runs"))


def _asset_events(run) -> Counter:
    """The asset events Airflow recorded for the DAG run, by asset URI (from its metadata database)."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    query = (
        sa.select(AssetModel.uri)
        .join(AssetEvent, AssetEvent.asset_id == AssetModel.id)
        .where(AssetEvent.source_dag_id == run.dag_id, AssetEvent.source_run_id == run.run_id)
    )
    with create_session() as session:
        return Counter(session.scalars(query).all())


def _xpm_events(world, businesses) -> Counter:
    """One event for each business's XPM clients and contacts: what a run that synced them records."""
    from classxpm.airflow.lineage import xpm_uri

    tenants = _tenants(world)
    return Counter(xpm_uri(tenants[b], records) for b in businesses for records in ("clients", "contacts"))


def _logged(capfd, caplog, records: list[logging.LogRecord]) -> str:
    """What the test logged: the task runner's output (it tells a task's failure) and our loggers' records."""
    out, err = capfd.readouterr()
    return "\n".join([out, err, caplog.text, *(record.getMessage() for record in records)])


class _Records(logging.Handler):
    """Keeps the records it is handed."""

    def __init__(self, level: int) -> None:
        super().__init__(level)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def report_errors():
    """The report step's ERROR records, kept on its own logger: Airflow's logging set-up may take the root
    logger's handlers (pytest's ``caplog`` among them) away during a run."""
    handler, logger = _Records(logging.ERROR), logging.getLogger("classxpm.airflow.sync_tasks")
    logger.addHandler(handler)
    yield handler.records
    logger.removeHandler(handler)


def _errors(records: list[logging.LogRecord], business: str) -> list[str]:
    """The ERROR lines about ``business``."""
    lines = [record.getMessage() for record in records]
    return [line for line in lines if line.startswith(f"business {business}: ")]


def _no_tfn_in(world, text: str) -> list[str]:
    """Where a TFN of the Class database shows, in the reports folder or in ``text`` (the runs' logs)."""
    from fixtures.tfn_scan import hits, scan_files, tfn_forms

    forms = tfn_forms([tfn for (tfn,) in world.class_rows("SELECT tfn FROM funds WHERE tfn IS NOT NULL")])
    assert BAD_TFN in forms, "the scan looks for the held-back TFN too"
    return scan_files(world.reports, forms, 0)[1] + hits(text, forms, "the log")


def test_a_refused_grant_and_a_held_back_fund_hold_back_no_other_business_of_the_run(
    shard_world, capfd, caplog, report_errors
):
    world = shard_world
    _refuse_grant(world, REFUSED)
    businesses = sorted([world.business_id, *EXTRA])
    partner = businesses[businesses.index(REFUSED) ^ 1]

    run, reports = world.dag_run()
    log = _logged(capfd, caplog, report_errors)

    assert str(run.state) == "failed", "a business whose grant Xero refused fails the run"
    assert _task_states(run, "extract") == {0: "success", 1: "success", 2: "success"}, "three shards"
    assert _task_states(run, "report") == dict.fromkeys(range(3), "success"), (
        "a shard with one synced succeeds"
    )
    assert _task_states(run, "finish") == {-1: "failed"}, "the teardown fails the run"
    assert f"1 businesses of this run failed: {REFUSED} (" in log, "finish names the failed business"
    assert ["Re-authorisation required" in line for line in _errors(report_errors, REFUSED)] == [True], (
        "logs why"
    )
    synced = [b for b in businesses if b != REFUSED]
    assert partner in synced
    assert _asset_events(run) == _xpm_events(world, synced), "the refused business's partner keeps its events"
    by_business = {report["business_id"]: report for report in reports}
    assert sorted(by_business) == synced
    runs = _runs(world, "class_xpm_sync")
    assert runs[REFUSED][0] == "failed"
    assert "authoris" in runs[REFUSED][1].lower(), "the run says the grant must be authorised again"
    assert {b: status for b, (status, _) in runs.items() if b != REFUSED} == dict.fromkeys(
        by_business, "success"
    )
    held = by_business[QUARANTINED]
    assert held["counts"]["quarantined"] == 1
    assert held["counts"]["created"] == FUNDS_EACH - 1
    assert [p["status"] for p in held["problems"]] == ["quarantined"]
    assert "TFN fails its check digit" in held["problems"][0]["detail"]
    assert _no_tfn_in(world, log) == [], "no TFN in any report or log line"
    assert by_business[world.business_id]["counts"]["created"] == 30
    clients = _clients_by_tenant(world)
    assert set(clients.values()) == {1}, "XPM holds each fund once"
    assert len(clients) == 30 + 2 * FUNDS_EACH + (FUNDS_EACH - 1)

    world.clear_calls()
    again, _ = world.dag_run()
    assert str(again.state) == "success", "start now leaves the refused grant out, as it always did"
    assert _task_states(again, "finish") == {-1: "success"}
    assert world.writes() == 0, "a re-run writes nothing"
    assert _clients_by_tenant(world) == clients

    incremental, reports = world.dag_run("class_xpm_incremental")
    assert str(incremental.state) == "success"
    assert world.writes() == 0
    assert _task_states(incremental, "sync") == {0: "success", 1: "success"}, "one task a shard of two"
    assert {r["business_id"] for r in reports} == set(by_business)
    assert REFUSED not in _runs(world, "class_xpm_incremental")


def test_the_compact_dag_keeps_the_events_of_a_shard_whose_other_business_failed(
    shard_world, capfd, caplog, report_errors
):
    world = shard_world
    _refuse_grant(world, REFUSED)
    businesses = sorted([world.business_id, *EXTRA])

    run, reports = world.dag_run("class_xpm_incremental")
    log = _logged(capfd, caplog, report_errors)

    assert str(run.state) == "failed"
    assert _task_states(run, "sync") == dict.fromkeys(range(3), "success"), "each shard synced one at least"
    assert _task_states(run, "finish") == {-1: "failed"}
    assert f"1 businesses of this run failed: {REFUSED} (" in log
    assert ["Re-authorisation required" in line for line in _errors(report_errors, REFUSED)] == [True]
    synced = [b for b in businesses if b != REFUSED]
    assert _asset_events(run) == _xpm_events(world, synced)
    assert sorted(r["business_id"] for r in reports) == synced
    assert _runs(world, "class_xpm_incremental")[REFUSED][0] == "failed"
    assert set(_clients_by_tenant(world).values()) == {1}, "XPM holds each fund once"


STOPPED = "b-shard-1"


def _gate_stops(monkeypatch, business: str) -> None:
    """The gate's frames for ``business`` lack the funds' scope code column, as if Class's schema lost it."""
    from dataclasses import replace

    from classxpm.sync import steps

    real = steps._gate_input

    def without_scope_code(env, ref):
        item = real(env, ref)
        return (
            replace(item, funds=item.funds.drop(columns=["scope_code"]))
            if ref.business_id == business
            else item
        )

    monkeypatch.setattr(steps, "_gate_input", without_scope_code)


def test_the_gate_stopping_one_business_stops_it_alone_and_the_run_fails_naming_it(
    shard_world, monkeypatch, capfd, caplog, report_errors
):
    world = shard_world
    _gate_stops(monkeypatch, STOPPED)
    businesses = sorted([world.business_id, *EXTRA])
    assert businesses.index(STOPPED) // 2 == businesses.index(world.business_id) // 2, "one shard"

    run, reports = world.dag_run()
    log = _logged(capfd, caplog, report_errors)

    assert str(run.state) == "failed"
    assert _task_states(run, "validate") == dict.fromkeys(range(3), "success"), "the gate stops one business"
    assert _task_states(run, "report") == dict.fromkeys(range(3), "success")
    assert _task_states(run, "finish") == {-1: "failed"}
    assert f"1 businesses of this run failed: {STOPPED} (" in log
    assert ["validation stopped" in line for line in _errors(report_errors, STOPPED)] == [True], (
        "report logs why"
    )
    status, reason = _runs(world, "class_xpm_sync")[STOPPED]
    assert status == "failed"
    assert reason.startswith("validation stopped")
    assert "lacks column scope_code" in reason
    summary = Path(reason.rsplit("report: ", 1)[1])
    assert summary.is_file(), "the reason names the stopped report"
    assert json.loads((summary.parent / "validation.json").read_text())["status"] == "stopped"
    tenants = _tenants(world)
    clients = _clients_by_tenant(world)
    assert not [code for tenant, code in clients if tenant == tenants[STOPPED]], "nothing written for it"
    assert set(clients.values()) == {1}, "XPM holds each fund once"
    synced = [b for b in businesses if b != STOPPED]
    by_business = {report["business_id"]: report for report in reports}
    assert sorted(by_business) == synced
    assert by_business[world.business_id]["counts"]["created"] == 30, "its shard partner synced"
    held = by_business[QUARANTINED]["counts"]
    assert (held["created"], held["quarantined"]) == (FUNDS_EACH - 1, 1)
    assert {b: by_business[b]["counts"]["created"] for b in ("b-shard-3", "b-shard-4")} == dict.fromkeys(
        ("b-shard-3", "b-shard-4"), FUNDS_EACH
    ), "the other shards are untouched"
    assert {b: status for b, (status, _) in _runs(world, "class_xpm_sync").items() if b != STOPPED} == (
        dict.fromkeys(synced, "success")
    )
    assert len(clients) == 30 + 2 * FUNDS_EACH + (FUNDS_EACH - 1)
    assert _asset_events(run) == _xpm_events(world, synced)
    assert _no_tfn_in(world, log) == [], "no TFN in any report or log line"
