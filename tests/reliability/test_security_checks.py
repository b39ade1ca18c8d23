"""Item 6: OAuth state and PKCE, the redirect URI, secrets at rest and in logs, roles, business isolation.

The plugin's pages run in a TestClient with Airflow's SimpleAuthManager deciding the roles, the simulator's
OAuth behind them and Airflow's REST API played by an httpx MockTransport that records every call.
"""

from __future__ import annotations

import logging
import threading
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from fixtures.xpm_auth import sim_config

pytestmark = pytest.mark.postgres

BUSINESS, OTHER = "biz-a", "biz-b"


@pytest.fixture
def ui(pg_url, fernet_key, xpm_sim, tmp_path):
    """A factory of page clients for an Airflow role, sharing one state DB and one Airflow API log."""
    from classxpm.db import make_engine
    from classxpm.state.crypto import TokenCipher
    from classxpm.state.migrations import upgrade
    from classxpm.ui import access, pages
    from classxpm.ui.app import create_app
    from classxpm.ui.services import UiServices

    upgrade(pg_url)
    engine = make_engine(pg_url)
    airflow_calls: list[httpx.Request] = []

    def airflow(request: httpx.Request) -> httpx.Response:
        airflow_calls.append(request)
        return httpx.Response(200, json={"dag_run_id": "manual__1", "state": "queued", "is_paused": False})

    config = sim_config(xpm_sim)
    services = UiServices(
        state=engine,
        cipher=TokenCipher(fernet_key),
        xpm_config=lambda: config,
        reports_dir=tmp_path / "reports",
        airflow=httpx.Client(transport=httpx.MockTransport(airflow)),
    )

    def client(role: str) -> TestClient:
        from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager
        from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

        app = create_app()
        app.dependency_overrides[pages.services] = lambda: services
        app.dependency_overrides[access.auth_manager] = SimpleAuthManager
        app.dependency_overrides[access.airflow_user] = lambda: SimpleAuthManagerUser(
            username=role, role=role
        )
        return TestClient(
            app, base_url="http://127.0.0.1:8080", root_path="/classxpm", cookies={"_token": "jwt"}
        )

    client.services, client.airflow_calls, client.url = services, airflow_calls, pg_url
    yield client
    engine.dispose()


def authorise(page: TestClient, business: str = BUSINESS) -> httpx.Response:
    start = page.get("/authorise/start", params={"business": business}, follow_redirects=False)
    with httpx.Client(follow_redirects=False) as browser:
        back = browser.get(start.headers["location"])
    callback = urlsplit(back.headers["location"])
    return page.get(f"{callback.path}?{callback.query}")


def test_a_forged_callback_is_refused_by_the_pages(ui):
    admin = ui("admin")
    admin.get("/authorise/start", params={"business": BUSINESS}, follow_redirects=False)
    forged = admin.get("/authorise/callback", params={"code": "stolen", "state": "forged"})
    print(f"forged callback on the pages: HTTP {forged.status_code}")
    assert forged.status_code == 400
    assert "start again" in forged.text
    assert ui.services.store().get(BUSINESS) is None


def test_a_forged_callback_is_refused_by_the_command_line_login(xpm_sim):
    from classxpm.xpm.auth import authorization_request, code_from_callback
    from classxpm.xpm.callback import CallbackServer
    from classxpm.xpm.errors import ConfigurationError

    config = sim_config(xpm_sim)
    server = CallbackServer(config.redirect_uri, 0)
    request = authorization_request(config.with_redirect_port(server.port))
    waiting = threading.Thread(target=lambda: httpx.get(f"{request.redirect_uri}?code=stolen&state=forged"))
    waiting.start()
    received = server.wait_for_callback(10)
    waiting.join()
    server.server_close()
    with pytest.raises(ConfigurationError, match="state does not match"):
        code_from_callback(request, received)


def test_a_code_is_only_exchanged_with_its_own_pkce_verifier(xpm_sim):
    from dataclasses import replace

    from classxpm.xpm.auth import authorization_request, code_from_callback
    from classxpm.xpm.errors import XpmError
    from classxpm.xpm.session import XpmSession

    with XpmSession(sim_config(xpm_sim)) as session:
        request = authorization_request(session.config)
        query = parse_qs(urlsplit(request.url).query)
        with httpx.Client(follow_redirects=False) as browser:
            back = browser.get(request.url)
        code = code_from_callback(request, back.headers["location"])
        with pytest.raises(XpmError) as refused:
            session.identity.exchange_code(replace(request, code_verifier="not-the-verifier" * 3), code)
    print(f"PKCE: challenge method {query['code_challenge_method'][0]}; wrong verifier: {refused.value}")
    assert query["code_challenge_method"] == ["S256"]
    assert "code_verifier" not in request.url


