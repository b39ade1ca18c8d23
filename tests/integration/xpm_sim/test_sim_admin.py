"""The /_sim/ admin API: reset, seed, state, calls, clock, config; and what is logged."""

from __future__ import annotations

import httpx

from classxpm.xpm_sim.config import DEFAULT_TENANT_ID


def test_default_state(xpm_sim):
    state = xpm_sim.state()
    assert state["tenants"] == [{"id": DEFAULT_TENANT_ID, "name": "Demo Practice"}]
    assert [u["email"] for u in state["users"]] == ["demo@practice.example"]
    assert state["apps"] == [{"client_id": "classxpm-demo", "client_secret": "***", "redirect_uris": []}]
    assert state["config"]["client_secret"] == "***"


def test_calls_are_logged_by_endpoint_tenant_and_status(xpm_sim):
    with xpm_sim.api_client() as api:
        api.get("client.api/list")
        api.get("client.api/get/00000000-0000-0000-0000-000000000000")
        api.get("client.api/no-such-endpoint")
    xpm_sim.admin.get("/_sim/state")
    calls = xpm_sim.calls()
    assert calls["by_endpoint"]["GET client.api/list"] == 1
    assert calls["by_endpoint"]["GET client.api/get/{uuid}"] == 1
    assert calls["by_endpoint"]["POST /connect/token"] == 1
    assert calls["by_endpoint"]["GET /practicemanager/3.1/client.api/no-such-endpoint"] == 1
    assert calls["by_tenant"][DEFAULT_TENANT_ID] == 3
    assert calls["by_status"]["404"] == 1
    assert calls["total"] == len(calls["entries"]) == 5
    assert set(calls["entries"][0]) == {
        "at",
        "method",
        "path",
        "query",
        "endpoint",
        "tenant",
        "status",
        "bytes",
    }
    listed = next(e for e in calls["entries"] if e["endpoint"] == "GET client.api/list")
    assert listed["bytes"] > 0
    assert calls["bytes_by_endpoint"]["GET client.api/list"] == listed["bytes"]
    assert calls["bytes"] == sum(e["bytes"] for e in calls["entries"])
    assert not any(e["path"].startswith("/_sim/") for e in calls["entries"])
    assert xpm_sim.admin.delete("/_sim/calls").status_code == 200
    assert xpm_sim.calls()["total"] == 0


def test_unknown_path_is_404_with_a_correlation_id(xpm_sim):
    answer = httpx.get(f"{xpm_sim.base_url}/practicemanager/3.1/nothing.api/here")
    assert answer.status_code == 404
    assert answer.headers["xero-correlation-id"]


def test_clock_get_advance_and_set(xpm_sim):
    before = xpm_sim.admin.get("/_sim/clock").json()
    assert before["time_scale"] == 1.0
    moved = xpm_sim.admin.post("/_sim/clock", json={"set": "2030-01-01T00:00:00+00:00"}).json()
    assert moved["now"].startswith("2030-01-01T00:00")
    advanced = xpm_sim.advance_clock(86_400)
    assert advanced["now"].startswith("2030-01-02T00:00")
    assert xpm_sim.admin.post("/_sim/clock", json={}).status_code == 400


def test_config_patch_validates_and_reset_keeps_or_restores_it(xpm_sim):
    assert xpm_sim.patch_config(minute_limit=7)["minute_limit"] == 7
    assert xpm_sim.admin.patch("/_sim/config", json={"no_such": 1}).status_code == 400
    assert xpm_sim.admin.patch("/_sim/config", json={"unknown_uuid_status": 500}).status_code == 400
    assert xpm_sim.admin.patch("/_sim/config", json={"minute_limit": "many"}).status_code == 400
    xpm_sim.reset(default_config=False)
    assert xpm_sim.admin.get("/_sim/config").json()["minute_limit"] == 7
    xpm_sim.reset()
    assert xpm_sim.admin.get("/_sim/config").json()["minute_limit"] == 60


def test_reset_forgets_records_tokens_and_faults(xpm_sim):
    tokens = xpm_sim.authorize()
    xpm_sim.seed({"clients": [{"Name": "A"}]})
    xpm_sim.set_faults([{"endpoint": "*", "error_rate": 1.0}])
    xpm_sim.reset()
    state = xpm_sim.state()
    assert (state["clients"], state["connections"], state["faults"]["rules"]) == ([], [], [])
    with xpm_sim.api_client(tokens["access_token"]) as api:
        assert api.get("client.api/list").json()["Detail"] == "AuthenticationUnsuccessful"


def test_seed_returns_ids_and_refuses_unknown_references(xpm_sim):
    created = xpm_sim.seed(
        {
            "tenants": [{"id": "11111111-1111-1111-1111-111111111111", "name": "Fixed"}],
            "clients": [
                {"tenant": "Fixed", "Name": "A", "TaxNumber": "123456782", "Contacts": [{"Name": "C"}]}
            ],
        }
    )
    assert created["tenants"] == [{"id": "11111111-1111-1111-1111-111111111111", "name": "Fixed"}]
    assert created["clients"][0]["tenant"] == "11111111-1111-1111-1111-111111111111"
    assert len(created["clients"][0]["contacts"]) == 1
    assert xpm_sim.state()["clients"][0]["TaxNumber"] == "123456782"
    bad = xpm_sim.admin.post("/_sim/seed", json={"clients": [{"tenant": "Nowhere", "Name": "A"}]})
    assert (bad.status_code, bad.json()["error"]) == (400, "unknown tenant 'Nowhere'")
    no_client = xpm_sim.admin.post("/_sim/seed", json={"jobs": [{"Name": "J", "client_export_code": "none"}]})
    assert no_client.status_code == 400


def test_missing_tenant_header_is_forbidden(xpm_sim):
    token = xpm_sim.authorize()["access_token"]
    answer = httpx.get(
        f"{xpm_sim.base_url}/practicemanager/3.1/client.api/list",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert (answer.status_code, answer.json()["Title"]) == (403, "Forbidden")
