"""Changes people make in XPM between runs (issue 16): deleted clients, removed contacts.

An incremental run writes a fund changed in Class on the strength of its stored link; when a person has
deleted the client in XPM (soft: XPM keeps it flagged; hard: it answers 404), the run reports the fund
once for review, stays green, and later runs do not retry it. A contact a person removed from a client
is added back by the next full run: Class is the source of truth for members.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize("delete_mode", ["soft", "hard"])
def test_a_client_deleted_in_xpm_is_reported_once_and_not_retried(sync_world, delete_mode):
    sync_world.sim.patch_config(client_delete_mode=delete_mode)
    sync_world.run("class_xpm_incremental")
    fund_id, code = sync_world.class_rows("SELECT fund_id, scope_code FROM funds ORDER BY scope_code")[0]
    client = next(c for c in sync_world.clients() if c["ExportCode"] == code)
    with sync_world.sim.api_client() as api:
        api.post("client.api/delete", content=f"<Client><UUID>{client['UUID']}</UUID></Client>")
    sync_world.source(
        "UPDATE funds SET scope_description = 'Renamed Super Fund', updated_at = '2027-03-01' "
        "WHERE fund_id = :f",
        f=fund_id,
    )
    clients = len(sync_world.clients())

    state, report = sync_world.run("class_xpm_incremental")

    assert state == "success", report["problems"]
    [problem] = report["problems"]
    assert (problem["scope_code"], problem["status"]) == (code, "needs_review")
    assert "deleted" in problem["detail"]
    assert problem["new"] is True
    assert report["notices"] == [f"New since the last run: 1 funds need review ({code})."]
    assert len(sync_world.clients()) == clients, "no client made again"

    sync_world.clear_calls()
    state, again = sync_world.run("class_xpm_incremental")
    assert state == "success"
    assert again["counts"]["needs_review"] == 1, "counted as needs review, not as unchanged"
    [still] = again["problems"]
    assert (still["scope_code"], still["status"], still["detail"]) == (
        code,
        "needs_review",
        problem["detail"],
    )
    assert still["new"] is False
    assert again["notices"] == [], "reported as news once"
    assert sync_world.writes() == 0, "not retried"


def test_a_contact_a_person_removed_in_xpm_is_added_back_once_by_the_next_full_run(sync_world):
    sync_world.run()
    rows = sync_world.state_rows(
        "SELECT fund_id, member_id, contact_uuid FROM contact_links ORDER BY member_id LIMIT 1"
    )
    [(fund_id, member_id, removed)] = rows
    [(code,)] = sync_world.class_rows("SELECT scope_code FROM funds WHERE fund_id = :f", f=fund_id)
    client = next(c for c in sync_world.clients() if c["ExportCode"] == code)
    held = len(client["_contacts"])
    with sync_world.sim.api_client() as api:
        api.delete(f"client.api/contact/{removed}", params={"clientUuid": client["UUID"]}).raise_for_status()

    state, report = sync_world.run()

    assert state == "success", report["problems"]
    client = next(c for c in sync_world.clients() if c["ExportCode"] == code)
    assert len(client["_contacts"]) == held, "the member's contact is back, once"
    assert removed not in {link["UUID"] for link in client["_contacts"]}
    linked = "SELECT contact_uuid FROM contact_links WHERE member_id = :m"
    [(now,)] = sync_world.state_rows(linked, m=member_id)
    assert now in {link["UUID"] for link in client["_contacts"]}
    assert report["members_not_in_xpm"] == []
    sync_world.clear_calls()
    sync_world.run()
    assert sync_world.writes() == 0, "a second full run adds nothing more"
