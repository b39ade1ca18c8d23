"""Injected faults over loopback HTTP: 500/503 at a rate, latency, 429 bursts, lost responses, seeds."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET

import httpx
import pytest

ADD = "POST client.api/add"


@pytest.fixture
def api(xpm_sim):
    with xpm_sim.api_client() as client:
        yield client


def _add(api, name: str) -> httpx.Response:
    return api.post("client.api/add", content=f"<Client><Name>{name}</Name></Client>".encode())


def _names(api) -> list[str]:
    root = ET.fromstring(api.get("client.api/list").content)
    return [client.findtext("Name") for client in root.findall("Clients/Client")]


def test_503_fault_is_servicenotavailable_and_applies_nothing(xpm_sim, api):
    xpm_sim.set_faults([{"endpoint": ADD, "error_rate": 1.0, "statuses": [503]}])
    answer = _add(api, "A")
    assert answer.status_code == 503
    body = answer.json()
    assert (body["Title"], body["Detail"]) == ("Unavailable", "ServiceNotAvailable")
    assert body["Instance"] == answer.headers["xero-correlation-id"]
    assert "x-minlimit-remaining" in answer.headers
    assert _names(api) == []


def test_500_fault_and_other_endpoints_untouched(xpm_sim, api):
    xpm_sim.set_faults([{"endpoint": ADD, "error_rate": 1.0, "statuses": [500]}])
    assert _add(api, "A").status_code == 500
    assert api.get("client.api/list").status_code == 200
    assert xpm_sim.calls()["by_endpoint"][ADD] == 1


def test_global_rule_covers_every_api_endpoint_but_not_identity(xpm_sim, api):
    xpm_sim.set_faults([{"endpoint": "*", "error_rate": 1.0, "statuses": [503]}])
    assert api.get("client.api/list").status_code == 503
    assert xpm_sim.authorize()["access_token"]


def test_faults_are_reproducible_from_the_seed(xpm_sim, api):
    rules = [{"endpoint": "GET client.api/list", "error_rate": 0.5, "statuses": [500, 503]}]

    def run() -> list[int]:
        xpm_sim.set_faults(rules, seed=7)
        return [api.get("client.api/list").status_code for _ in range(16)]

    first = run()
    assert first == run()
    assert {200, 500, 503} <= set(first)


def test_latency_is_added(xpm_sim, api):
    xpm_sim.set_faults([{"endpoint": "GET client.api/list", "latency_ms": 300}])
    started = time.monotonic()
    assert api.get("client.api/list").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_burst_of_429_then_normal(xpm_sim, api):
    xpm_sim.set_faults([{"endpoint": "GET client.api/list", "burst_429": 2}])
    answers = [api.get("client.api/list") for _ in range(3)]
    assert [a.status_code for a in answers] == [429, 429, 200]
    assert answers[0].headers["x-rate-limit-problem"] == "minute"
    assert answers[0].headers["retry-after"] == "1"
    assert xpm_sim.state()["faults"]["rules"][0]["burst_429"] == 0


def test_lost_response_applies_the_write_and_drops_the_connection(xpm_sim, api):
    xpm_sim.set_faults([{"endpoint": ADD, "lost_response_rate": 1.0}])
    with pytest.raises(httpx.TransportError):
        _add(api, "Written but unanswered")
    xpm_sim.set_faults([])
    assert _names(api) == ["Written but unanswered"]
    entries = [e for e in xpm_sim.calls()["entries"] if e["endpoint"] == ADD]
    assert [e["status"] for e in entries] == ["lost"]


def test_lost_refresh_response_is_recovered_with_the_old_token(xpm_sim):
    tokens = xpm_sim.authorize()
    xpm_sim.set_faults([{"endpoint": "POST /connect/token", "lost_response_rate": 1.0}])
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    auth = (xpm_sim.client_id, xpm_sim.client_secret)
    with httpx.Client(base_url=xpm_sim.base_url) as http:
        with pytest.raises(httpx.TransportError):
            http.post("/connect/token", data=form, auth=auth)
        xpm_sim.set_faults([])
        assert http.post("/connect/token", data=form, auth=auth).status_code == 200


def test_malformed_fault_spec_is_refused(xpm_sim):
    answer = xpm_sim.admin.put("/_sim/faults", json={"rules": [{"endpoint": ADD, "error_rate": 2}]})
    assert answer.status_code == 400
    answer = xpm_sim.admin.put("/_sim/faults", json={"rules": [{"endpoint": ADD, "bogus": 1}]})
    assert answer.status_code == 400
    assert xpm_sim.admin.delete("/_sim/faults").json() == {"seed": 0, "rules": []}
