from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from classxpm.state.tables import xpm_grants
from classxpm.sync.tables import sync_runs

BUSINESS = "biz-1"
NOW = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


def test_not_authorised_offers_authorise_in_the_whole_window_out_of_airflows_frame(admin):
    page = admin.get("/settings", params={"business": BUSINESS})

    assert page.status_code == 200
    assert "Xero Integration not Authorised" in page.text
    assert '<a id="authorise" class="button" target="_top" data-leave-frame' in page.text
    assert 'id="unlink"' not in page.text


def test_authorised_shows_tenant_expiry_and_days_left_with_every_action(admin, services, grant):
    grant()

    page = admin.get("/settings", params={"business": BUSINESS})

    assert "Xero Integration Authorised" in page.text
    assert "Demo Practice" in page.text
    assert "2026-05-01 19:30 AEST" in page.text, "09:30 UTC in the practice's zone, named"
    assert '<dd id="days-left">60</dd>' in page.text
    assert '<dd id="idle-expiry">2026-06-30 19:00 AEST</dd>' in page.text, "60 days after the grant"
    assert "Times are in Australia/Sydney." in page.text
    for action in ("reauthorise", "unlink", "resync"):
        assert f'id="{action}"' in page.text
    assert "disconnects" in page.text


def test_a_refused_grant_says_the_seeds_message_and_offers_no_resync(admin, services, grant):
    grant()
    with services.state.begin() as conn:
        conn.execute(sa.update(xpm_grants).values(invalid_reason="invalid_grant"))

    page = admin.get("/settings", params={"business": BUSINESS})

    assert "Sync failed. Token expired. Re-authorisation required." in page.text
    assert 'id="reauthorise"' in page.text
    assert 'id="resync"' not in page.text


def test_an_idle_grant_past_60_days_is_expired(services, grant, as_role):
    grant()
    later = as_role(replace(services, clock=lambda: NOW + timedelta(days=61)), "admin")

    assert "Sync failed. Token expired. Re-authorisation required." in later.get("/settings").text


def _sync_run(services, run_id: str, minutes: int, status: str, summary: dict) -> None:
    """Store one ended sync run of the business."""
    with services.state.begin() as conn:
        conn.execute(
            sa.insert(sync_runs).values(
                run_id=run_id,
                dag_id="class_xpm_sync",
                business_id=BUSINESS,
                mode="full",
                sync_mode="upsert",
                dry_run=False,
                started_at=NOW,
                finished_at=NOW + timedelta(minutes=minutes),
                status=status,
                summary=summary,
            )
        )


def test_the_last_sync_result_is_shown(admin, services, grant):
    _sync_run(
        services,
        "class_xpm_sync/manual_1",
        3,
        "failed",
        {"counts": {"created": 4, "failed": 1, "unchanged": 0}},
    )

    page = admin.get("/settings", params={"business": BUSINESS})

    assert "class_xpm_sync/manual_1" in page.text
    assert "4 created, 1 failed" in page.text


def test_a_viewer_reads_the_status_but_cannot_act(viewer, services, grant):
    grant()

    page = viewer.get("/settings", params={"business": BUSINESS})
    unlink = viewer.post("/settings/unlink", data={"business": BUSINESS})
    start = viewer.get("/authorise/start", params={"business": BUSINESS}, follow_redirects=False)

    assert "Xero Integration Authorised" in page.text
    assert 'id="read-only"' in page.text
    assert 'id="unlink"' not in page.text
    assert unlink.status_code == 403
    assert "does not allow you to unlink" in unlink.text
    assert start.status_code == 403
    assert viewer.get("/settings", params={"business": BUSINESS}).text.count("Demo Practice") >= 1


def test_a_user_role_may_neither_unlink_nor_resync(services, grant, as_role, airflow_api):
    grant()
    user = as_role(services, "user")

    assert user.post("/settings/resync", data={"business": BUSINESS}).status_code == 403
    assert airflow_api.requests == []


def test_resync_triggers_the_sync_through_airflows_api_as_the_user(admin, grant, airflow_api):
    grant()
    airflow_api.paused = True

    page = admin.post("/settings/resync", data={"business": BUSINESS})

    assert page.status_code == 200
    assert "Sync started: run manual__2026-05-01T09:00:00 of class_xpm_sync is queued." in page.text
    assert "paused" in page.text
    post = airflow_api.requests[0]
    assert str(post.url) == "http://testserver/api/v2/dags/class_xpm_sync/dagRuns"
    assert post.headers["Authorization"] == "Bearer the-users-airflow-jwt"
    assert airflow_api.posted() == [{"logical_date": None, "conf": {"business_id": BUSINESS}}]


def test_airflow_refusing_the_run_is_a_plain_error_page(admin, grant, airflow_api):
    grant()
    airflow_api.status = 404

    page = admin.post("/settings/resync", data={"business": BUSINESS})

    assert page.status_code == 502
    assert "does not know the class_xpm_sync DAG" in page.text


def test_not_signed_in_is_told_to_sign_in(services, as_role):
    page = as_role(services, None).get("/settings")

    assert page.status_code == 401
    assert "Please sign in to Airflow" in page.text


