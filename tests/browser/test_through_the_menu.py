"""The pages as people reach them: from Airflow's own menu and DAG run page, inside Airflow's sandboxed frame.

Airflow 3.3 frames the pages without ``allow-popups`` or ``allow-top-navigation``; every action here is
clicked inside that frame, as a user does, and must still land where it should.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import httpx
import sqlalchemy as sa

from classxpm.jobs.snapshot import snapshot_all
from classxpm.sync.tables import fund_links, sync_outcomes, sync_run_calls, sync_runs
from classxpm.validation.report import run_folder, write_stopped
from classxpm.xpm.session import XpmSession
from fixtures.sync_runs import DAG, run_row
from fixtures.xpm_auth import sim_config

from .conftest import BUSINESS, LAUNCH, open_from_menu


def test_an_admin_authorises_launches_xpm_and_reads_data_docs_from_the_menu(stack, practice, signed_in, shot):
    page = signed_in("admin").new_page()
    frame = open_from_menu(page, stack, "Integration settings")
    assert frame.locator("#headline").inner_text() == "Xero Integration not Authorised"
    shot(page, "1-menu-settings")

    frame.locator("#authorise").click()
    page.wait_for_url(f"{stack.sim.base_url}/**")
    assert "Connect to Xero Practice Manager" in page.content(), "Xero's login took the whole window"
    page.get_by_label("Demo Practice").check()
    shot(page, "2-xero-consent-top-level")
    page.get_by_role("button", name="Allow access").click()
    assert page.locator("#headline").inner_text() == "Xero Integration Authorised"
    shot(page, "3-authorised")

    page.locator("#back-to-airflow").click()
    page.wait_for_url(f"{stack.url}/plugin/classxpm-settings/classxpm/settings?business={BUSINESS}")
    frame = page.frame_locator("iframe[title='Integration settings']")
    assert frame.locator("#headline").inner_text() == "Xero Integration Authorised"
    shot(page, "4-back-in-airflow")

    with XpmSession(sim_config(stack.sim)) as session:
        snapshot_all(session, practice)
    frame.get_by_role("link", name="Fund dashboard").click()
    frame.locator("input[name=q]").fill("smith")
    frame.get_by_role("button", name="Find").click()
    page.wait_for_url("**/classxpm/funds?*q=smith*")
    frame.get_by_role("link", name="SMITH01").click()
    launch = frame.get_by_role("link", name=LAUNCH)
    web_url = launch.get_attribute("href")
    page.context.route(re.compile(r"^https://[^/]*xero\.com/"), _xpm_stand_in)
    with page.context.expect_page() as opened:
        launch.click()
    xpm = opened.value
    xpm.wait_for_load_state()
    assert xpm.url == web_url, "XPM opened in a tab of its own"
    page.wait_for_url(f"{stack.url}/plugin/classxpm-settings/classxpm/funds/f-smith?*")  # Airflow follows
    shot(page, "5-fund-in-airflow")

    frame.get_by_role("link", name="Validation reports").click()
    frame.locator("#reports tr", has_text="class_xpm_sync/manual_1").get_by_role(
        "link", name="Data Docs"
    ).click()
    page.wait_for_url("**/data_docs/index.html")  # Airflow's address follows its frame
    assert "******782" in frame.locator("body").inner_text(), "Data Docs open in place, TFNs masked"
    assert "123 456 782" not in frame.locator("body").inner_text()
    shot(page, "6-data-docs-in-airflow")


def _xpm_stand_in(route) -> None:
    """Answer for XPM's web app in the browser: nothing leaves the machine."""
    route.fulfill(status=200, content_type="text/html", body="<title>Xero Practice Manager</title>")


def _dag_run(stack) -> str:
    headers = {"Authorization": f"Bearer {stack.token('admin')}"}
    answer = httpx.post(
        f"{stack.url}/api/v2/dags/{DAG}/dagRuns", json={"logical_date": None}, headers=headers, timeout=10
    )
    answer.raise_for_status()
    return answer.json()["dag_run_id"]


