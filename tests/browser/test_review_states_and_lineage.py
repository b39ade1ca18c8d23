"""The rest of issue 18's points in headless Chromium, through Airflow's menu, each with its screenshot:
needs review with the admin's answers, the states a page shows, the trigger form and the asset graph."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa

from classxpm.state.crypto import TokenCipher
from classxpm.state.tables import xpm_grants
from classxpm.state.tokens import TokenStore
from classxpm.sync.tables import fund_choices, fund_links, remote_clients, sync_runs
from classxpm.xpm.auth import TokenSet
from classxpm.xpm_sim.config import DEFAULT_TENANT_ID
from fixtures.remote_clients import add_xpm_client
from fixtures.sync_runs import DAG, run_row

from .conftest import BUSINESS, open_from_menu

TWIN = "Twin Peaks Super Fund"
CANDIDATE_URL = "https://practicemanager.xero.com/Client/c-twin/Detail"


@pytest.fixture
def needs_review(practice):
    """TWIN01 needs review: one live candidate holding its name and code, one archived."""
    with practice.begin() as conn:
        conn.execute(sa.delete(remote_clients))
        conn.execute(sa.delete(fund_choices))
        conn.execute(
            sa.insert(fund_links).values(
                business_id=BUSINESS,
                fund_id="f-twin",
                tenant_id=DEFAULT_TENANT_ID,
                scope_code="TWIN01",
                fund_name=TWIN,
                last_status="needs_review",
                last_error="2 XPM clients hold the fund's name",
            )
        )
    for uuid, name, archived in [("c-twin", TWIN, "No"), ("c-old", "Twin Peaks", "Yes")]:
        fields = {"Name": name, "ExportCode": "TWIN01", "IsArchived": archived, "WebUrl": CANDIDATE_URL}
        add_xpm_client(practice, uuid, DEFAULT_TENANT_ID, datetime.now(UTC), **fields)
    return practice


def _open_fund(page, stack, status: str, code: str):
    frame = open_from_menu(page, stack, "Fund dashboard")
    frame.locator("select[name=status]").select_option(status)
    frame.get_by_role("button", name="Find").click()
    frame.get_by_role("link", name=code).click()
    frame.locator("#link-status").wait_for()
    return frame


def test_needs_review_shows_the_candidates_and_an_admin_links_one_after_confirming(
    stack, needs_review, signed_in, shot
):
    page = signed_in("admin").new_page()
    frame = _open_fund(page, stack, "needs_review", "TWIN01")

    assert "A person must choose its XPM client first" in frame.locator("#hint").inner_text()
    rows = frame.locator("#candidates tbody tr")
    assert rows.count() == 2
    assert rows.nth(0).inner_text().startswith("Twin Peaks\tTWIN01\t—\tarchived\tLaunch")
    assert rows.nth(1).inner_text().startswith(f"{TWIN}\tTWIN01\t—\tno\tLaunch")
    assert frame.get_by_role("button", name="Link to this client").count() == 1, "not the archived one"
    assert "Restore it in XPM to link it" in frame.locator("#candidates").inner_text()
    assert frame.locator("#create-client").is_visible()
    shot(page, "1-needs-review-candidates-and-admin-buttons")

    frame.get_by_role("button", name="Link to this client").click()
    asked = frame.locator("#answer-confirmation").inner_text()
    assert f"to the XPM client {TWIN} (ExportCode TWIN01)?" in asked
    assert "every later sync keeps to this client" in asked
    shot(page, "2-link-asks-what-it-does")

    frame.locator("#confirm-answer").click()
    notice = frame.locator("p.notice")
    notice.wait_for()
    assert notice.inner_text() == "Fund TWIN01 is linked to client c-twin; the next run updates it."
    assert frame.locator("#link-status").inner_text().startswith("Linked")
    assert (
        frame.get_by_role("link", name="Launch Xero Practice Manager").get_attribute("href") == CANDIDATE_URL
    )
    with needs_review.connect() as conn:
        kept = conn.execute(sa.select(fund_choices.c.choice, fund_choices.c.client_uuid)).all()
    assert [tuple(row) for row in kept] == [("link", "c-twin")], "kept for every later run"
    shot(page, "3-linked-by-hand-with-its-launch-link")

    frame.locator("#unlink-fund").click()
    assert "nothing in XPM is changed or deleted" in frame.locator("#answer-confirmation").inner_text()
    shot(page, "4-unlink-fund-asks-what-it-does")
    frame.locator("#cancel-answer").click()
    frame.locator("#unlink-fund").wait_for()


def test_a_viewer_sees_the_candidates_without_buttons(stack, needs_review, signed_in, shot):
    page = signed_in("viewer").new_page()
    frame = _open_fund(page, stack, "needs_review", "TWIN01")

    assert frame.locator("#candidates tbody tr").count() == 2
    assert frame.get_by_role("button", name="Link to this client").count() == 0
    assert frame.locator("#create-client").count() == 0
    shot(page, "viewer-needs-review-without-buttons")


def _grant(stack, engine, authorised: datetime) -> None:
    cipher = TokenCipher(stack.env["CLASSXPM_FERNET_KEY"])
    tokens = TokenSet(
        "access", "refresh", authorised + timedelta(minutes=30), "offline_access", None, DEFAULT_TENANT_ID
    )
    TokenStore(engine, cipher, lambda: authorised).save(BUSINESS, tokens, "Demo Practice", "conn-1")


def _last_run(engine, **values) -> None:
    row = run_row("scheduled__last", BUSINESS, datetime.now(UTC) - timedelta(hours=1), {}, **values)
    with engine.begin() as conn:
        conn.execute(sa.delete(sync_runs))
        conn.execute(sa.insert(sync_runs), [row])


def test_the_settings_tell_the_truth_about_runs_expiry_time_zone_and_unlink(stack, practice, signed_in, shot):
    _grant(stack, practice, datetime.now(UTC) - timedelta(days=10))
    _last_run(practice, status="failed", summary={"reason": "XPM refused the grant: re-authorise"})
    page = signed_in("admin").new_page()
    frame = open_from_menu(page, stack, "Integration settings")

    assert frame.locator("#headline").inner_text() == "Xero Integration Authorised"
    days_left = int(frame.locator("#days-left").inner_text())
    expiry = datetime.strptime(frame.locator("#idle-expiry").inner_text()[:16], "%Y-%m-%d %H:%M")
    assert days_left in {49, 50}
    assert abs((expiry - datetime.now() - timedelta(days=days_left)).days) <= 1, (
        "days left agrees with expiry"
    )
    assert frame.locator("#idle-expiry").inner_text().endswith(("AEST", "AEDT")), "the zone is named"
    assert frame.locator("#zone").inner_text() == "Times are in Australia/Sydney."
    assert frame.locator("#last-sync .status-failed").inner_text() == "failed"
    assert frame.locator("#last-sync-reason").inner_text() == "XPM refused the grant: re-authorise"
    shot(page, "1-failed-last-sync-days-left-and-time-zone")

    _last_run(practice, status="skipped", summary={"reason": "Another run of this business was still going"})
    frame = open_from_menu(page, stack, "Integration settings")
    assert frame.locator("#last-sync .status-skipped").inner_text() == "skipped"
    assert frame.locator("#last-sync-reason").inner_text() == "Another run of this business was still going"
    shot(page, "2-skipped-last-sync-with-its-reason")

    frame.locator("#unlink").click()
    asked = frame.locator("#unlink-confirmation").inner_text()
    assert "The connection is deleted in Xero and the grant revoked" in asked
    assert "Nothing in XPM is deleted" in asked
    shot(page, "3-unlink-asks-what-it-does")
    frame.locator("#cancel-unlink").click()
    with practice.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(xpm_grants)).scalar() == 1, "still linked"

    frame = _open_fund(page, stack, "quarantined", "JONES01")
    hint = frame.locator("#hint").inner_text()
    assert "Please check that the fund has either a valid TFN or no TFN and re-sync" in hint
    assert "Validation held it back: TFN fails its check digit" in hint
    shot(page, "4-quarantined-fund-hint-says-what-to-fix")


@pytest.mark.timeout(600)  # Airflow's React app loads slowly on a loaded machine: a deadline, not speed
def test_the_trigger_form_has_titles_descriptions_and_no_false_required_marks(
    stack, practice, signed_in, shot
):
    page = signed_in("admin").new_page()
    page.goto(f"{stack.url}/dags/{DAG}")
    # A dispatched click: a pointer click waits on the busy page's input queue, which a loaded machine stalls.
    page.get_by_test_id("trigger-dag-button").dispatch_event("click")
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("Run Parameters").wait_for()
    text = dialog.inner_text()

    for title in (
        "Mode",
        "Business",
        "Dry run",
        "Fund scope codes",
        "Writes allowed",
        "Funds per upsert task",
    ):
        assert title in text, title
    assert "One Class business, by name or id; empty syncs every authorised business" in text
    assert "Plan and report the record-level diff; write nothing to XPM" in text
    assert dialog.locator("input[required], textarea[required], [aria-required=true]").count() == 0
    shot(page, "trigger-form")


@pytest.mark.timeout(600)
def test_the_asset_graph_shows_the_class_sources_and_the_xpm_targets_with_their_tasks(
    stack, practice, signed_in, shot
):
    api = httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {stack.token('admin')}"})
    assets = api.get("/api/v2/assets", params={"uri_pattern": "class://class_db/"}).json()["assets"]
    sources = {asset["uri"]: asset for asset in assets}
    assert set(sources) == {"class://class_db/funds", "class://class_db/members"}
    funds = sources["class://class_db/funds"]
    readers = {(t["dag_id"], t["task_id"]) for t in funds["consuming_tasks"]}
    assert readers == {(DAG, "extract"), ("class_xpm_incremental", "sync")}  # the compact incremental DAG

    graph = api.get("/ui/dependencies", params={"node_id": f"asset:{funds['id']}", "dependency_type": "data"})
    edges = {(edge["source_id"], edge["target_id"]) for edge in graph.json()["edges"]}
    assert (f"asset:{funds['id']}", f"task:{DAG}__SEPARATOR__extract") in edges
    structure = api.get(
        "/ui/structure/structure_data", params={"dag_id": DAG, "external_dependencies": True}
    ).json()
    # Until a run has resolved the aliases, Airflow draws them after the DAG's last task; once an earlier
    # test's run has resolved them, it draws the xpm:// assets instead, bound to the task that named them.
    targets = {node["id"]: _xpm_records(node) for node in structure["nodes"]}
    targets = {node_id: records for node_id, records in targets.items() if records}
    assert set(targets.values()) == {"clients", "contacts"}
    tasks = {node["id"] for node in structure["nodes"] if node["type"] == "task"}
    produced = {(e["source_id"], e["target_id"]) for e in structure["edges"] if e["target_id"] in targets}
    assert {target for _, target in produced} == set(targets)
    assert {source for source, _ in produced} <= tasks
    api.close()

    page = signed_in("admin").new_page()
    page.goto(f"{stack.url}/assets/{funds['id']}")
    page.get_by_text("Consuming Tasks").wait_for()
    assert "class_db.funds" in page.locator("body").inner_text()
    shot(page, "class-source-asset-with-its-consuming-tasks")


def _xpm_records(node: dict) -> str:
    """``clients`` or ``contacts`` for an XPM target node of the graph (alias or resolved asset), else ""."""
    if node["type"] == "asset-alias":
        return node["id"].removeprefix("asset-alias:classxpm-xpm-")
    if node["type"] == "asset" and str(node.get("label", "")).startswith("xpm://"):
        return node["label"].rsplit("/", 1)[-1]
    return ""