def test_the_home_page_is_the_settings_page(admin):
    assert admin.get("/").url.path == "/classxpm/settings"


def test_a_skipped_last_sync_shows_why_and_when_it_ended(admin, services):
    reason = {"reason": "XPM's daily call quota for the tenant is spent"}
    _sync_run(services, "class_xpm_sync/manual_2/biz-1", 1, "skipped", reason)

    page = admin.get("/settings", params={"business": BUSINESS})

    assert '<dd class="status-skipped">skipped</dd>' in page.text
    assert "XPM&#39;s daily call quota for the tenant is spent" in page.text
    assert "still running" not in page.text


def test_a_class_database_that_cannot_be_used_is_a_page_naming_it_not_a_server_error(services, as_role):
    from classxpm.db import DatabaseUrlError

    def unusable() -> list[str]:
        raise DatabaseUrlError("not a database URL: class-db (no scheme)")

    page = as_role(replace(services, class_businesses=unusable), "admin").get("/settings")

    assert page.status_code == 400
    assert "not a database URL: class-db (no scheme)" in page.text


def test_times_follow_the_configured_practice_zone(admin, services, grant, monkeypatch):
    from classxpm.ui.clock import practice_zone

    monkeypatch.setenv("CLASSXPM_TIMEZONE", "Australia/Perth")
    practice_zone.cache_clear()
    grant()
    try:
        page = admin.get("/settings", params={"business": BUSINESS})
    finally:
        monkeypatch.delenv("CLASSXPM_TIMEZONE")
        practice_zone.cache_clear()

    assert "2026-05-01 17:30 AWST" in page.text
    assert "Times are in Australia/Perth." in page.text


def test_a_time_zone_that_does_not_exist_is_named():
    from classxpm.ui.clock import practice_zone
    from classxpm.xpm.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="'Mars/Olympus' is not a time zone name"):
        practice_zone("Mars/Olympus")


def test_unlink_asks_first_and_says_what_it_does(admin, services, grant):
    grant()

    asked = admin.post("/settings/unlink", data={"business": BUSINESS})

    assert "Unlink <strong>Demo Practice</strong> from business" in asked.text
    assert "Nothing in XPM is deleted" in asked.text
    assert 'id="confirm-unlink"' in asked.text
    assert services.store().get(BUSINESS) is not None


def test_businesses_are_shown_by_their_class_name(services, grant, as_role):
    grant()
    grant("biz-2", "Second Practice")
    named = replace(services, class_businesses=lambda: {BUSINESS: "Smith & Co Accountants", "biz-3": "Jones"})
    admin = as_role(named, "admin")

    page = admin.get("/settings", params={"business": BUSINESS})
    asked = admin.post("/settings/unlink", data={"business": BUSINESS})
    funds = admin.get("/funds", params={"business": "biz-3"})

    options = re.findall(r'<option value="([^"]+)"( selected)?>([^<]+)</option>', page.text)
    assert options == [
        (BUSINESS, " selected", "Smith &amp; Co Accountants"),
        ("biz-2", "", "biz-2"),
        ("biz-3", "", "Jones"),
    ], "Class's names; an id only for a business Class does not name"
    assert "from business <strong>Smith &amp; Co Accountants</strong>?" in asked.text
    assert '<option value="biz-3" selected>Jones</option>' in funds.text


def test_the_reports_list_names_each_business(services, as_role, tmp_path):
    from classxpm.validation.report import run_folder, write_stopped

    write_stopped(
        run_folder(tmp_path, BUSINESS, "run-1"), run_id="run-1", business_id=BUSINESS, funds=1, members=0,
        problem="stopped for the test",
    )  # fmt: skip
    named = replace(services, reports_dir=tmp_path, class_businesses=lambda: {BUSINESS: "Smith & Co"})

    page = as_role(named, "viewer").get("/reports")
    one = as_role(named, "viewer").get("/reports", params={"business": BUSINESS})

    assert f'?business={BUSINESS}">Smith &amp; Co</a></td>' in page.text
    assert "Business Smith &amp; Co ·" in one.text


def test_fund_codes_that_matched_no_fund_are_named_with_the_last_sync(admin, services, grant):
    grant()
    summary = {"counts": {"unchanged": 1}, "unmatched_fund_codes": ["SMTIH01", "jones 02"]}
    _sync_run(services, "class_xpm_sync/manual_2", 3, "success", summary)

    page = admin.get("/settings", params={"business": BUSINESS})

    shown = re.search(r'<dd id="unmatched-codes" class="warning">(.*?)</dd>', page.text).group(1)
    assert "fund_codes that match no fund of this business: SMTIH01, jones 02." in shown
    assert "Check the scope codes in Class" in shown


@pytest.mark.parametrize("action", ["unlink", "resync"])
def test_reloading_what_an_action_answered_shows_the_settings_and_does_nothing_again(
    admin, airflow_api, grant, action
):
    grant()

    page = admin.get(f"/settings/{action}", params={"business": BUSINESS}, follow_redirects=False)

    assert page.status_code == 303
    assert page.headers["location"].endswith("/classxpm/settings?business=biz-1")
    assert airflow_api.posted() == []
    assert "Xero Integration Authorised" in admin.get(page.headers["location"]).text
