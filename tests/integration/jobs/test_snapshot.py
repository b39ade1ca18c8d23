"""The jobs snapshot against the simulator: the fewest calls, whole replacement, WebUrls within budget."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from classxpm.jobs.snapshot import fill_web_urls, linked_clients, pull_jobs, take_snapshot, write_snapshot
from classxpm.jobs.tables import job_snapshots, snapshot_jobs, snapshot_tasks
from classxpm.sync.tables import fund_links
from classxpm.xpm import errors
from fixtures.xpm_auth import headless_login

BUSINESS = "biz-1"
TAKEN = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def api(xpm_session, xpm_sim):
    tokens = headless_login(xpm_session).for_tenant(xpm_sim.tenant_id)
    return xpm_session.api_for_tokens(tokens)


def seed_practice(xpm_sim) -> dict[str, str]:
    """Three clients (two to be linked), their jobs and tasks; returns client UUIDs by export code."""
    clients = xpm_sim.seed(
        {"clients": [{"Name": f"Fund {code}", "ExportCode": code} for code in ("SMSF1", "SMSF2", "OTHER")]}
    )["clients"]
    uuids = {f"SMSF{n}" if n < 3 else "OTHER": item["uuid"] for n, item in enumerate(clients, start=1)}
    xpm_sim.seed(
        {
            "jobs": [
                job(
                    "SMSF1",
                    "J-A1",
                    "In Progress",
                    tasks=[("Lodge return", False), ("Collect bank data", True)],
                ),
                job("SMSF1", "J-A2", "Planned", tasks=[]),
                job("SMSF1", "J-A3", "Completed", tasks=[("Done long ago", True)]),
                job("SMSF2", "J-B1", "On Hold", tasks=[("Audit", False)]),
                job("OTHER", "J-C1", "In Progress", tasks=[("Not ours", False)]),
            ]
        }
    )
    return uuids


def job(code: str, number: str, state: str, tasks: list[tuple[str, bool]]) -> dict:
    return {
        "client_export_code": code,
        "ID": number,
        "Name": f"{number} annual",
        "State": state,
        "DueDate": "20260930",
        "Manager": "Pat Manager",
        "Tasks": [{"Name": name, "Completed": done, "DueDate": "20260815"} for name, done in tasks],
    }


def link(state, tenant_id: str, fund_id: str, client_uuid: str | None, web_url: str | None = None) -> None:
    with state.begin() as conn:
        conn.execute(
            sa.insert(fund_links).values(
                business_id=BUSINESS,
                fund_id=fund_id,
                tenant_id=tenant_id,
                scope_code=fund_id.upper(),
                fund_name=f"{fund_id} Super Fund",
                client_uuid=client_uuid,
                web_url=web_url,
                last_status="synced" if client_uuid else "quarantined",
            )
        )


@pytest.fixture
def linked(state, xpm_sim):
    uuids = seed_practice(xpm_sim)
    link(state, xpm_sim.tenant_id, "smsf1", uuids["SMSF1"])
    link(state, xpm_sim.tenant_id, "smsf2", uuids["SMSF2"])
    link(state, xpm_sim.tenant_id, "bad-tfn", None)
    link(state, "another-tenant", "elsewhere", uuids["OTHER"])
    return uuids


def job_calls(xpm_sim) -> dict[str, int]:
    by_endpoint = xpm_sim.calls()["by_endpoint"]
    return {key: count for key, count in by_endpoint.items() if "job.api" in key or "client.api" in key}


def stored(state, table: sa.Table) -> list[dict]:
    with state.connect() as conn:
        rows = conn.execute(sa.select(table).where(table.c.business_id == BUSINESS)).mappings().all()
    return [dict(row) for row in rows]


def test_only_the_links_of_the_grants_tenant_count(state, linked, xpm_sim):
    assert linked_clients(state, BUSINESS, xpm_sim.tenant_id) == {linked["SMSF1"], linked["SMSF2"]}


def test_current_jobs_once_and_a_detail_only_for_a_linked_job_without_its_tasks(state, linked, api, xpm_sim):
    result = take_snapshot(state, api, BUSINESS, xpm_sim.tenant_id, lambda: TAKEN)

    assert job_calls(xpm_sim) == {
        "GET job.api/current": 1,
        "GET job.api/get/{jobNumber}": 1,
        "GET client.api/get/{uuid}": 2,
    }
    assert xpm_sim.calls()["entries"][-3]["path"].endswith("job.api/get/J-A2")
    assert (result.jobs, result.tasks, result.web_urls, result.api_calls) == (3, 3, 2, 4)
    jobs = {row["job_number"]: row for row in stored(state, snapshot_jobs)}
    assert set(jobs) == {"J-A1", "J-A2", "J-B1"}
    assert jobs["J-B1"]["state"] == "On Hold"
    assert jobs["J-B1"]["manager"] == "Pat Manager"
    assert jobs["J-B1"]["due_date"] == date(2026, 9, 30)
    assert jobs["J-A1"]["client_uuid"] == linked["SMSF1"]
    tasks = {(row["job_number"], row["name"]): row["completed"] for row in stored(state, snapshot_tasks)}
    assert tasks == {
        ("J-A1", "Lodge return"): False,
        ("J-A1", "Collect bank data"): True,
        ("J-B1", "Audit"): False,
    }
    snapshot = stored(state, job_snapshots)[0]
    assert (snapshot["jobs"], snapshot["tasks"], snapshot["api_calls"]) == (3, 3, 2)


def test_web_urls_are_filled_once_and_within_the_budget(state, linked, api, xpm_sim):
    assert fill_web_urls(state, api, BUSINESS, xpm_sim.tenant_id, budget=1) == 1
    assert fill_web_urls(state, api, BUSINESS, xpm_sim.tenant_id, budget=5) == 1
    assert fill_web_urls(state, api, BUSINESS, xpm_sim.tenant_id, budget=5) == 0
    urls = {row["fund_id"]: row["web_url"] for row in stored(state, fund_links)}
    assert urls["smsf1"].startswith("http")
    assert urls["smsf2"].startswith("http")
    assert urls["bad-tfn"] is None
    assert job_calls(xpm_sim) == {"GET client.api/get/{uuid}": 2}


def test_a_new_snapshot_replaces_the_old_one_whole(state, linked, api, xpm_sim):
    take_snapshot(state, api, BUSINESS, xpm_sim.tenant_id, lambda: TAKEN)
    xpm_sim.seed({"jobs": [job("SMSF2", "J-B2", "Planned", tasks=[("Engagement letter", False)])]})
    with state.begin() as conn:
        conn.execute(sa.delete(fund_links).where(fund_links.c.fund_id == "smsf1"))

    take_snapshot(state, api, BUSINESS, xpm_sim.tenant_id, lambda: TAKEN)

    assert {row["job_number"] for row in stored(state, snapshot_jobs)} == {"J-B1", "J-B2"}
    assert {row["job_number"] for row in stored(state, snapshot_tasks)} == {"J-B1", "J-B2"}


def test_a_failed_pull_leaves_the_previous_snapshot(state, linked, api, xpm_sim):
    take_snapshot(state, api, BUSINESS, xpm_sim.tenant_id, lambda: TAKEN)
    before = stored(state, snapshot_jobs)
    xpm_sim.set_faults([{"endpoint": "GET job.api/get/{jobNumber}", "error_rate": 1.0, "statuses": [500]}])

    with pytest.raises(errors.Retriable):
        take_snapshot(state, api, BUSINESS, xpm_sim.tenant_id, lambda: TAKEN)

    assert stored(state, snapshot_jobs) == before


def test_a_write_that_fails_half_way_leaves_the_previous_snapshot(state, linked, api, xpm_sim):
    take_snapshot(state, api, BUSINESS, xpm_sim.tenant_id, lambda: TAKEN)
    before = (stored(state, snapshot_jobs), stored(state, snapshot_tasks))
    pull = pull_jobs(api, {linked["SMSF2"]})

    def fail_on_the_last_statement(_conn, _cursor, statement, *_args):
        if statement.startswith("INSERT INTO job_snapshots"):
            raise sa.exc.OperationalError(statement, {}, Exception("disk full"))

    sa.event.listen(state, "before_cursor_execute", fail_on_the_last_statement)

    with pytest.raises(sa.exc.OperationalError):
        write_snapshot(state, BUSINESS, xpm_sim.tenant_id, pull, TAKEN)
    sa.event.remove(state, "before_cursor_execute", fail_on_the_last_statement)

    assert (stored(state, snapshot_jobs), stored(state, snapshot_tasks)) == before
