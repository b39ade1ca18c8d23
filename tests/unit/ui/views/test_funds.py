from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from classxpm.jobs.tables import job_snapshots, snapshot_jobs, snapshot_tasks
from classxpm.sync.tables import fund_links, sync_outcomes
from fixtures.remote_clients import add_xpm_client

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


def set_fund(state, fund_id: str, **values) -> None:
    with state.begin() as conn:
        conn.execute(sa.update(fund_links).where(fund_links.c.fund_id == fund_id).values(**values))


def hint(page) -> str:
    return re.search(r'<p id="hint" class="warning">(.*?)</p>', page.text, re.S).group(1)


def test_a_linked_fund_stored_without_its_link_shows_the_one_xpm_gave_with_the_client(viewer, funds):
    set_fund(funds, "f-00002", web_url=None)
    add_xpm_client(funds, "client-2", Name="Fund 00002 Superannuation", WebUrl=f"{WEB_URL}?c=2")

    page = viewer.get("/funds/f-00002", params={"business": BUSINESS})
    listing = viewer.get("/funds", params={"business": BUSINESS, "q": "SMSF0000"})

    assert f'<a id="launch" class="button" href="{WEB_URL}?c=2"' in page.text
    assert 'id="hint"' not in page.text
    launch = f'href="{WEB_URL}?c=2" target="_blank" rel="noopener" data-leave-frame>'
    launch += "Launch Xero Practice Manager</a>"
    assert launch in listing.text


def test_the_list_shows_the_launch_link_of_every_linked_fund_and_none_for_the_others(viewer, funds):
    page = viewer.get("/funds", params={"business": BUSINESS})

    rows = re.findall(r"<tr>\s*<td><a href=[^>]*>(SMSF\d+)</a></td>(.*?)</tr>", page.text, re.S)
    assert len(rows) == 50
    for code, cells in rows:
        linked = int(code[4:]) % 10 != 0
        assert ("Launch Xero Practice Manager" in cells) is linked, code


def test_a_fund_quarantined_by_another_rule_says_what_to_fix_in_class(viewer, funds):
    reason = 'ABN "51 824 753 557" fails its check digit: correct the fund\'s ABN in Class, or clear it'
    set_fund(funds, "f-00010", last_error=reason)

    page = viewer.get("/funds/f-00010", params={"business": BUSINESS})

    assert "Validation held it back; fix this in Class and re-sync" in hint(page)
    shown = "ABN &#34;51 824 753 557&#34; fails its check digit: correct the fund&#39;s ABN in Class"
    assert shown in hint(page)
    assert "valid TFN" not in hint(page), "the seed's TFN advice only where the TFN is at fault"


def test_a_fund_quarantined_for_its_tfn_keeps_the_seed_words_and_names_every_rule(viewer, funds):
    set_fund(funds, "f-00010", last_error="TFN fails its check digit: fix; fund name is missing: enter it")

    page = viewer.get("/funds/f-00010", params={"business": BUSINESS})

    assert "either a valid TFN or no TFN and re-sync the integration" in hint(page)
    assert "fund name is missing: enter it" in hint(page)


def test_a_fund_xpm_refused_shows_xpms_reason_from_its_last_outcome(viewer, funds):
    set_fund(funds, "f-00020", last_status="failed", last_error="an earlier run's words")
    with funds.begin() as conn:
        for at, detail in [(SYNCED, "an older refusal"), (SYNCED.replace(hour=3), "Client Name is too long")]:
            conn.execute(
                sa.insert(sync_outcomes).values(
                    run_id=f"run-{at.hour}",
                    business_id=BUSINESS,
                    fund_id="f-00020",
                    scope_code="SMSF00020",
                    action="create",
                    status="failed",
                    detail=detail,
                    at=at,
                )
            )

    page = viewer.get("/funds/f-00020", params={"business": BUSINESS})

    assert hint(page).endswith("XPM refused it: Client Name is too long")


def test_needs_review_lists_the_candidates_and_tells_an_admin_what_to_do(admin, viewer, funds):
    set_fund(funds, "f-00030", last_status="needs_review", last_error="2 XPM clients match by export code")
    add_xpm_client(
        funds, "c-a", Name="Fund 00030 Superannuation", ExportCode="SMSF00030", BusinessNumber="51824753556",
        IsArchived="No", WebUrl=f"{WEB_URL}?c=a",
    )  # fmt: skip
    add_xpm_client(funds, "c-b", Name="Old name", ExportCode=" smsf00030 ", IsArchived="Yes")
    add_xpm_client(funds, "c-c", Name="Someone else", ExportCode="SMSF00031")

    page = admin.get("/funds/f-00030", params={"business": BUSINESS})
    seen_by_viewer = viewer.get("/funds/f-00030", params={"business": BUSINESS})

    assert "A person must choose its XPM client first: 2 XPM clients match by export code" in hint(page)
    table = re.search(r'<table id="candidates">.*?</table>', seen_by_viewer.text, re.S).group(0)
    rows = re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]
    cells = [re.findall(r"<td>(.*?)</td>", row, re.S) for row in rows]
    assert cells == [
        [
            "Fund 00030 Superannuation",
            "SMSF00030",
            "51824753556",
            "no",
            f'<a href="{WEB_URL}?c=a" target="_blank" rel="noopener" data-leave-frame>Launch</a>',
        ],
        ["Old name", "smsf00030", "—", "archived", "—"],
    ]
    admin_table = re.search(r'<table id="candidates">.*?</table>', page.text, re.S).group(0)
    assert admin_table.count("Link to this client") == 1, "one button, for the live candidate"
    assert "Restore it in XPM to link it" in admin_table, "an archived candidate cannot be chosen"
    assert 'id="create-client"' in page.text
    assert 'id="review-action"' in page.text
    assert "give the right client the ExportCode <strong>SMSF00030</strong>" in page.text
    assert 'id="candidates"' in seen_by_viewer.text
    assert 'id="review-action"' not in seen_by_viewer.text, "the action is for those who may manage XPM"
    assert "Link to this client" not in seen_by_viewer.text
    assert 'id="create-client"' not in seen_by_viewer.text


def test_needs_review_with_no_client_in_the_last_read_says_so(viewer, funds):
    set_fund(funds, "f-00040", last_status="needs_review", last_error="the linked XPM client is archived")

    page = viewer.get("/funds/f-00040", params={"business": BUSINESS})

    assert 'id="no-candidates"' in page.text


def test_a_fund_never_synced_says_the_next_sync_sends_it(viewer, funds):
    set_fund(funds, "f-00050", last_status=None, last_error=None)

    page = viewer.get("/funds/f-00050", params={"business": BUSINESS})

    assert hint(page).endswith("No sync has sent it yet: the next sync creates or links its XPM client.")
