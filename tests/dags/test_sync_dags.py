"""The sync DAGs end to end with ``dag.test()``: demo Class data, PostgreSQL state, the XPM simulator."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.postgres


def _by_code(world) -> dict[str, dict]:
    return {c["ExportCode"]: c for c in world.clients()}


def _source_codes(world) -> list[str]:
    return [row.scope_code for row in world.class_rows("SELECT scope_code FROM funds ORDER BY scope_code")]


def _member_counts(world) -> dict[str, int]:
    statement = "SELECT scope_code, count(*) FROM funds JOIN members USING (fund_id) GROUP BY scope_code"
    return dict(world.class_rows(statement))


def test_first_sync_creates_each_fund_once_with_its_members_and_reports_refusals(sync_world, error_form):
    first, second = _source_codes(sync_world)[3:5]
    sync_world.source("UPDATE funds SET tfn = '876543210' WHERE scope_code IN (:a, :b)", a=first, b=second)
    state, report = sync_world.run()
    clients = _by_code(sync_world)
    refused = {p["scope_code"] for p in report["problems"] if p["status"] == "failed"}
    assert report["counts"]["created"] == len(clients) == len(_source_codes(sync_world)) - len(refused)
    assert sync_world.calls()["POST client.api/add"] == len(_source_codes(sync_world))
    members = _member_counts(sync_world)
    assert {code: len(c["_contacts"]) for code, c in clients.items()} == {c: members[c] for c in clients}
    assert len(refused & {first, second}) == 1, "XPM refuses a TFN another client already has"
    assert state == "failed", "a refused record fails the run, after every other record was sent"
    assert "XPM refused it" in report["problems"][0]["detail"]
    assert "876543210" not in str(report)


def test_a_fund_failing_the_gate_is_quarantined_and_the_rest_sync(sync_world):
    bad, zero = _source_codes(sync_world)[2:4]
    sync_world.source("UPDATE funds SET tfn = '123456789' WHERE scope_code = :c", c=bad)
    sync_world.source("UPDATE funds SET tfn = '000000000' WHERE scope_code = :c", c=zero)
    state, report = sync_world.run()
    assert state == "success"
    assert report["counts"]["quarantined"] == 2
    assert report["counts"]["created"] == len(_source_codes(sync_world)) - 2
    tfn_problem = "TFN fails its check digit: correct the fund's TFN in Class, or clear it if it has none"
    assert {p["scope_code"]: p["detail"] for p in report["problems"]} == {bad: tfn_problem, zero: tfn_problem}
    assert {bad, zero}.isdisjoint(_by_code(sync_world))
    sync_world.source(
        "UPDATE funds SET tfn = NULL, updated_at = '2027-03-01' WHERE scope_code IN (:a, :b)", a=bad, b=zero
    )
    _, fixed = sync_world.run("class_xpm_incremental")
    assert fixed["counts"]["created"] == 2, "fixed in Class, sent by the next run with no manual step"


def test_a_second_run_with_no_change_makes_no_writes(sync_world):
    sync_world.run()
    sync_world.clear_calls()
    _, report = sync_world.run()
    assert sync_world.writes() == 0
    assert report["counts"]["created"] == 0
    assert sync_world.calls()["GET client.api/list"] == 1, "one read of the whole practice"
    assert "GET client.api/paged-list" not in sync_world.calls(), "paged-list carries no contacts"


def test_changing_one_address_makes_exactly_one_update(sync_world):
    sync_world.run()
    code = _source_codes(sync_world)[0]
    sync_world.source(
        "UPDATE funds SET physical_city = 'Wagga Wagga', updated_at = '2027-01-01' WHERE scope_code = :c",
        c=code,
    )
    sync_world.clear_calls()
    _, report = sync_world.run()
    assert sync_world.writes() == 1
    assert sync_world.calls()["PUT client.api/update"] == 1
    assert _by_code(sync_world)[code]["City"] == "Wagga Wagga"
    assert report["counts"]["updated"] == 1


def test_a_fund_added_in_class_is_created_by_the_incremental_dag(sync_world):
    sync_world.run("class_xpm_incremental")
    sync_world.source(
        "INSERT INTO funds (fund_id, business_id, scope_code, scope_description, created_at, updated_at) "
        "VALUES ('new-fund', :b, 'NEWFUND01', 'Brand New Super Fund', '2027-02-01', '2027-02-01')",
        b=sync_world.business_id,
    )
    sync_world.clear_calls()
    _, report = sync_world.run("class_xpm_incremental")
    assert report["counts"]["created"] == 1
    assert sync_world.writes() == 1
    assert "GET client.api/paged-list" not in sync_world.calls(), "incremental runs read only what changed"
    assert all("modifiedSince=" in q for q in sync_world.queries("GET client.api/list")), "only what changed"
    assert _by_code(sync_world)["NEWFUND01"]["Name"] == "Brand New Super Fund"


def test_existing_clients_with_the_scope_code_are_linked_not_duplicated(sync_world):
    codes = _source_codes(sync_world)[:3]
    sync_world.sim.seed(
        {
            "clients": [
                {"tenant": sync_world.sim.tenant_id, "Name": f"Old {c}", "ExportCode": c} for c in codes
            ]
        }
    )
    _, report = sync_world.run()
    clients = sync_world.clients()
    assert len([c for c in clients if c["ExportCode"] in codes]) == 3
    assert report["counts"]["linked"] == 3
    assert all(not c["Name"].startswith("Old ") for c in clients), "linked clients take Class's values"


def test_a_client_edited_by_hand_in_xpm_is_put_back_by_a_full_resync(sync_world):
    sync_world.run()
    code = _source_codes(sync_world)[1]
    client = _by_code(sync_world)[code]
    sync_world.sim.api_client().put(
        "client.api/update",
        content=f"<Client><UUID>{client['UUID']}</UUID><Name>Edited by hand</Name></Client>",
    )
    sync_world.clear_calls()
    _, report = sync_world.run()
    assert _by_code(sync_world)[code]["Name"] == client["Name"]
    assert report["counts"]["updated"] == 1
    assert sync_world.writes() == 1


def test_a_dry_run_writes_nothing_and_leaves_the_watermark(sync_world):
    _, report = sync_world.run(dry_run=True)
    assert sync_world.writes() == 0
    assert sync_world.clients() == []
    assert report["dry_run"] is True
    assert report["counts"]["created"] == len(_source_codes(sync_world))
    assert all(
        f["field"] != "TaxNumber" or "*" in (f["after"] or "*") for d in report["diff"] for f in d["fields"]
    )
    engine = sa.create_engine(sync_world.state_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM watermarks")).scalar() == 0
        assert conn.execute(sa.text("SELECT count(*) FROM fund_links")).scalar() == 0
    engine.dispose()


def test_a_lost_response_on_add_leaves_exactly_one_client(sync_world):
    sync_world.sim.set_faults([{"endpoint": "POST client.api/add", "lost_response_rate": 0.3}], seed=5)
    sync_world.run()
    sync_world.sim.set_faults([])
    sync_world.run()
    codes = [c["ExportCode"] for c in sync_world.clients()]
    assert len(codes) == len(set(codes)), "no client was created twice"
    assert "lost" in sync_world.sim.calls()["by_status"]


def test_a_429_burst_mid_run_slows_it_but_loses_nothing(sync_world):
    sync_world.sim.set_faults([{"endpoint": "POST client.api/add", "burst_429": 3}])
    _, report = sync_world.run()
    assert sync_world.sim.calls()["by_status"].get("429", 0) >= 3
    assert report["counts"]["failed"] == len([p for p in report["problems"] if p["status"] == "failed"])
    assert report["counts"]["created"] + report["counts"]["failed"] == len(_source_codes(sync_world))


def test_the_daily_quota_is_respected_and_the_rest_deferred(sync_world):
    sync_world.sim.patch_config(day_limit=520)
    _, report = sync_world.run()
    deferred = report["counts"]["deferred"]
    assert deferred > 0
    assert report["counts"]["created"] + report["counts"].get("failed", 0) + deferred == len(
        _source_codes(sync_world)
    )
    assert sync_world.sim.calls()["by_status"].get("429", 0) == 0, "the reserve keeps the run under the limit"
