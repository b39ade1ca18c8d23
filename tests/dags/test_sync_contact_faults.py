"""Two different members with one name in one fund, through contact-write faults, with ``dag.test()``.

Each case sends one fund (``fund_codes``) through the ``class_xpm_sync`` DAG while the simulator loses the
answers to, or fails with a 5xx, every write that creates the fund's contacts: the client add on the
create path (contacts go inline), the contact add on the update and link paths. A clean run follows; then
every member is exactly one contact of the fund's client, and one more clean run writes nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.postgres

NAME = ("Sam", "Taylor")
FIRST = {"email": "sam.taylor@example.com", "mobile": "0400 111 222"}
SECOND = {"email": "sam.j.taylor@example.org", "mobile": "0411 333 444"}
FAULTS = {
    "lost": {"lost_response_rate": 1.0},
    "5xx": {"error_rate": 1.0, "statuses": [500, 502]},
}
CONTACT_WRITE = {"create": "POST client.api/add", "update": "POST client.api/contact"}


def _fund(world) -> tuple[str, str]:
    engine = sa.create_engine(world.class_url)
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT fund_id, scope_code FROM funds ORDER BY scope_code")).first()
    engine.dispose()
    return row.fund_id, row.scope_code


def _add_member(world, fund_id: str, member_id: str, details: dict[str, str], at: str) -> None:
    world.source(
        "INSERT INTO members (member_id, fund_id, first_name, last_name, mobile, email, created_at, "
        "updated_at) VALUES (:m, :f, :first, :last, :mobile, :email, :at, :at)",
        m=member_id,
        f=fund_id,
        first=NAME[0],
        last=NAME[1],
        at=at,
        **details,
    )


def _members_of(world, fund_id: str) -> list[tuple[str, str | None, str | None]]:
    engine = sa.create_engine(world.class_url)
    with engine.connect() as conn:
        query = "SELECT first_name, last_name, email, mobile FROM members WHERE fund_id = :f"
        rows = conn.execute(sa.text(query), {"f": fund_id}).all()
    engine.dispose()
    return sorted((f"{r.first_name} {r.last_name}", r.email, r.mobile) for r in rows)


def _held_contacts(world, scope_code: str) -> list[tuple[str, str | None, str | None]]:
    """The live contacts of the fund's one live client, as (name, e-mail, mobile)."""
    state = world.sim.state()
    live = [
        c
        for c in state["clients"]
        if c["ExportCode"] == scope_code and c["IsDeleted"] == "No" and c["IsArchived"] == "No"
    ]
    assert len(live) == 1, "the fund is one client in XPM"
    contacts = {c["UUID"]: c for c in state["contacts"]}
    held = [contacts[link["UUID"]] for link in live[0]["_contacts"]]
    live_held = [c for c in held if c["IsDeleted"] == "No"]
    return sorted((c["Name"], c["Email"] or None, c["Mobile"] or None) for c in live_held)


def _tfn(world, fund_id: str) -> str | None:
    engine = sa.create_engine(world.class_url)
    with engine.connect() as conn:
        tfn = conn.execute(sa.text("SELECT tfn FROM funds WHERE fund_id = :f"), {"f": fund_id}).scalar()
    engine.dispose()
    return tfn


def _linked(world, fund_id: str) -> list[str]:
    engine = sa.create_engine(world.state_url)
    with engine.connect() as conn:
        uuids = conn.execute(
            sa.text("SELECT contact_uuid FROM contact_links WHERE fund_id = :f"), {"f": fund_id}
        ).scalars()
        found = sorted(uuids)
    engine.dispose()
    return found


def _arrange(world, path: str) -> tuple[str, str]:
    """The fund, ready for the faulted run: on ``create`` new, otherwise in XPM with its first member."""
    fund_id, code = _fund(world)
    world.source("DELETE FROM members WHERE fund_id = :f", f=fund_id)
    _add_member(world, fund_id, "same-name-1", FIRST, "2026-12-01")
    if path == "update":
        state, _ = world.run(fund_codes=[code])
        assert state == "success"
    if path == "link":
        first = {"Name": " ".join(NAME), "Email": FIRST["email"], "Mobile": FIRST["mobile"]}
        client = {"tenant": world.sim.tenant_id, "Name": "Held by hand", "ExportCode": code}
        world.sim.seed({"clients": [{**client, "Contacts": [{**first, "Position": "member"}]}]})
    _add_member(world, fund_id, "same-name-2", SECOND, "2026-12-02")
    return fund_id, code