def test_the_redirect_uri_is_the_configured_one_whatever_the_host_header(ui, monkeypatch):
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.practice.example")
    admin = ui("admin")
    start = admin.get(
        "/authorise/start",
        params={"business": BUSINESS},
        headers={"Host": "evil.example"},
        follow_redirects=False,
    )
    redirect = parse_qs(urlsplit(start.headers["location"]).query)["redirect_uri"]
    print(f"redirect URI with Host: evil.example: {redirect}")
    assert redirect == ["https://airflow.practice.example/classxpm/authorise/callback"]


def test_tokens_and_the_client_secret_are_encrypted_at_rest_and_never_logged(ui, caplog, xpm_sim):
    caplog.set_level(logging.DEBUG)
    page = authorise(ui("admin"))
    assert page.status_code == 200, page.text
    grant = ui.services.store().require(BUSINESS)
    secrets = {
        "access token": grant.tokens.access_token,
        "refresh token": grant.tokens.refresh_token,
        "client secret": xpm_sim.client_secret,
    }
    engine = sa.create_engine(ui.url)
    with engine.connect() as conn:
        dump = " ".join(
            str(value)
            for table in sa.inspect(conn).get_table_names()
            for row in conn.execute(sa.text(f'SELECT * FROM "{table}"'))
            for value in row
        )
    engine.dispose()
    logged = caplog.text + " ".join(str(call.headers) for call in ui.airflow_calls)
    leaks = [name for name, value in secrets.items() if value in dump or value in logged]
    print(
        f"secrets: {len(dump)} characters of state DB and {len(caplog.records)} log records scanned: {leaks}"
    )
    assert leaks == []
    assert "Bearer ey" not in caplog.text


@pytest.mark.parametrize("role", ["viewer", "user"])
def test_authorise_unlink_and_resync_refuse_users_without_the_admin_permission(role, ui):
    """Managing the grant takes the right to edit the xpm_default connection (Airflow's admin and op)."""
    authorise(ui("admin"))
    ui.airflow_calls.clear()
    page = ui(role)
    answers = {
        "authorise": page.get("/authorise/start", params={"business": BUSINESS}, follow_redirects=False),
        "callback": page.get("/authorise/callback", params={"code": "c", "state": "s"}),
        "unlink": page.post("/settings/unlink", data={"business": BUSINESS}),
        "re-sync": page.post("/settings/resync", data={"business": BUSINESS}),
    }
    print(f"role {role}: " + ", ".join(f"{k} HTTP {r.status_code}" for k, r in answers.items()))
    assert {name: r.status_code for name, r in answers.items()} == dict.fromkeys(answers, 403)
    assert ui.services.store().get(BUSINESS) is not None, "the grant is still there"
    assert ui.airflow_calls == [], "no sync was triggered"


def test_no_page_shows_another_business_s_funds_or_reports(ui):
    from classxpm.sync.tables import fund_links

    with ui.services.state.begin() as conn:
        for business, name in ((BUSINESS, "Alpha Family Super Fund"), (OTHER, "Beta Secret Super Fund")):
            conn.execute(
                sa.insert(fund_links).values(
                    business_id=business,
                    fund_id=f"fund-{business}",
                    tenant_id="t",
                    scope_code=name[:5].upper(),
                    fund_name=name,
                    client_uuid=None,
                    last_status="failed",
                    last_error=f"{name} refused",
                )
            )
    for business in (BUSINESS, OTHER):
        folder = ui.services.reports_dir / business / f"run-{business}"
        folder.mkdir(parents=True)
        (folder / "summary.html").write_text(f"<p>report of {business}</p>")
    page = ui("viewer")
    answers = {
        "funds": page.get("/funds", params={"business": BUSINESS}),
        "search": page.get("/funds", params={"business": BUSINESS, "q": "Beta"}),
        "fund": page.get(f"/funds/fund-{OTHER}", params={"business": BUSINESS}),
        "reports": page.get("/reports", params={"business": BUSINESS}),
        "report": page.get(
            f"/reports/{BUSINESS}/run-{BUSINESS}/..%2F..%2F{OTHER}%2Frun-{OTHER}%2Fsummary.html"
        ),
        "report2": page.get(f"/reports/{BUSINESS}/run-{OTHER}/summary.html"),
        "settings": page.get("/settings", params={"business": BUSINESS}),
    }
    print("business isolation: " + ", ".join(f"{k} HTTP {r.status_code}" for k, r in answers.items()))
    assert answers["funds"].status_code == 200
    assert "Alpha Family Super Fund" in answers["funds"].text
    for name, answer in answers.items():
        assert "Beta Secret" not in answer.text, name
        assert f"report of {OTHER}" not in answer.text, name
    assert answers["fund"].status_code == 404
    assert answers["report"].status_code == 404
    assert answers["report2"].status_code == 404
