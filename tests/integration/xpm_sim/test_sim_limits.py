"""Xero's limits over loopback HTTP: headers on every response, each 429 kind, fixed windows, no races."""

from __future__ import annotations

import threading
from collections import Counter

import httpx
import pytest

SECOND_TENANT = {
    "tenants": [{"name": "Second"}],
    "users": [{"email": "demo@practice.example", "tenants": ["Second"]}],
}


@pytest.fixture
def token(xpm_sim) -> str:
    return xpm_sim.authorize()["access_token"]


def _get(xpm_sim, token: str, tenant: str | None = None, http: httpx.Client | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}", "xero-tenant-id": tenant or xpm_sim.tenant_id}
    url = f"{xpm_sim.base_url}/practicemanager/3.1/client.api/list"
    return (http or httpx).get(url, headers=headers)


def _parallel(count: int, call) -> list[httpx.Response]:
    barrier = threading.Barrier(count)
    results: list[httpx.Response] = [None] * count  # type: ignore[list-item]

    def run(index: int) -> None:
        barrier.wait()
        results[index] = call()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_every_api_response_carries_the_remaining_counts(xpm_sim, token):
    first, second = _get(xpm_sim, token), _get(xpm_sim, token)
    assert (first.headers["x-minlimit-remaining"], second.headers["x-minlimit-remaining"]) == ("59", "58")
    assert (first.headers["x-daylimit-remaining"], second.headers["x-daylimit-remaining"]) == ("4999", "4998")
    assert int(first.headers["x-appminlimit-remaining"]) > int(second.headers["x-appminlimit-remaining"])
    assert first.headers["xero-correlation-id"] != second.headers["xero-correlation-id"]


def test_auth_errors_carry_only_the_app_minute_count(xpm_sim):
    answer = _get(xpm_sim, "garbage")
    assert answer.status_code == 401
    assert "x-appminlimit-remaining" in answer.headers
    assert "x-minlimit-remaining" not in answer.headers


def test_minute_limit_in_a_fixed_window(xpm_sim, token):
    xpm_sim.patch_config(minute_limit=3)
    assert [_get(xpm_sim, token).status_code for _ in range(3)] == [200, 200, 200]
    xpm_sim.advance_clock(20)
    refused = _get(xpm_sim, token)
    assert refused.status_code == 429
    assert refused.content == b""
    assert refused.headers["x-rate-limit-problem"] == "minute"
    assert refused.headers["x-minlimit-remaining"] == "0"
    assert 39 <= int(refused.headers["retry-after"]) <= 40
    xpm_sim.advance_clock(40)
    assert _get(xpm_sim, token).status_code == 200


def test_day_limit(xpm_sim, token):
    xpm_sim.patch_config(day_limit=4)
    for _ in range(4):
        assert _get(xpm_sim, token).status_code == 200
        xpm_sim.advance_clock(61)
    refused = _get(xpm_sim, token)
    assert (refused.status_code, refused.headers["x-rate-limit-problem"]) == (429, "day")
    assert refused.headers["x-daylimit-remaining"] == "0"
    assert 86_000 < int(refused.headers["retry-after"]) <= 86_400
    xpm_sim.advance_clock(86_400)
    fresh = xpm_sim.authorize()["access_token"]
    assert _get(xpm_sim, fresh).status_code == 200


def test_tenants_have_their_own_minute_but_share_the_app_minute(xpm_sim):
    tenant_ids = xpm_sim.seed(SECOND_TENANT)["tenants"]
    xpm_sim.authorize()
    token = xpm_sim.authorize(tenant="Second")["access_token"]
    xpm_sim.patch_config(minute_limit=2, app_minute_limit=3)
    assert [_get(xpm_sim, token).status_code for _ in range(3)] == [200, 200, 429]
    assert _get(xpm_sim, token, tenant_ids[0]["id"]).status_code == 200
    refused = _get(xpm_sim, token, tenant_ids[0]["id"])
    assert (refused.status_code, refused.headers["x-rate-limit-problem"]) == (429, "appminute")
    assert refused.headers["x-appminlimit-remaining"] == "0"


def test_concurrent_limit_under_parallel_clients(xpm_sim, token):
    xpm_sim.set_faults([{"endpoint": "GET client.api/list", "latency_ms": 1000}])
    results = _parallel(8, lambda: _get(xpm_sim, token))
    assert Counter(r.status_code for r in results) == {200: 5, 429: 3}
    refused = [r for r in results if r.status_code == 429]
    assert {r.headers["x-rate-limit-problem"] for r in refused} == {"concurrent"}
    assert all(r.headers["retry-after"] == "1" for r in refused)
    logged = [e["status"] for e in xpm_sim.calls()["entries"] if e["endpoint"] == "GET client.api/list"]
    assert Counter(logged) == {200: 5, 429: 3}


def test_counts_are_exact_under_many_concurrent_clients(xpm_sim, token):
    xpm_sim.patch_config(minute_limit=150, concurrent_limit=1000)

    def ten_calls() -> list[httpx.Response]:
        with httpx.Client() as http:
            return [_get(xpm_sim, token, http=http) for _ in range(10)]

    results = [r for batch in _parallel(20, ten_calls) for r in batch]
    admitted = [r for r in results if r.status_code == 200]
    assert len(admitted) == 150
    assert sorted(int(r.headers["x-minlimit-remaining"]) for r in admitted) == list(range(150))
    assert {r.headers["x-rate-limit-problem"] for r in results if r.status_code == 429} == {"minute"}


def test_time_scale_shrinks_waits_and_lifetimes_together(xpm_sim):
    xpm_sim.patch_config(time_scale=60.0, minute_limit=1)
    tokens = xpm_sim.authorize()
    assert tokens["expires_in"] == 30
    assert _get(xpm_sim, tokens["access_token"]).status_code == 200
    refused = _get(xpm_sim, tokens["access_token"])
    assert (refused.status_code, refused.headers["retry-after"]) == (429, "1")
