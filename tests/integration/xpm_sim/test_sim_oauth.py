"""Xero OAuth over loopback HTTP: authorization code + PKCE, consent, rotation, grace, expiry, revocation."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from classxpm.xpm_sim.config import DEFAULT_TENANT_ID

REDIRECT = "http://127.0.0.1:9999/callback"
SCOPE = "offline_access practicemanager.client practicemanager.job.read"


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def _authorize(sim, http: httpx.Client, **extra: str) -> httpx.Response:
    params = {"response_type": "code", "client_id": sim.client_id, "redirect_uri": REDIRECT, "scope": SCOPE}
    return http.get("/identity/connect/authorize", params={**params, "state": "s-123", **extra})


def _code(response: httpx.Response) -> str:
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["state"] == ["s-123"]
    return query["code"][0]


def _token(sim, http: httpx.Client, **form: str) -> httpx.Response:
    return http.post("/connect/token", data=form, auth=(sim.client_id, sim.client_secret))


def _claims(jwt: str) -> dict:
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@pytest.fixture
def http(xpm_sim):
    with httpx.Client(base_url=xpm_sim.base_url, follow_redirects=False) as client:
        yield client


def test_code_flow_with_pkce_gives_documented_token_set(xpm_sim, http):
    verifier, challenge = _pkce()
    code = _code(_authorize(xpm_sim, http, code_challenge=challenge, code_challenge_method="S256"))

    answer = _token(
        xpm_sim,
        http,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
        code_verifier=verifier,
    )

    assert answer.status_code == 200
    body = answer.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 1800
    assert body["scope"] == SCOPE
    assert body["refresh_token"]
    claims = _claims(body["access_token"])
    assert claims["exp"] - claims["iat"] == 1800
    connections = http.get("/connections", headers={"Authorization": f"Bearer {body['access_token']}"}).json()
    assert connections[0]["authEventId"] == claims["authentication_event_id"]
    assert connections[0]["tenantId"] == DEFAULT_TENANT_ID
    assert connections[0]["tenantType"] == "PRACTICEMANAGER"


def test_wrong_pkce_verifier_is_invalid_grant(xpm_sim, http):
    _, challenge = _pkce()
    code = _code(_authorize(xpm_sim, http, code_challenge=challenge, code_challenge_method="S256"))
    answer = _token(
        xpm_sim,
        http,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
        code_verifier="not-the-verifier",
    )
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_grant")


def test_plain_pkce_method_is_refused_with_redirect(xpm_sim, http):
    answer = _authorize(xpm_sim, http, code_challenge="abc", code_challenge_method="plain")
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert query["error"] == ["invalid_request"]
    assert query["state"] == ["s-123"]


def test_code_is_single_use(xpm_sim, http):
    code = _code(_authorize(xpm_sim, http))
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    assert _token(xpm_sim, http, **form).status_code == 200
    again = _token(xpm_sim, http, **form)
    assert (again.status_code, again.json()) == (400, {"error": "invalid_grant"})


def test_code_expires_after_its_lifetime(xpm_sim, http):
    code = _code(_authorize(xpm_sim, http))
    xpm_sim.advance_clock(301)
    answer = _token(xpm_sim, http, grant_type="authorization_code", code=code, redirect_uri=REDIRECT)
    assert answer.json()["error"] == "invalid_grant"


def test_bad_client_secret_is_invalid_client(xpm_sim, http):
    code = _code(_authorize(xpm_sim, http))
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    answer = http.post("/connect/token", data=form, auth=(xpm_sim.client_id, "wrong"))
    assert (answer.status_code, answer.json()) == (400, {"error": "invalid_client"})


def test_invalid_client_status_is_configurable(xpm_sim, http):
    xpm_sim.patch_config(invalid_client_status=401)
    answer = http.post("/connect/token", data={"grant_type": "refresh_token", "refresh_token": "x"})
    assert (answer.status_code, answer.json()) == (401, {"error": "invalid_client"})


def test_unregistered_redirect_uri_is_refused_on_the_page(xpm_sim, http):
    answer = _authorize(xpm_sim, http, redirect_uri="https://evil.example/cb")
    assert answer.status_code == 400
    assert "location" not in answer.headers
    xpm_sim.patch_config(redirect_uris=["http://localhost:8080/cb"])
    assert _authorize(xpm_sim, http).status_code == 400
    assert _authorize(xpm_sim, http, redirect_uri="http://localhost:8080/cb").status_code == 302


def test_unknown_scope_is_invalid_scope(xpm_sim, http):
    answer = _authorize(xpm_sim, http, scope="offline_access practicemanager.contact")
    assert parse_qs(urlsplit(answer.headers["location"]).query)["error"] == ["invalid_scope"]


def test_consent_page_lists_tenants_and_connects_the_chosen_one(xpm_sim, http):
    ids = xpm_sim.seed(
        {
            "tenants": [{"name": "Second Practice"}],
            "users": [{"email": "demo@practice.example", "tenants": ["Second Practice"]}],
        }
    )
    second = ids["tenants"][0]["id"]
    xpm_sim.patch_config(auto_approve=False)

    page = _authorize(xpm_sim, http)

    assert page.status_code == 200
    assert page.text.count('type="radio"') == 2
    assert "Demo Practice" in page.text
    assert "Second Practice" in page.text
    form = {
        "response_type": "code",
        "client_id": xpm_sim.client_id,
        "redirect_uri": REDIRECT,
        "scope": SCOPE,
        "state": "s-123",
        "tenant": second,
        "decision": "allow",
    }
    code = _code(http.post("/identity/connect/authorize", data=form))
    tokens = _token(xpm_sim, http, grant_type="authorization_code", code=code, redirect_uri=REDIRECT).json()
    connections = http.get(
        "/connections", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    ).json()
    assert [c["tenantId"] for c in connections] == [second]


def test_consent_denied_redirects_access_denied(xpm_sim, http):
    xpm_sim.patch_config(auto_approve=False)
    form = {
        "response_type": "code",
        "client_id": xpm_sim.client_id,
        "redirect_uri": REDIRECT,
        "scope": SCOPE,
        "state": "s-123",
        "decision": "deny",
    }
    answer = http.post("/identity/connect/authorize", data=form)
    assert parse_qs(urlsplit(answer.headers["location"]).query) == {
        "error": ["access_denied"],
        "state": ["s-123"],
    }


def test_second_tenant_adds_a_connection_and_keeps_the_first(xpm_sim, http):
    xpm_sim.seed(
        {
            "tenants": [{"name": "Second Practice"}],
            "users": [{"email": "demo@practice.example", "tenants": ["Second Practice"]}],
        }
    )
    first = xpm_sim.authorize()
    second = xpm_sim.authorize(tenant="Second Practice")
    headers = {"Authorization": f"Bearer {second['access_token']}"}
    connections = http.get("/connections", headers=headers).json()
    assert [c["tenantName"] for c in connections] == ["Demo Practice", "Second Practice"]
    event = _claims(second["access_token"])["authentication_event_id"]
    only_new = http.get("/connections", params={"authEventId": event}, headers=headers).json()
    assert [c["tenantName"] for c in only_new] == ["Second Practice"]
    stale = _token(xpm_sim, http, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert stale.json()["error"] == "invalid_grant"


def test_refresh_rotates_and_old_token_has_a_grace_window(xpm_sim, http):
    first = xpm_sim.authorize()
    rotated = _token(xpm_sim, http, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert rotated.status_code == 200
    assert rotated.json()["refresh_token"] != first["refresh_token"]

    xpm_sim.advance_clock(29 * 60)
    retried = _token(xpm_sim, http, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert retried.status_code == 200

    xpm_sim.advance_clock(2 * 60)
    late = _token(xpm_sim, http, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert (late.status_code, late.json()["error"]) == (400, "invalid_grant")
    newest = _token(xpm_sim, http, grant_type="refresh_token", refresh_token=retried.json()["refresh_token"])
    assert newest.status_code == 200


def test_refresh_token_expires_after_60_idle_days(xpm_sim, http):
    tokens = xpm_sim.authorize()
    xpm_sim.advance_clock(59 * 86400)
    used = _token(xpm_sim, http, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert used.status_code == 200
    xpm_sim.advance_clock(60 * 86400 + 1)
    idle = _token(xpm_sim, http, grant_type="refresh_token", refresh_token=used.json()["refresh_token"])
    assert (idle.status_code, idle.json()["error"]) == (400, "invalid_grant")


def test_expired_access_token_is_token_expired_problem(xpm_sim, http):
    tokens = xpm_sim.authorize()
    xpm_sim.advance_clock(1801)
    answer = http.get(
        "/practicemanager/3.1/client.api/list",
        headers={"Authorization": f"Bearer {tokens['access_token']}", "xero-tenant-id": DEFAULT_TENANT_ID},
    )
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer error=invalid_token"
    body = answer.json()
    assert list(body) == ["Type", "Title", "Status", "Detail", "Instance", "Extensions"]
    assert body["Detail"].startswith("TokenExpired: token expired at ")
    assert body["Instance"] == answer.headers["xero-correlation-id"]


def test_revocation_removes_every_connection_of_the_grant(xpm_sim, http):
    xpm_sim.seed(
        {
            "tenants": [{"name": "Second Practice"}],
            "users": [{"email": "demo@practice.example", "tenants": ["Second Practice"]}],
        }
    )
    xpm_sim.authorize()
    tokens = xpm_sim.authorize(tenant="Second Practice")

    answer = http.post(
        "/connect/revocation",
        data={"token": tokens["refresh_token"]},
        auth=(xpm_sim.client_id, xpm_sim.client_secret),
    )

    assert answer.status_code == 200
    assert xpm_sim.state()["connections"] == []
    listed = http.get("/connections", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert listed.json()["Detail"] == "AuthenticationUnsuccessful"
    again = _token(xpm_sim, http, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert again.json()["error"] == "invalid_grant"


def test_delete_connection_disconnects_only_that_tenant(xpm_sim, http):
    xpm_sim.seed(
        {
            "tenants": [{"name": "Second Practice"}],
            "users": [{"email": "demo@practice.example", "tenants": ["Second Practice"]}],
        }
    )
    xpm_sim.authorize()
    tokens = xpm_sim.authorize(tenant="Second Practice")
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    first = http.get("/connections", headers=headers).json()[0]

    assert http.delete(f"/connections/{first['id']}", headers=headers).status_code == 204
    assert http.delete(f"/connections/{first['id']}", headers=headers).status_code == 404
    assert [c["tenantName"] for c in http.get("/connections", headers=headers).json()] == ["Second Practice"]
    api = http.get(
        "/practicemanager/3.1/client.api/list", headers={**headers, "xero-tenant-id": DEFAULT_TENANT_ID}
    )
    assert (api.status_code, api.json()["Title"], api.json()["Detail"]) == (
        403,
        "Forbidden",
        "AuthenticationUnsuccessful",
    )


def test_login_hint_picks_the_user(xpm_sim, http):
    xpm_sim.seed(
        {
            "tenants": [{"name": "Other Practice"}],
            "users": [{"email": "other@practice.example", "tenants": ["Other Practice"]}],
        }
    )
    tokens = xpm_sim.authorize(login_hint="other@practice.example")
    connections = http.get(
        "/connections", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    ).json()
    assert [c["tenantName"] for c in connections] == ["Other Practice"]


def test_tenant_name_can_be_null_in_connections(xpm_sim, http):
    xpm_sim.patch_config(connection_tenant_name=False)
    tokens = xpm_sim.authorize()
    connections = http.get(
        "/connections", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    ).json()
    assert connections[0]["tenantName"] is None
