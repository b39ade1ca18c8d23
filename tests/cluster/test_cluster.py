"""The product on a real CeleryExecutor cluster: two workers share the writes, and XPM gets each fund once.

Hostnames come from Airflow's own task instances (REST API); what XPM holds comes from the simulator's
state; what the pipeline recorded comes from the cluster's state database and run report.
"""

from __future__ import annotations

import json
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from classxpm.cluster import WORKERS, kill_session
from classxpm.source.demo_data import DEMO_BUSINESS_ID
from fixtures.tfn_scan import ENCRYPTED, scan_database, scan_files, tfn_forms

BATCH_SIZE = 100
NEW_FUNDS = 200
INCREMENTAL = "class_xpm_incremental"

# Bringing the cluster up is part of the first test; waits inside end on conditions, this only bounds them.
pytestmark = pytest.mark.timeout(2400)


def _outcomes(cluster, scope_like: str = "%") -> dict[str, str]:
    """Each fund's latest recorded outcome (scope code: status) in the state database."""
    rows = cluster.rows(
        "state",
        "SELECT scope_code, status FROM sync_outcomes WHERE scope_code LIKE :like ORDER BY id",
        like=scope_like,
    )
    return dict(rows)


def _assert_each_fund_once(cluster) -> Counter[str]:
    held = cluster.export_codes()
    assert [code for code, n in held.items() if n > 1] == [], "an XPM client was created twice"
    linked = dict(cluster.rows("state", "SELECT scope_code, client_uuid FROM fund_links"))
    assert {code for code in held if not linked.get(code)} == set(), (
        "an XPM client the state DB has no link for"
    )
    return held


def test_the_plugin_pages_answer_from_the_clusters_api_server(cluster):
    url = f"{cluster.state['api_url']}/classxpm/settings?business={DEMO_BUSINESS_ID}"
    signed_in = httpx.get(url, cookies={"_token": cluster.token}, timeout=60)
    assert signed_in.status_code == 200
    assert "Xero Integration Authorised" in signed_in.text
    assert httpx.get(url, timeout=60, follow_redirects=False).status_code in {401, 403, 307}


def test_starting_it_again_starts_nothing(cluster):
    from classxpm.cluster import is_running, up

    before = json.loads(cluster.spec.state_file.read_text())["processes"]
    messages: list[str] = []
    again = up(cluster.spec, echo=messages.append)
    assert again["processes"] == before
    assert all(is_running(record) for record in before.values())
    assert messages == [f"The cluster is already up: {cluster.state['api_url']} (make cluster-down stops it)"]


def test_each_worker_imports_the_sync_modules_once_before_forking_its_task_processes(cluster):
    for worker in WORKERS:
        log = Path(cluster.process(worker)["log"]).read_text(errors="replace")
        assert log.count("classxpm: the sync's modules are imported for this worker's tasks") == 1, worker


def test_a_first_sync_runs_its_upserts_on_both_workers_and_creates_each_fund_once(cluster):
    run = cluster.run_sync({"batch_size": BATCH_SIZE})
    assert run["state"] == "success"
    upserts = cluster.task_instances(run["dag_run_id"], "upsert")
    assert len(upserts) >= 2000 // BATCH_SIZE - 2
    assert {ti["state"] for ti in upserts} == {"success"}
    assert {ti["hostname"] for ti in upserts} == set(WORKERS), "both workers ran upserts"
    held = _assert_each_fund_once(cluster)
    outcomes = _outcomes(cluster)
    class_codes = {code for (code,) in cluster.rows("class", "SELECT scope_code FROM funds")}
    assert set(outcomes) == class_codes, "every Class fund has a recorded outcome: nothing dropped"
    created = {code for code, status in outcomes.items() if status == "created"}
    assert len(created) >= 1800
    assert set(held) == created, "every fund recorded as created is in XPM once, and nothing else is"
    assert set(Counter(outcomes.values())) <= {"created", "quarantined"}


def _insert_new_funds(cluster, count: int) -> set[str]:
    codes = {f"KILLTEST{n:04d}" for n in range(count)}
    cluster.rows(
        "class",
        "INSERT INTO funds (fund_id, business_id, scope_code, scope_description, created_at, updated_at) "
        "SELECT 'kill-' || code, :business, code, 'Kill Test Fund ' || code, now(), now() "
        "FROM unnest(CAST(:codes AS text[])) AS code",
        business=DEMO_BUSINESS_ID,
        codes=sorted(codes),
    )
    return codes


