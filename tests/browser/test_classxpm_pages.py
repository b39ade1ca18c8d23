"""The Class XPM pages in headless Chromium against a live Airflow API server and the XPM simulator."""

from __future__ import annotations

import re

from classxpm.jobs.snapshot import snapshot_all
from classxpm.xpm.session import XpmSession
from fixtures.xpm_auth import sim_config

from .conftest import BUSINESS, LAUNCH


def test_an_admin_authorises_sees_jobs_and_tasks_then_unlinks(stack, practice, signed_in, shot):
    page = signed_in("admin").new_page()
    settings = f"{stack.url}/classxpm/settings?business={BUSINESS}"
    page.goto(settings)
    assert page.locator("#headline").inner_text() == "Xero Integration not Authorised"
    shot(page, "1-settings-not-authorised")

    page.click("#authorise")  # opened directly, the login takes the window: no tab to lose
    page.wait_for_url(f"{stack.sim.base_url}/**")
    xero = page
    assert "Connect to Xero Practice Manager" in xero.content()
    xero.get_by_label("Second Practice").check()
    xero.get_by_label("Demo Practice").check()
    shot(xero, "2-xero-consent")
    xero.get_by_role("button", name="Allow access").click()
    xero.wait_for_selector("#headline")
    assert xero.locator("#headline").inner_text() == "Xero Integration Authorised"
    assert xero.locator("#tenant").inner_text() == "Demo Practice"
    assert "Sync started" in xero.locator("#sync").inner_text()
    shot(xero, "3-authorised")

    page.goto(settings)
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
    shot(page, "4-fund-linked")

    page.goto(f"{stack.url}/classxpm/funds/f-jones?business={BUSINESS}")
    assert page.get_by_role("link", name=LAUNCH).count() == 0
    assert "either a valid TFN or no TFN and re-sync" in page.locator("#hint").inner_text()
    assert page.locator("#reason").inner_text() == "TFN fails its check digit"
    shot(page, "5-fund-not-linked")

    page.goto(f"{stack.url}/classxpm/reports")
    assert "class_xpm_sync/manual_1" in page.content()
    shot(page, "6-reports")
    page.click("text=Data Docs")
    page.wait_for_url("**/data_docs/index.html")
    assert "******782" in page.content()
    assert "123 456 782" not in page.content()

    page.goto(settings)
    page.click("#unlink")
    assert "The connection is deleted in Xero" in page.locator("#unlink-confirmation").inner_text()
    assert page.locator("#headline").inner_text() == "Xero Integration Authorised", "nothing before the yes"
    page.click("#confirm-unlink")
    assert page.locator("#headline").inner_text() == "Xero Integration not Authorised"
    assert "Unlinked Demo Practice" in page.locator(".notice").inner_text()
    shot(page, "7-unlinked")


def test_a_viewer_reads_the_status_and_is_refused_actions(stack, practice, signed_in, shot):
    page = signed_in("viewer").new_page()
    page.goto(f"{stack.url}/classxpm/settings?business={BUSINESS}")
    assert page.locator("#headline").inner_text() == "Xero Integration not Authorised"
    assert page.locator("#authorise").count() == 0
    assert page.locator("#read-only").is_visible()
    shot(page, "settings-read-only")

    answer = page.goto(f"{stack.url}/classxpm/authorise/start?business={BUSINESS}")
    assert answer.status == 403
    assert "does not allow you to authorise" in page.locator("#message").inner_text()
    shot(page, "refused")


def test_the_pages_are_refused_without_an_airflow_sign_in(stack, chromium):
    context = chromium.new_context()
    answer = context.new_page().goto(f"{stack.url}/classxpm/funds")
    assert answer.status == 401
    context.close()
