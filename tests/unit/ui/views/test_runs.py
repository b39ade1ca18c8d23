"""The sync run page: counts and trend as charts with their tables, calls and quota, problems, dry runs."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from classxpm.sync.tables import sync_outcomes, sync_run_calls, sync_runs
from classxpm.validation.report import run_folder
from fixtures.sync_runs import DAG, run_row

BUSINESS = "biz-1"
NOW = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


def _run(airflow_run: str, started_hours_ago: int, counts: dict[str, int], **values) -> dict:
    return run_row(airflow_run, BUSINESS, NOW - timedelta(hours=started_hours_ago), counts, **values)


def _table(page: str, table_id: str) -> str:
    return page.split(f'id="{table_id}"')[1].split("</table>", maxsplit=1)[0]


@pytest.fixture
def reports(services, tmp_path):
    return replace(services, reports_dir=tmp_path)


@pytest.fixture
def client(reports, as_role):
    return as_role(reports, "viewer")


@pytest.fixture
def history(reports):
    """Three nightly runs; the last one failed two funds and quarantined one, with its report written."""
    runs = [
        _run("scheduled__1", 48, {"created": 40, "quarantined": 3}),
        _run("scheduled__2", 24, {"unchanged": 40, "quarantined": 2}),
        _run("scheduled__3", 1, {"updated": 5, "unchanged": 34, "quarantined": 1, "failed": 2}),
    ]
    last = runs[-1]["run_id"]
    outcomes = [
        ("f-3", "JONES01", "update", "failed", "XPM refused the record: Invalid tax number"),
        ("f-1", "ADAMS01", "update", "failed", "XPM answered 500 three times"),
        ("f-2", "BROWN01", "none", "quarantined", "ABN 51 824 753 557 fails its check digit"),
        ("f-4", "CLARK01", "update", "updated", None),
    ]
    with reports.state.begin() as conn:
        conn.execute(sa.insert(sync_runs), runs)
        conn.execute(
            sa.insert(sync_outcomes),
            [
                {"run_id": last, "business_id": BUSINESS, "fund_id": f, "scope_code": code, "action": action}
                | {"status": status, "detail": detail, "at": NOW}
                for f, code, action, status, detail in outcomes
            ],
        )
        conn.execute(
            sa.insert(sync_run_calls),
            [
                {"run_id": runs[0]["run_id"], "step": "upsert-0", "calls": 900},
                {"run_id": runs[1]["run_id"], "step": "plan", "calls": 30},
                {"run_id": last, "step": "plan", "calls": 12},
                {"run_id": last, "step": "upsert-0", "calls": 488},
            ],
        )
    folder = run_folder(reports.reports_dir, BUSINESS, last)
    folder.mkdir(parents=True)
    report = {"api_calls": 500, "duration_seconds": 81.5, "notices": ["Re-authorised to Second Practice."]}
    report["members_not_in_xpm"] = [{"scope_code": "JONES01", "member": "Ann Jones", "reason": "fund failed"}]
    (folder / "sync-report.json").write_text(json.dumps(report))
    return last


def test_the_run_page_draws_counts_and_trend_with_the_same_numbers_as_tables(client, history):
    page = client.get(f"/runs/{history}")

    assert page.status_code == 200
    assert page.text.count('figure class="card" data-chart') == 2
    assert "<tr><td>updated</td><td>5</td></tr>" in page.text
    assert "<tr><td>failed</td><td>2</td></tr>" in page.text
    assert "<tr><td>deferred</td><td>0</td></tr>" in page.text, "every charted outcome, zero included"
    trend_rows = _table(page.text, "trend")
    assert trend_rows.count("<tr") == 4, "a heading and the three runs"
    assert "<td>success</td><td>3</td><td>0</td>" in trend_rows
    assert '<tr class="this-run">' in trend_rows
    assert '"description": "Funds by outcome of this run"' in page.text
    assert "/classxpm/vendor/vega-lite-5.23.0/build/vega-lite.min.js" in page.text


def test_the_run_page_shows_calls_and_the_share_of_the_daily_quota(client, history):
    page = client.get(f"/runs/{history}")

    assert '<dd id="api-calls">500</dd>' in page.text
    assert '<dd id="quota-share">500 of 5000 (10.0%)</dd>' in page.text
    assert '<dd id="tenant-calls">530 of 5000</dd>' in page.text, "the run 23 h before counts, 47 h not"
    assert "<tr><td>upsert-0</td><td>488</td></tr>" in page.text
    assert "Re-authorised to Second Practice." in page.text
    assert "Ann Jones" in page.text


def test_every_problem_row_says_what_to_do_and_links_its_fund(client, history):
    page = client.get(f"/runs/{history}")

    problems = _table(page.text, "problems")
    assert [code for code in ("ADAMS01", "BROWN01", "JONES01") if code in problems] == [
        "ADAMS01",
        "BROWN01",
        "JONES01",
    ]
    assert problems.index("ADAMS01") < problems.index("BROWN01") < problems.index("JONES01")
    assert "CLARK01" not in problems, "a fund that went through is no problem"
    assert "Fix the fund in Class" in problems
    assert "the next run takes it again" in problems
    assert '/classxpm/funds/f-2?business=biz-1">BROWN01</a>' in problems


def test_problem_rows_come_a_hundred_to_a_page(client, reports, history):
    with reports.state.begin() as conn:
        conn.execute(
            sa.insert(sync_outcomes),
            [
                {"run_id": history, "business_id": BUSINESS, "fund_id": f"q-{n}", "scope_code": f"Q{n:04d}"}
                | {"action": "none", "status": "quarantined", "detail": "bad ABN", "at": NOW}
                for n in range(150)
            ],
        )

    first = client.get(f"/runs/{history}")
    second = client.get(f"/runs/{history}", params={"page": 2})

    assert _table(first.text, "problems").count("<tr>") == 101, "a heading and 100 rows"
    assert 'id="next-page"' in first.text
    assert _table(second.text, "problems").count("<tr>") == 54
    assert 'id="next-page"' not in second.text


def test_a_dry_run_is_marked_and_shows_its_diff(client, reports):
    run = _run("manual__dry", 2, {"created": 1, "updated": 1, "quarantined": 1}, dry_run=True)
    with reports.state.begin() as conn:
        conn.execute(sa.insert(sync_runs), [run])
    folder = run_folder(reports.reports_dir, BUSINESS, run["run_id"])
    folder.mkdir(parents=True)
    report = {
        "dry_run": True,
        "diff": [
            {
                "scope_code": "NEW01",
                "action": "create",
                "fields": [
                    {"field": "Name", "before": None, "after": "New"},
                    {"contact": "m-7", "field": "FirstName", "before": None, "after": "Ann"},
                ],
            },
            {
                "scope_code": "OLD01",
                "action": "update",
                "fields": [{"field": "Email", "before": "a@x", "after": "b@x"}],
            },
        ],
        "problems": [
            {"scope_code": "BAD01", "status": "quarantined", "detail": "postcode 99999 is not valid"},
            {"scope_code": "TYPO01", "status": "not_found", "detail": "no Class fund has this scope code"},
        ],
        "unmatched_fund_codes": ["TYPO01"],
    }
    (folder / "sync-report.json").write_text(json.dumps(report))

    page = client.get(f"/runs/{run['run_id']}")

    assert page.status_code == 200
    assert 'id="dry-run"' in page.text
    assert "nothing was written to XPM" in page.text
    diff = _table(page.text, "diff")
    assert "<td>OLD01</td><td>update</td><td>Email</td><td>a@x</td><td>b@x</td>" in diff
    assert "<td>NEW01</td><td>create</td><td>Name</td><td>—</td><td>New</td>" in diff
    assert "<td></td><td></td><td>Contact m-7: FirstName</td><td>—</td><td>Ann</td>" in diff
    assert "postcode 99999 is not valid" in page.text
    assert "Fix the fund in Class" in page.text
    assert "Check the scope code in Class" in _table(page.text, "problems")
    assert '<p class="warning" id="unmatched-fund-codes">TYPO01</p>' in page.text


def test_a_run_that_ended_before_its_report_is_counted_from_its_outcomes(client, reports):
    run = _run("manual__crashed", 1, {}, status="failed", summary={"reason": "the worker was killed"})
    with reports.state.begin() as conn:
        conn.execute(sa.insert(sync_runs), [run])
        conn.execute(
            sa.insert(sync_outcomes),
            [
                {"run_id": run["run_id"], "business_id": BUSINESS, "fund_id": "f-1", "scope_code": "A01"}
                | {"action": "create", "status": "created", "detail": None, "at": NOW}
            ],
        )

    page = client.get(f"/runs/{run['run_id']}")

    assert page.status_code == 200
    assert "<tr><td>created</td><td>1</td></tr>" in page.text
    assert '<dd id="run-reason">the worker was killed</dd>' in page.text


def test_the_airflow_run_tab_opens_the_business_run_or_lists_several(client, reports, history):
    one = client.get(f"/airflow-runs/{DAG}/scheduled__3", follow_redirects=False)
    with reports.state.begin() as conn:
        other = _run("scheduled__3", 1, {}) | {"run_id": f"{DAG}/scheduled__3/biz-2", "business_id": "biz-2"}
        conn.execute(sa.insert(sync_runs), [other])
    several = client.get(f"/airflow-runs/{DAG}/scheduled__3")
    none = client.get("/airflow-runs/xpm_jobs_snapshot/scheduled__3")
    like_wildcards = client.get(f"/airflow-runs/{DAG}/scheduled%25")

    assert one.status_code == 303
    assert one.headers["location"].endswith(f"/classxpm/runs/{history}")
    assert several.text.count("/classxpm/runs/class_xpm_sync/scheduled__3/biz-") == 2
    assert 'id="no-sync"' in none.text
    assert 'id="no-sync"' in like_wildcards.text


def test_an_unknown_run_is_not_found(client):
    assert client.get("/runs/class_xpm_sync/nope/biz-1").status_code == 404


def test_the_settings_page_and_the_reports_link_the_run(as_role, reports, history):
    page = as_role(reports, "admin").get("/settings", params={"business": BUSINESS})

    assert re.search(f'<a id="last-sync-run" href="[^"]*/classxpm/runs/{history}">', page.text)


def test_fund_codes_that_matched_nothing_are_named_from_the_runs_summary(client, reports):
    summary = {"counts": {"unchanged": 1}, "unmatched_fund_codes": ["SMTIH01"]}
    run = _run("manual__codes", 1, {}, summary=summary)
    with reports.state.begin() as conn:
        conn.execute(sa.insert(sync_runs), [run])

    page = client.get(f"/runs/{run['run_id']}")

    assert '<p class="warning" id="unmatched-fund-codes">SMTIH01</p>' in page.text