@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize("path", ["create", "update", "link"])
def test_same_name_members_each_become_one_contact_under_contact_write_faults(sync_world, path, fault):
    fund_id, code = _arrange(sync_world, path)
    endpoint = CONTACT_WRITE["create" if path == "create" else "update"]
    sync_world.sim.set_faults([{"endpoint": endpoint, **FAULTS[fault]}])
    _, faulted = sync_world.run(fund_codes=[code])
    sync_world.sim.set_faults([])
    injected = sync_world.sim.calls()["by_status"]
    assert injected.get("lost", 0) + injected.get("500", 0) + injected.get("502", 0) > 0
    missing = {m["member"] for m in faulted["members_not_in_xpm"]}
    assert missing == ({" ".join(NAME)} if fault == "5xx" else set()), "a member left out is named"
    for left_out in faulted["members_not_in_xpm"]:
        assert left_out["scope_code"] == code
        assert left_out["reason"].startswith("its fund is failed: XPM did not answer in time")

    state, clean = sync_world.run(fund_codes=[code])
    assert state == "success"
    assert clean["members_not_in_xpm"] == []
    wanted = _members_of(sync_world, fund_id)
    assert _held_contacts(sync_world, code) == wanted, "every member is exactly one contact"
    linked = _linked(sync_world, fund_id)
    assert len(linked) == len(set(linked)) == len(wanted), "each member linked to a contact of its own"

    sync_world.clear_calls()
    state, again = sync_world.run(fund_codes=[code])
    assert state == "success"
    assert sync_world.writes() == 0, "a clean re-run makes no writes"
    assert again["counts"]["unchanged"] == 1


def test_a_contact_that_cannot_be_told_apart_is_left_unlinked_reported_and_added_by_the_next_run(sync_world):
    fund_id, code = _fund(sync_world)
    sync_world.source("DELETE FROM members WHERE fund_id = :f", f=fund_id)
    _add_member(sync_world, fund_id, "same-name-1", FIRST, "2026-12-01")
    _add_member(sync_world, fund_id, "same-name-2", SECOND, "2026-12-02")
    second = {"Name": " ".join(NAME), "Email": SECOND["email"], "Mobile": SECOND["mobile"]}
    by_hand = [{**second, "Position": "member"}] * 2
    client = {"tenant": sync_world.sim.tenant_id, "Name": "Held by hand", "ExportCode": code}
    sync_world.sim.seed({"clients": [{**client, "Contacts": by_hand}]})
    sync_world.sim.set_faults([{"endpoint": "POST client.api/contact", "lost_response_rate": 1.0}])
    state, report = sync_world.run(fund_codes=[code])
    sync_world.sim.set_faults([])
    tfn = _tfn(sync_world, fund_id)
    assert state == "failed", "a member left unlinked fails its fund, so it is seen and taken again"
    [problem] = report["problems"]
    assert problem["detail"].startswith("not a contact in XPM yet: Sam Taylor (the answer to adding")
    [missing] = report["members_not_in_xpm"]
    assert missing["scope_code"] == code
    assert (missing["member"], missing["member_id"]) == ("Sam Taylor", "same-name-2")
    assert "more than one contact of the client carries the details sent" in missing["reason"]
    assert tfn
    assert tfn not in json.dumps(report)
    html = Path(report["report_path"]).with_suffix(".html").read_text()
    assert "Members not in XPM (1)" in html
    assert "same-name-2" in html

    state, clean = sync_world.run(fund_codes=[code])
    assert state == "success"
    assert clean["members_not_in_xpm"] == []
    assert len(set(_linked(sync_world, fund_id))) == 2, "the next run added the member again and linked it"


def test_two_members_linked_to_one_contact_by_the_old_recovery_settle_on_a_contact_each(sync_world):
    fund_id, code = _arrange(sync_world, "update")
    state, _ = sync_world.run(fund_codes=[code])
    assert state == "success"
    first = _link_of(sync_world, "same-name-1")
    _set_link(sync_world, "same-name-2", first)
    state, healed = sync_world.run(fund_codes=[code])
    assert state == "success"
    assert healed["members_not_in_xpm"] == []
    assert _held_contacts(sync_world, code) == _members_of(sync_world, fund_id)
    assert len(set(_linked(sync_world, fund_id))) == 2, "the second member has its own contact again"
    assert _link_of(sync_world, "same-name-1") == first, "the contact stays with the member it describes"
    sync_world.clear_calls()
    sync_world.run(fund_codes=[code])
    assert sync_world.writes() == 0, "and the runs settle"


def _link_of(world, member_id: str) -> str:
    engine = sa.create_engine(world.state_url)
    with engine.connect() as conn:
        query = "SELECT contact_uuid FROM contact_links WHERE member_id = :m"
        uuid = conn.execute(sa.text(query), {"m": member_id}).scalar_one()
    engine.dispose()
    return uuid


def _set_link(world, member_id: str, contact_uuid: str) -> None:
    engine = sa.create_engine(world.state_url)
    with engine.begin() as conn:
        query = "UPDATE contact_links SET contact_uuid = :c WHERE member_id = :m"
        conn.execute(sa.text(query), {"c": contact_uuid, "m": member_id})
    engine.dispose()
