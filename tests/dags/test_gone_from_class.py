"""Gone from Class (issue 16), through the sync DAGs against the simulator with the state DB on PostgreSQL:
funds wound up, deleted or moved to another business, and members rolled out, each reported by full runs;
XPM changes only under the archive policy, and a freed scope code is reused without a misleading review."""

from __future__ import annotations

import pathlib
from collections import Counter

import pytest

from fixtures.sync_world import authorise

pytestmark = pytest.mark.postgres

OTHER_BUSINESS = "0b1e2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
SECOND = "Second Practice"
FORMER = "Former member"


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
    assert report["notices"] == [
        f"New since the last run: 2 funds gone from Class ({deleted_code}, {moved_code}); "
        f"1 members rolled out ({shrunk_code} member {rolled_out})."
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
    assert reused["notices"] == [], "a standing list, not news every night"
    assert not any(f["new"] for f in reused["gone_from_class"]["funds"])
    assert [m["new"] for m in reused["gone_from_class"]["members"]] == [False]
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


def _client_of(world, code: str) -> dict:
    return next(c for c in world.clients() if c["ExportCode"] == code)


def _on_client(world, code: str) -> dict[str, dict]:
    """The contacts on the client with ``code``, by UUID: their link (Position, IsPrimary)."""
    return {link["UUID"]: link for link in _client_of(world, code)["_contacts"]}


def _roll_out(world, fund_id: str) -> tuple[str, str]:
    """Remove the fund's first member from Class; returns its member id and linked contact."""
    rows = world.state_rows(
        "SELECT member_id, contact_uuid FROM contact_links WHERE fund_id = :f ORDER BY member_id", f=fund_id
    )
    member_id, contact_uuid = rows[0]
    world.source("DELETE FROM members WHERE member_id = :m", m=member_id)
    return member_id, contact_uuid


def test_the_members_policy_sets_the_position_of_or_detaches_a_rolled_out_members_contact_once(sync_world):
    sync_world.run()
    (first, first_code), (second, second_code) = _funds(sync_world)[:2]
    first_member, first_contact = _roll_out(sync_world, first)

    state, report = sync_world.run(rolled_out_members=f"position:{FORMER}")

    assert state == "success", report["problems"]
    assert _on_client(sync_world, first_code)[first_contact]["Position"] == FORMER
    [entry] = report["gone_from_class"]["members"]
    assert (entry["member_id"], entry["done"], entry["new"]) == (
        first_member,
        f"contact's Position set to {FORMER!r}",
        True,
    )
    assert report["notices"] == [
        f"New since the last run: 1 members rolled out ({first_code} member {first_member})."
    ]

    second_member, second_contact = _roll_out(sync_world, second)
    contacts = len(sync_world.sim.state()["contacts"])
    sync_world.clear_calls()
    state, report = sync_world.run(rolled_out_members="detach")

    assert state == "success", report["problems"]
    assert second_contact not in _on_client(sync_world, second_code), "detached from the fund's client"
    assert len(sync_world.sim.state()["contacts"]) == contacts, "the contact itself is kept in XPM"
    assert _on_client(sync_world, first_code)[first_contact]["Position"] == FORMER, "reported once, left be"
    [entry] = report["gone_from_class"]["members"]
    assert (entry["member_id"], entry["done"]) == (second_member, "contact detached from the fund's client")
    assert sync_world.writes() == 1
    page = pathlib.Path(report["report_path"]).with_suffix(".html").read_text()
    assert "contact detached from the fund&#x27;s client" in page

    sync_world.clear_calls()
    state, again = sync_world.run(rolled_out_members="detach")
    assert state == "success"
    assert again["gone_from_class"]["members"] == []
    assert again["notices"] == []
    assert sync_world.writes() == 0, "a re-run writes nothing"
    links = "SELECT member_id FROM contact_links WHERE member_id IN (:a, :b)"
    assert sync_world.state_rows(links, a=first_member, b=second_member) == []


def _second_business(world) -> str:
    """A second Class business, authorised to a second XPM account; returns that account's tenant id."""
    world.source("INSERT INTO businesses (business_id, name) VALUES (:b, 'Other Practice')", b=OTHER_BUSINESS)
    world.sim.seed(
        {"tenants": [{"name": SECOND}], "users": [{"email": "demo@practice.example", "tenants": [SECOND]}]}
    )
    authorise(world.state_url, world.sim, OTHER_BUSINESS, tenant=SECOND)
    return next(t["id"] for t in world.sim.state()["tenants"] if t["name"] == SECOND)


def _by_business(reports: list[dict]) -> dict[str, dict]:
    return {report["business_id"]: report for report in reports}


def _codes_in(world, tenant_id: str) -> Counter:
    return Counter(c["ExportCode"] for c in world.clients() if c["_tenant"] == tenant_id)


def test_a_fund_moved_to_another_business_goes_to_its_xpm_account_and_is_reported_in_the_old_one(sync_world):
    first_tenant = sync_world.sim.tenant_id
    sync_world.run()
    (created, created_code), (linked, linked_code) = _funds(sync_world)[:2]
    second_tenant = _second_business(sync_world)
    [(linked_name,)] = sync_world.query("SELECT scope_description FROM funds WHERE fund_id = :f", f=linked)
    sync_world.sim.seed({"clients": [{"tenant": SECOND, "Name": linked_name, "ExportCode": linked_code}]})
    moved = "UPDATE funds SET business_id = :b WHERE fund_id IN (:x, :y)"
    sync_world.source(moved, b=OTHER_BUSINESS, x=created, y=linked)
    in_first = _codes_in(sync_world, first_tenant)

    state, reports = sync_world.run_all()

    assert state == "success"
    old, new = (_by_business(reports)[b] for b in (sync_world.business_id, OTHER_BUSINESS))
    assert (new["tenant_id"], new["counts"]["created"], new["counts"]["linked"]) == (second_tenant, 1, 1)
    assert _codes_in(sync_world, second_tenant) == Counter({created_code: 1, linked_code: 1}), "no duplicate"
    gone = {f["scope_code"]: f for f in old["gone_from_class"]["funds"]}
    assert set(gone) == {created_code, linked_code}
    assert all(f"moved to business {OTHER_BUSINESS}" in f["what"] for f in gone.values())
    assert all("left as it is" in f["done"] for f in gone.values()), "not archived: the policy is report"
    assert _codes_in(sync_world, first_tenant) == in_first
    assert all(c["IsArchived"] == "No" for c in sync_world.clients())

    sync_world.clear_calls()
    state, reports = sync_world.run_all()
    assert state == "success"
    old, new = (_by_business(reports)[b] for b in (sync_world.business_id, OTHER_BUSINESS))
    assert sync_world.writes() == 0, "a re-run is quiet"
    assert new["counts"]["unchanged"] == 2
    assert {f["scope_code"] for f in old["gone_from_class"]["funds"]} == {created_code, linked_code}
    assert old["notices"] == new["notices"] == [], "reported as news once"
