"""Authorise, pick an account and unlink through the pages, against the simulator's OAuth and connections."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from classxpm.ui.login import CHOICE_COOKIE, PendingChoice, seal_choice
from classxpm.xpm.auth import utcnow
from fixtures.xpm_auth import headless_login

BUSINESS = "biz-1"


def login_through_xero(admin_client, tenant: str | None = None) -> httpx.Response:
    start = admin_client.get("/authorise/start", params={"business": BUSINESS}, follow_redirects=False)
    assert start.status_code == 303
    with httpx.Client(follow_redirects=False) as browser:
        query = f"&{urlencode({'tenant': tenant})}" if tenant else ""
        back = browser.get(start.headers["location"] + query)
    assert back.status_code == 302
    callback = urlsplit(back.headers["location"])
    assert callback.path == "/classxpm/authorise/callback"
    return admin_client.get(f"{callback.path}?{callback.query}")


def test_the_redirect_uri_is_the_plugins_callback(admin_client):
    start = admin_client.get("/authorise/start", params={"business": BUSINESS}, follow_redirects=False)
    query = parse_qs(urlsplit(start.headers["location"]).query)

    assert query["redirect_uri"] == ["http://127.0.0.1:8080/classxpm/authorise/callback"]
    assert query["code_challenge_method"] == ["S256"]
    assert "HttpOnly" in start.headers["set-cookie"]
    assert "Path=/classxpm/authorise" in start.headers["set-cookie"]


def test_the_callback_stores_the_grant_and_starts_the_sync(admin_client, ui_services, xpm_sim):
    page = login_through_xero(admin_client)

    assert page.status_code == 200, page.text
    assert "Xero Integration Authorised" in page.text
    assert "Demo Practice" in page.text
    assert "Sync started: run manual__1 of class_xpm_sync is queued." in page.text
    assert ui_services.store().require(BUSINESS).tenant_id == xpm_sim.tenant_id


def test_a_replayed_callback_is_refused(admin_client):
    login_through_xero(admin_client)
    start = admin_client.get("/authorise/start", params={"business": BUSINESS}, follow_redirects=False)
    admin_client.cookies.clear()
    admin_client.cookies.set("_token", "jwt")

    page = admin_client.get("/authorise/callback", params={"code": "x", "state": "y"})

    assert start.status_code == 303
    assert page.status_code == 400
    assert "start again" in page.text


def test_the_picked_account_is_linked_when_several_are_connected(
    admin_client, ui_services, xpm_sim, xpm_session
):
    xpm_sim.seed(
        {
            "tenants": [{"name": "Second Practice"}],
            "users": [{"email": "demo@practice.example", "tenants": ["Second Practice"]}],
        }
    )
    headless_login(xpm_session, tenant="Second Practice")
    tokens = headless_login(xpm_session, tenant="Demo Practice")
    listed = {item.tenant_name: item.tenant_id for item in xpm_session.api_for_tokens(tokens).connections()}
    sealed = seal_choice(ui_services.cipher, PendingChoice(BUSINESS, tokens, utcnow()))
    admin_client.cookies.set(CHOICE_COOKIE, sealed)

    page = admin_client.post("/authorise/choose", data={"tenant_id": listed["Second Practice"]})

    assert set(listed) == {"Demo Practice", "Second Practice"}
    assert "Second Practice" in page.text
    assert ui_services.store().require(BUSINESS).tenant_name == "Second Practice"


def test_unlink_removes_the_connection_and_the_grant(admin_client, ui_services, xpm_sim):
    login_through_xero(admin_client)

    asked = admin_client.post("/settings/unlink", data={"business": BUSINESS})
    assert 'id="unlink-confirmation"' in asked.text
    assert ui_services.store().get(BUSINESS) is not None, "nothing is unlinked before the confirmation"

    page = admin_client.post("/settings/unlink", data={"business": BUSINESS, "confirmed": "yes"})

    assert "Unlinked Demo Practice" in page.text
    assert "Xero Integration not Authorised" in page.text
    assert ui_services.store().get(BUSINESS) is None
    assert xpm_sim.state()["connections"] in ({}, [])


SECOND_TENANT = {
    "tenants": [{"name": "Second Practice"}],
    "users": [{"email": "demo@practice.example", "tenants": ["Second Practice"]}],
}


def test_another_account_is_linked_only_after_the_page_said_what_it_resets(
    admin_client, ui_services, xpm_sim
):
    xpm_sim.seed(SECOND_TENANT)
    login_through_xero(admin_client)

    asked = login_through_xero(admin_client, tenant="Second Practice")

    assert asked.status_code == 200, asked.text
    assert "is connected to <strong>Demo Practice</strong>, where 0 funds are linked" in asked.text
    assert "the next sync resets those links and links or creates every fund" in asked.text
    assert "Keep Demo Practice" in asked.text
    assert ui_services.store().require(BUSINESS).tenant_name == "Demo Practice", "nothing changed yet"
    second = next(t["id"] for t in xpm_sim.state()["tenants"] if t["name"] == "Second Practice")

    # The choice waits in a cookie scoped to the plugin's authorise path, as the browser sends it.
    unconfirmed = admin_client.post("/classxpm/authorise/choose", data={"tenant_id": second})
    assert "replace-warning" in unconfirmed.text
    assert ui_services.store().require(BUSINESS).tenant_name == "Demo Practice"

    confirmed = {"tenant_id": second, "replace_account": "yes"}
    linked = admin_client.post("/classxpm/authorise/choose", data=confirmed)
    assert "Demo Practice was disconnected" in linked.text
    assert "The next sync links or creates every fund in Second Practice" in linked.text
    assert ui_services.store().require(BUSINESS).tenant_name == "Second Practice"


def test_re_authorising_the_same_account_links_at_once(admin_client, ui_services, xpm_sim):
    login_through_xero(admin_client)

    again = login_through_xero(admin_client)

    assert "Xero Integration Authorised" in again.text
    assert "replace-warning" not in again.text
