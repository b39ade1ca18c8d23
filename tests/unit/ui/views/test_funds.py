from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from classxpm.jobs.tables import job_snapshots, snapshot_jobs, snapshot_tasks
from classxpm.sync.tables import fund_links

BUSINESS = "biz-1"
SYNCED = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)
WEB_URL = "https://practicemanager.xero.com/Client/8f2a/Detail"


def add_funds(state, count: int) -> None:
    rows = [
        {
            "business_id": BUSINESS,
            "fund_id": f"f-{n:05d}",
            "tenant_id": "tenant-1",
            "scope_code": f"SMSF{n:05d}",
            "fund_name": f"Fund {n:05d} Superannuation",
            "client_uuid": f"client-{n}" if n % 10 else None,
            "web_url": WEB_URL if n % 10 else None,
            "last_synced_at": SYNCED,
            "last_status": "synced" if n % 10 else "quarantined",
            "last_error": None if n % 10 else "TFN fails its check digit",
        }
        for n in range(1, count + 1)
    ]
    with state.begin() as conn:
        conn.execute(sa.insert(fund_links), rows)


def add_jobs(state, client_uuid: str) -> None:
    with state.begin() as conn:
        conn.execute(
            sa.insert(job_snapshots).values(
                business_id=BUSINESS, tenant_id="tenant-1", taken_at=SYNCED, jobs=1, tasks=2, api_calls=2
            )
        )
        conn.execute(
            sa.insert(snapshot_jobs).values(
                business_id=BUSINESS,
                job_number="J000042",
                client_uuid=client_uuid,
                name="2026 annual return",
                state="In Progress",
                due_date=date(2026, 9, 30),
                manager="Pat Manager",
            )
        )
        conn.execute(
            sa.insert(snapshot_tasks),
            [
                {
                    "business_id": BUSINESS,
                    "job_number": "J000042",
                    "position": 0,
                    "name": "Audit",
                    "completed": True,
                },
                {
                    "business_id": BUSINESS,
                    "job_number": "J000042",
                    "position": 1,
                    "name": "Lodge",
                    "completed": False,
                },
            ],
        )


@pytest.fixture
def funds(state):
    add_funds(state, 120)
    add_jobs(state, "client-1")
    return state


def listed(page) -> list[str]:
    return re.findall(r">(SMSF\d+)</a>", page.text)


def test_the_list_pages_by_scope_code(admin, funds):
    first = admin.get("/funds", params={"business": BUSINESS})
    third = admin.get("/funds", params={"business": BUSINESS, "page": 3})

    assert listed(first)[:2] == ["SMSF00001", "SMSF00002"]
    assert len(listed(first)) == 50
    assert "Next →" in first.text
    assert listed(third) == [f"SMSF{n:05d}" for n in range(101, 121)]
    assert "Next →" not in third.text
    assert "108 synced · 12 quarantined" in first.text


def test_find_by_scope_code_prefix_or_name_and_status(admin, funds):
    by_code = admin.get("/funds", params={"business": BUSINESS, "q": "smsf0011"})
    by_name = admin.get("/funds", params={"business": BUSINESS, "q": "fund 00042 super"})
    failing = admin.get("/funds", params={"business": BUSINESS, "status": "quarantined"})
    wildcard = admin.get("/funds", params={"business": BUSINESS, "q": "%"})

    assert listed(by_code) == [f"SMSF{n:05d}" for n in range(110, 120)]
    assert listed(by_name) == ["SMSF00042"]
    assert listed(failing)[:3] == ["SMSF00010", "SMSF00020", "SMSF00030"]
    assert "TFN fails its check digit" in failing.text
    assert listed(wildcard) == []


def test_a_linked_fund_shows_jobs_tasks_and_the_launch_link(viewer, funds):
    page = viewer.get("/funds/f-00001", params={"business": BUSINESS})

    assert page.status_code == 200
    assert f'<a id="launch" class="button" href="{WEB_URL}" target="_blank"' in page.text
    assert "Launch Xero Practice Manager" in page.text
    assert "J000042 · 2026 annual return" in page.text
    assert "In Progress" in page.text
    assert "Due 2026-09-30 · Manager Pat Manager" in page.text
    assert '<td>Audit</td><td class="done">Completed</td>' in page.text
    assert '<td>Lodge</td><td class="open">Open</td>' in page.text


def test_an_unlinked_fund_says_why_and_shows_no_launch_link(viewer, funds):
    page = viewer.get("/funds/f-00010", params={"business": BUSINESS})

    assert "Launch Xero Practice Manager</a>" not in page.text
    assert 'id="launch"' not in page.text
    assert "TFN fails its check digit" in page.text
    assert "either a valid TFN or no TFN and re-sync the integration" in page.text
    assert "Not linked" in page.text


def test_a_linked_fund_without_its_web_url_yet_says_when_it_comes(viewer, funds):
    with funds.begin() as conn:
        conn.execute(sa.update(fund_links).where(fund_links.c.fund_id == "f-00002").values(web_url=None))

    page = viewer.get("/funds/f-00002", params={"business": BUSINESS})

    assert 'id="launch"' not in page.text
    assert "after the next XPM jobs snapshot" in page.text


def test_an_unknown_fund_is_not_found(viewer, funds):
    page = viewer.get("/funds/nope", params={"business": BUSINESS})

    assert page.status_code == 404
    assert "No fund nope" in page.text


def test_pages_load_in_under_a_second_with_10000_funds(admin, state):
    add_funds(state, 10_000)
    add_jobs(state, "client-9999")
    for path, params in [
        ("/funds", {"business": BUSINESS}),
        ("/funds", {"business": BUSINESS, "q": "superannuation", "page": 150}),
        ("/funds", {"business": BUSINESS, "status": "quarantined", "page": 10}),
        ("/funds/f-09999", {"business": BUSINESS}),
        ("/settings", {"business": BUSINESS}),
    ]:
        started = time.perf_counter()
        page = admin.get(path, params=params)
        assert page.status_code == 200
        assert time.perf_counter() - started < 1.0, path