def test_a_worker_killed_mid_upsert_is_noticed_and_its_batch_retried_on_the_other_worker(cluster):
    new = _insert_new_funds(cluster, NEW_FUNDS)
    # Each write takes a while, so an upsert batch is still running when the worker dies.
    cluster.sim.put("/_sim/faults", json={"seed": 1, "rules": [{"latency_ms": 200}]}).raise_for_status()
    writes_before = cluster.sim_writes()
    killed: dict[str, Any] = {}

    def kill_a_worker_mid_upsert(run_id: str) -> None:
        def running_upsert() -> dict | None:
            if cluster.sim_writes() <= writes_before:
                return None
            running = [ti for ti in cluster.task_instances(run_id, "upsert") if ti["state"] == "running"]
            return next((ti for ti in running if ti["hostname"] in WORKERS), None)

        ti = cluster.wait_for("an upsert running while XPM sees writes", running_upsert)
        worker = ti["hostname"]
        # The worker and everything it started (Celery's pool, Airflow's supervisor, the task process in a
        # group of its own) die at once, as when the machine under a worker goes away.
        assert kill_session(cluster.process(worker)["pid"], signal.SIGKILL)
        killed.update(worker=worker, map_index=ti["map_index"])

    try:
        run = cluster.run_sync({"batch_size": 25}, while_running=kill_a_worker_mid_upsert)
    finally:
        cluster.sim.put("/_sim/faults", json={"seed": 0, "rules": []})
    assert run["state"] == "success"
    survivor = next(name for name in WORKERS if name != killed["worker"])
    tries = cluster.tries(run["dag_run_id"], "upsert", killed["map_index"])
    assert [t["hostname"] for t in tries][:1] == [killed["worker"]]
    assert tries[0]["state"] == "failed", "Airflow noticed the dead worker's task"
    final = next(
        ti
        for ti in cluster.task_instances(run["dag_run_id"], "upsert")
        if ti["map_index"] == killed["map_index"]
    )
    assert (final["state"], final["hostname"]) == ("success", survivor)
    assert final["try_number"] >= 2
    held = _assert_each_fund_once(cluster)
    assert new <= set(held), "every new fund reached XPM"
    outcomes = _outcomes(cluster, "KILLTEST%")
    assert outcomes == dict.fromkeys(new, "created"), "every new fund's outcome is recorded once, as created"


def _incremental_runs(cluster) -> list[Any]:
    return cluster.rows(
        "airflow", "SELECT run_id, run_type, state FROM dag_run WHERE dag_id = :d ORDER BY id", d=INCREMENTAL
    )


def test_a_fund_added_in_class_reaches_xpm_through_the_watcher_with_nobody_triggering_a_run(cluster):
    """Instant sync on the cluster: the triggerer's watcher starts the incremental DAG, the workers run it."""
    cluster.call("PATCH", f"/api/v2/dags/{INCREMENTAL}", json={"is_paused": False})
    try:
        cluster.wait_for(
            "the watcher's first read of Class",
            lambda: cluster.rows("airflow", "SELECT 1 FROM asset_state_store WHERE key = 'fingerprint'"),
        )
        cluster.wait_for(
            "the incremental runs unpausing started to finish",
            lambda: all(run.state in {"success", "failed"} for run in _incremental_runs(cluster)),
        )
        earlier = {run.run_id for run in _incremental_runs(cluster)}
        cluster.rows(
            "class",
            "INSERT INTO funds (fund_id, business_id, scope_code, scope_description, created_at, updated_at) "
            "VALUES ('watched-1', :business, 'WATCHED0001', 'Watched Fund', now(), now())",
            business=DEMO_BUSINESS_ID,
        )
        cluster.wait_for("the new fund in XPM", lambda: "WATCHED0001" in cluster.export_codes())
        run = cluster.wait_for(
            "the run that sent it to finish",
            lambda: next(
                (r for r in _incremental_runs(cluster) if r.run_id not in earlier and r.state != "running"),
                None,
            ),
        )
    finally:
        cluster.call("PATCH", f"/api/v2/dags/{INCREMENTAL}", json={"is_paused": True})
    assert (run.run_type, run.state) == ("asset_triggered", "success"), "the watcher's event started it"
    path = f"/api/v2/dags/{INCREMENTAL}/dagRuns/{run.run_id}/taskInstances"
    ran = cluster.call("GET", path, params={"limit": 100})["task_instances"]
    assert {ti["hostname"] for ti in ran if ti["task_id"] == "sync"} <= set(WORKERS)
    assert cluster.export_codes()["WATCHED0001"] == 1
    assert _outcomes(cluster, "WATCHED%") == {"WATCHED0001": "created"}


def test_no_source_tfn_reaches_the_clusters_logs_reports_or_databases_after_its_syncs(cluster):
    """Item 5 on the cluster: the task logs of both workers, every service's log, the reports, Airflow's
    metadata DB and the state DB (outside its encrypted columns) after the syncs above.

    The simulator's own log and database are XPM's side, which is sent each fund's TFN: not scanned.
    """
    tfns = [tfn for (tfn,) in cluster.rows("class", "SELECT tfn FROM funds WHERE tfn IS NOT NULL")]
    forms = tfn_forms(tfns)
    run_dir = cluster.spec.run_dir
    task_logs, in_task_logs = scan_files(run_dir / "airflow" / "logs", forms, 0)
    service_logs, in_service_logs = scan_files(run_dir / "logs", forms, 0)
    in_service_logs = [
        hit for hit in in_service_logs if not hit.startswith(str(run_dir / "logs" / "xpm-sim"))
    ]
    reports, in_reports = scan_files(run_dir / "reports", forms, 0)
    meta_rows, in_meta = scan_database(cluster.spec.database_url("airflow"), forms, set())
    state_rows, in_state = scan_database(cluster.spec.database_url("state"), forms, ENCRYPTED)
    print(
        f"TFN scan of the cluster: {len(tfns)} source TFNs in {len(forms)} forms; {task_logs} task log "
        f"files, {service_logs} service logs, {reports} report files, {meta_rows} Airflow metadata rows, "
        f"{state_rows} state rows"
    )
    assert scan_database(cluster.spec.database_url("class"), forms, set())[1], "it finds them in Class"
    assert task_logs > 0, "the scan read the task logs the runs left"
    assert service_logs > len(WORKERS), "and every service's log"
    assert reports > 0, "and the runs' reports"
    assert in_task_logs + in_service_logs + in_reports + in_meta + in_state == []