def _sync_runs(stack, engine, airflow_run: str) -> str:
    """Two earlier runs and this DAG run's: 3 created, 2 quarantined, 1 failed, with its report."""
    now = datetime.now(UTC)
    rows = [
        run_row("earlier-1", BUSINESS, now - timedelta(days=2), {"created": 5, "quarantined": 4}),
        run_row("earlier-2", BUSINESS, now - timedelta(days=1), {"unchanged": 5, "failed": 2}),
    ]
    this = f"{DAG}/{airflow_run}/{BUSINESS}"
    rows.append(run_row(airflow_run, BUSINESS, now, {"created": 3, "quarantined": 2, "failed": 1}))
    problems = [("f-jones", "JONES01", "quarantined", "TFN fails its check digit")]
    problems += [("f-b", "BROWN01", "quarantined", "ABN fails its check digit")]
    problems += [("f-c", "CLARK01", "failed", "XPM refused the record: Invalid tax number")]
    with engine.begin() as conn:
        conn.execute(sa.delete(sync_outcomes))
        conn.execute(sa.delete(sync_run_calls))
        conn.execute(sa.delete(sync_runs))
        conn.execute(sa.insert(sync_runs), rows)
        conn.execute(
            sa.insert(sync_outcomes),
            [
                {
                    "run_id": this,
                    "business_id": BUSINESS,
                    "fund_id": fund,
                    "scope_code": code,
                    "action": "create",
                }
                | {"status": status, "detail": detail, "at": now}
                for fund, code, status, detail in problems
            ],
        )
        conn.execute(sa.insert(sync_run_calls), [{"run_id": this, "step": "upsert-0", "calls": 4}])
    folder = run_folder(stack.reports, BUSINESS, this)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sync-report.json").write_text(json.dumps({"api_calls": 4, "duration_seconds": 2.5}))
    write_stopped(folder, run_id=this, business_id=BUSINESS, funds=6, members=9, problem="")
    return this


def test_a_run_page_from_the_dag_runs_tab_and_from_the_settings_page(stack, practice, signed_in, shot):
    airflow_run = _dag_run(stack)
    this = _sync_runs(stack, practice, airflow_run)
    page = signed_in("viewer").new_page()

    page.goto(f"{stack.url}/dags/{DAG}/runs/{airflow_run}")
    page.get_by_role("link", name="Class XPM sync").click()
    frame = page.frame_locator("iframe[title='Class XPM sync']")
    frame.locator(".chart[data-drawn=yes]").nth(1).wait_for()
    assert frame.locator("#run-id").inner_text() == this
    assert frame.locator(".chart svg").count() == 2, "both charts are drawn, offline, as SVG"
    counts = frame.locator("#counts").inner_text()
    assert "created\t3" in counts
    assert "quarantined\t2" in counts
    assert "failed\t1" in counts
    assert frame.locator("#trend tbody tr").count() == 3
    problems = frame.locator("#problems").inner_text()
    assert "CLARK01\tfailed\tcreate\tXPM refused the record: Invalid tax number" in problems
    assert "Fix the fund in Class" in problems
    shot(page, "1-run-tab-on-the-dag-run")

    frame = open_from_menu(page, stack, "Integration settings")
    frame.locator("#last-sync-run").click()
    frame.locator(".chart[data-drawn=yes]").nth(1).wait_for()
    assert frame.locator("#run-id").inner_text() == this
    shot(page, "2-run-page-from-settings")

    frame = open_from_menu(page, stack, "Validation reports")
    frame.get_by_role("link", name=this).click()
    frame.locator(".chart[data-drawn=yes]").nth(1).wait_for()
    assert frame.locator("#run-id").inner_text() == this
    shot(page, "3-run-page-from-the-reports")

    frame.locator("#airflow-run").click()
    page.wait_for_url(f"{stack.url}/dags/{DAG}/runs/{quote(airflow_run, safe='')}**")
    assert page.frame_locator("iframe").locator("#run-id").count() == 0, "Airflow's own run page, not framed"


def test_a_stored_launch_link_that_is_not_a_web_address_is_never_opened(stack, practice, signed_in):
    script = "javascript:top.document.title='opened'"
    with practice.begin() as conn:
        conn.execute(
            sa.update(fund_links)
            .where(fund_links.c.fund_id == "f-jones")
            .values(client_uuid="c-jones", web_url=script, last_status="synced")
        )
    page = signed_in("admin").new_page()
    frame = open_from_menu(page, stack, "Fund dashboard")
    frame.get_by_role("link", name="JONES01").click()
    frame.get_by_role("link", name=LAUNCH).click()
    frame.get_by_role("link", name="Fund dashboard", exact=True).click()  # queued after what Launch did
    page.wait_for_url("**/classxpm/funds?business=*")

    assert page.title() != "opened"
    assert frame.locator("title").inner_text() != "opened"


def test_a_viewer_reads_the_settings_from_the_menu_without_actions(stack, practice, signed_in, shot):
    page = signed_in("viewer").new_page()
    frame = open_from_menu(page, stack, "Integration settings")

    assert frame.locator("#headline").inner_text() == "Xero Integration not Authorised"
    assert frame.locator("#read-only").is_visible()
    assert frame.locator("#authorise").count() == 0
    shot(page, "viewer-settings-in-airflow")
