"""The Class XPM pages in headless Chromium against a live Airflow API server and the XPM simulator."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from classxpm.db import make_engine
from classxpm.jobs.snapshot import snapshot_all
from classxpm.sync.tables import fund_links
from classxpm.validation.report import run_folder, write_stopped
from classxpm.xpm.session import XpmSession
from classxpm.xpm_sim.config import DEFAULT_TENANT_ID
from fixtures.xpm_auth import sim_config

BUSINESS = "biz-1"
LAUNCH = "Launch Xero Practice Manager"


@pytest.fixture
def practice(stack, monkeypatch):
    """A practice in XPM with two accounts, a synced fund with a job, a quarantined fund, and a report."""
    monkeypatch.setenv("CLASSXPM_FERNET_KEY", stack.env["CLASSXPM_FERNET_KEY"])
    stack.sim.reset()
    stack.sim.seed(
        {
            "tenants": [{"name": "Second Practice"}],
            "users": [{"email": "demo@practice.example", "tenants": ["Second Practice"]}],
            "clients": [{"Name": "Smith Super Fund", "ExportCode": "SMITH01"}],
        }
    )
    client = stack.sim.state()["clients"]
    client_uuid = next(iter(client.values()))["UUID"] if isinstance(client, dict) else client[0]["UUID"]
    stack.sim.seed(
        {
            "jobs": [
                {
                    "client_uuid": client_uuid,
                    "ID": "J000042",
                    "Name": "2026 annual return",
                    "State": "In Progress",
                    "DueDate": "20260930",
                    "Manager": "Pat Manager",
                    "Tasks": [
                        {"Name": "Collect bank statements", "Completed": True},
                        {"Name": "Lodge SMSF return", "Completed": False, "DueDate": "20261031"},
                    ],
                }
            ]
        }
    )
    engine = make_engine(stack.state_url)
    with engine.begin() as conn:
        conn.execute(sa.delete(fund_links))
        conn.execute(sa.insert(fund_links), [_fund("f-smith", "SMITH01", "Smith Super Fund", client_uuid)])
        conn.execute(sa.insert(fund_links), [_fund("f-jones", "JONES01", "Jones Family Super Fund", None)])
    folder = run_folder(stack.reports, BUSINESS, "class_xpm_sync/manual_1")
    (folder / "data_docs").mkdir(parents=True, exist_ok=True)
    (folder / "data_docs" / "index.html").write_text("<html><body><p>TFN 123 456 782</p></body></html>")
    write_stopped(
        folder, run_id="class_xpm_sync/manual_1", business_id=BUSINESS, funds=2, members=3, problem=""
    )
    yield engine
    engine.dispose()


def _fund(fund_id: str, code: str, name: str, client_uuid: str | None) -> dict:
    return {
        "business_id": BUSINESS,
        "fund_id": fund_id,
        "tenant_id": DEFAULT_TENANT_ID,
        "scope_code": code,
        "fund_name": name,
        "client_uuid": client_uuid,
        "last_status": "synced" if client_uuid else "quarantined",
        "last_synced_at": datetime(2026, 5, 1, 2, 0, tzinfo=UTC),
        "last_error": None if client_uuid else "TFN fails its check digit",
    }


def shot(page, tmp_path, name: str) -> None:
    page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)


def test_an_admin_authorises_sees_jobs_and_tasks_then_unlinks(stack, practice, signed_in, tmp_path):
    page = signed_in("admin").new_page()
    settings = f"{stack.url}/classxpm/settings?business={BUSINESS}"
    page.goto(settings)
    assert page.locator("#headline").inner_text() == "Xero Integration not Authorised"
    shot(page, tmp_path, "1-settings-not-authorised")

    with page.expect_popup() as opened:
        page.click("#authorise")
    xero = opened.value
    xero.wait_for_load_state()
    assert "Connect to Xero Practice Manager" in xero.content()
    xero.get_by_label("Second Practice").check()
    xero.get_by_label("Demo Practice").check()
    shot(xero, tmp_path, "2-xero-consent")
    xero.get_by_role("button", name="Allow access").click()
    xero.wait_for_selector("#headline")
    assert xero.locator("#headline").inner_text() == "Xero Integration Authorised"
    assert xero.locator("#tenant").inner_text() == "Demo Practice"
    assert "Sync started" in xero.locator("#sync").inner_text()
    shot(xero, tmp_path, "3-authorised")

    page.reload()
    assert page.locator("#headline").inner_text() == "Xero Integration Authorised"
    assert int(page.locator("#days-left").inner_text()) in {59, 60}  # whole days: 59 once a second passed
    with XpmSession(sim_config(stack.sim)) as session:
        results, problems = snapshot_all(session, practice)
    assert (problems, results[0].jobs) == ([], 1)

    page.goto(f"{stack.url}/classxpm/funds?business={BUSINESS}")
    page.fill("input[name=q]", "smith")
    page.click("text=Find")
    page.click("text=SMITH01")
    assert page.locator("#link-status").inner_text().startswith("Linked")
    assert "J000042 · 2026 annual return" in page.content()
    assert page.locator("table.tasks").inner_text().count("Completed") == 1
    assert "Lodge SMSF return\tOpen\t2026-10-31" in page.locator("table.tasks").inner_text()
    launch = page.get_by_role("link", name=LAUNCH)
    assert re.match(r"https?://", launch.get_attribute("href"))
    shot(page, tmp_path, "4-fund-linked")

    page.goto(f"{stack.url}/classxpm/funds/f-jones?business={BUSINESS}")
    assert page.get_by_role("link", name=LAUNCH).count() == 0
    assert "either a valid TFN or no TFN and re-sync" in page.locator("#hint").inner_text()
    assert page.locator("#reason").inner_text() == "TFN fails its check digit"
    shot(page, tmp_path, "5-fund-not-linked")

    page.goto(f"{stack.url}/classxpm/reports")
    assert "class_xpm_sync/manual_1" in page.content()
    shot(page, tmp_path, "6-reports")
    with page.expect_popup() as docs:
        page.click("text=Data Docs")
    assert "******782" in docs.value.content()
    assert "123 456 782" not in docs.value.content()

    page.goto(settings)
    page.click("#unlink")
    assert "The connection is deleted in Xero" in page.locator("#unlink-confirmation").inner_text()
    assert page.locator("#headline").inner_text() == "Xero Integration Authorised", "nothing before the yes"
    page.click("#confirm-unlink")
    assert page.locator("#headline").inner_text() == "Xero Integration not Authorised"
    assert "Unlinked Demo Practice" in page.locator(".notice").inner_text()
    shot(page, tmp_path, "7-unlinked")


def test_a_viewer_reads_the_status_and_is_refused_actions(stack, practice, signed_in, tmp_path):
    page = signed_in("viewer").new_page()
    page.goto(f"{stack.url}/classxpm/settings?business={BUSINESS}")
    assert page.locator("#headline").inner_text() == "Xero Integration not Authorised"
    assert page.locator("#authorise").count() == 0
    assert page.locator("#read-only").is_visible()
    shot(page, tmp_path, "settings-read-only")

    answer = page.goto(f"{stack.url}/classxpm/authorise/start?business={BUSINESS}")
    assert answer.status == 403
    assert "does not allow you to authorise" in page.locator("#message").inner_text()
    shot(page, tmp_path, "refused")


def test_the_pages_are_refused_without_an_airflow_sign_in(stack, chromium):
    context = chromium.new_context()
    answer = context.new_page().goto(f"{stack.url}/classxpm/funds")
    assert answer.status == 401
    context.close()
