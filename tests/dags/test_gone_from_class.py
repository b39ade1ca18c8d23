"""Gone from Class (issue 16), through the sync DAGs against the simulator with the state DB on PostgreSQL:
funds wound up, deleted or moved to another business, and members rolled out, each reported by full runs;
XPM changes only under the archive policy, and a freed scope code is reused without a misleading review."""

from __future__ import annotations

import pathlib
from collections import Counter

import pytest

pytestmark = pytest.mark.postgres

OTHER_BUSINESS = "0b1e2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"


def _funds(world) -> list[tuple[str, str]]:
    """(fund_id, scope_code) of the funds with members, in scope-code order."""
    statement = (
        "SELECT fund_id, scope_code FROM funds JOIN members USING (fund_id) "
        "GROUP BY fund_id, scope_code ORDER BY scope_code"
    )
    return [(row.fund_id, row.scope_code) for row in world.query(statement)]


def _delete_fund(world, fund_id: str) -> None:
    world.source("DELETE FROM members WHERE fund_id = :f", f=fund_id)
    world.source("DELETE FROM funds WHERE fund_id = :f", f=fund_id)


def _add_fund(world, fund_id: str, code: str) -> None:
    world.source(
        "INSERT INTO funds (fund_id, business_id, scope_code, scope_description, created_at, updated_at) "
        "VALUES (:f, :b, :c, 'Reused Code Super Fund', '2027-07-01', '2027-07-01')",
        f=fund_id,
        b=world.business_id,
        c=code,
    )


def _live(world) -> Counter:
    held = world.clients()
    return Counter(c["ExportCode"] for c in held if c["IsArchived"] == "No" and c["IsDeleted"] == "No")


def test_full_runs_report_funds_and_members_gone_from_class_and_change_nothing_in_xpm(sync_world):
    sync_world.run()
    (deleted, deleted_code), (moved, moved_code), (shrunk, shrunk_code) = _funds(sync_world)[:3]
    before = {c["ExportCode"]: c for c in sync_world.clients()}
    first_member = "SELECT member_id FROM members WHERE fund_id = :f ORDER BY member_id LIMIT 1"
    (rolled_out,) = sync_world.query(first_member, f=shrunk)[0]
    _delete_fund(sync_world, deleted)
    other = "INSERT INTO businesses (business_id, name) VALUES (:b, 'Other Practice')"
    sync_world.source(other, b=OTHER_BUSINESS)
    sync_world.source("UPDATE funds SET business_id = :b WHERE fund_id = :f", b=OTHER_BUSINESS, f=moved)
    sync_world.source("DELETE FROM members WHERE member_id = :m", m=rolled_out)
    sync_world.clear_calls()

    state, report = sync_world.run()

    assert state == "success"
    gone = {f["scope_code"]: f for f in report["gone_from_class"]["funds"]}
    assert set(gone) == {deleted_code, moved_code}
    assert "no longer in Class" in gone[deleted_code]["what"]
    assert f"moved to business {OTHER_BUSINESS}" in gone[moved_code]["what"]
    assert all("left as it is" in f["done"] for f in gone.values()), "nothing is archived by default"
    assert [(m["scope_code"], m["member_id"]) for m in report["gone_from_class"]["members"]] == [
        (shrunk_code, rolled_out)
    ]
    page = pathlib.Path(report["report_path"]).with_suffix(".html").read_text()
    assert "2 linked funds gone from Class, 1 linked members rolled out" in page
    assert "Funds gone from Class (2)" in page
    assert sync_world.writes() == 0
    after = {c["ExportCode"]: c for c in sync_world.clients()}
    assert after == before, "XPM is left as it was"

    _add_fund(sync_world, "reused-fund", deleted_code)
    state, reused = sync_world.run()
    assert state == "success"
    assert reused["counts"]["needs_review"] == 0, "no misleading 'scope codes must be unique'"
    assert reused["counts"]["linked"] == 1, "the freed code's client is linked to the new fund"
    assert _live(sync_world)[deleted_code] == 1
    assert max(Counter(c["ExportCode"] for c in sync_world.clients()).values()) == 1, "no client twice"
    done = {f["scope_code"]: f["done"] for f in reused["gone_from_class"]["funds"]}
    assert set(done) == {deleted_code, moved_code}
    assert "now linked to the fund that took over its scope code" in done[deleted_code]
    _, later = sync_world.run()
    assert {f["scope_code"] for f in later["gone_from_class"]["funds"]} == {moved_code}


def test_the_archive_policy_archives_the_client_of_a_fund_gone_and_frees_its_scope_code(sync_world):
    sync_world.run()
    (deleted, deleted_code), _ = _funds(sync_world)[:2]
    _delete_fund(sync_world, deleted)

    _, incremental = sync_world.run("class_xpm_incremental", gone_from_class="archive")
    assert incremental["gone_from_class"] == {"funds": [], "members": []}, "only full runs compare links"
    state, report = sync_world.run(gone_from_class="archive")

    assert state == "success"
    (entry,) = report["gone_from_class"]["funds"]
    assert (entry["scope_code"], entry["done"]) == (deleted_code, "archived")
    (client,) = [c for c in sync_world.clients() if c["ExportCode"] == deleted_code]
    assert client["IsArchived"] == "Yes"
    assert deleted_code not in _live(sync_world)

    _, again = sync_world.run(gone_from_class="archive")
    assert again["gone_from_class"]["funds"] == [], "reported once: the link went with the archived client"

    _add_fund(sync_world, "reused-fund", deleted_code)
    state, reused = sync_world.run()
    assert state == "success"
    assert reused["counts"]["created"] == 1
    assert reused["counts"]["needs_review"] == 0
    assert _live(sync_world)[deleted_code] == 1, "one live client with the reused code, the old one archived"
