"""Linking existing XPM clients safely (issue 16): a full sync against clients a person made.

A client sharing a fund's ExportCode but neither its name nor its ABN is not taken over; a client two funds
match goes to a person for both; a client matching by exact name alone, with no identifier against it, is
linked; a member whose name two of the client's contacts carry is reported, not added a third time.
"""

from __future__ import annotations

import pathlib
from collections import Counter

import pytest

pytestmark = pytest.mark.postgres

STRANGER = {"Name": "Jones Plumbing Pty Ltd", "BusinessNumber": "53004085616"}
TWIN_NAME = "Twin Peaks Super Fund"


def _contacts_of(world, client: dict) -> list[dict]:
    contacts = {c["UUID"]: c for c in world.sim.state()["contacts"]}
    return [contacts[link["UUID"]] for link in client["_contacts"]]


def _practice(world) -> dict[str, str]:
    """Seed XPM and Class for each case; returns the scope code of each."""
    funds = world.class_rows(
        "SELECT fund_id, scope_code, scope_description, abn FROM funds ORDER BY scope_code"
    )
    members = world.class_rows(
        "SELECT fund_id, first_name, last_name FROM members ORDER BY member_id",
    )
    with_members = {m.fund_id for m in members}
    stranger, twin_a, twin_b, by_name = funds[0], funds[1], funds[2], next(f for f in funds[3:] if f.abn)
    namesakes = next(f for f in funds[4:] if f.fund_id in with_members and f.fund_id != by_name.fund_id)
    member = next(m for m in members if m.fund_id == namesakes.fund_id)
    john = f"{member.first_name} {member.last_name}"
    world.source(
        "UPDATE funds SET scope_description = :n, abn = NULL WHERE fund_id IN (:a, :b)",
        n=TWIN_NAME,
        a=twin_a.fund_id,
        b=twin_b.fund_id,
    )
    world.sim.seed(
        {
            "clients": [
                {"ExportCode": stranger.scope_code, **STRANGER},
                {"Name": TWIN_NAME},
                {"Name": by_name.scope_description},
                {
                    "Name": namesakes.scope_description,
                    "ExportCode": namesakes.scope_code,
                    "Contacts": [
                        {"Name": john, "Email": "first.namesake@example.com"},
                        {"Name": john, "Email": "second.namesake@example.com"},
                    ],
                },
            ]
        }
    )
    return {
        "stranger": stranger.scope_code,
        "twin_a": twin_a.scope_code,
        "twin_b": twin_b.scope_code,
        "by_name": by_name.scope_code,
        "by_name_abn": by_name.abn,
        "namesakes": namesakes.scope_code,
        "john": john,
    }


def test_a_full_sync_links_existing_clients_only_where_it_is_safe(sync_world):
    cases = _practice(sync_world)
    funds = len(sync_world.class_rows("SELECT fund_id FROM funds"))

    state, report = sync_world.run()

    assert state == "success", report["problems"]
    clients = sync_world.clients()
    # Four clients were there; every fund but the stranger's, the twins' and the two linked got one.
    assert len(clients) == 4 + funds - 5, "no client made for a fund sent to review"
    assert report["counts"]["created"] == funds - 5
    stranger = [c for c in clients if c["ExportCode"] == cases["stranger"]]
    held = [(c["Name"], c["BusinessNumber"]) for c in stranger]
    assert held == [tuple(STRANGER.values())], "not taken over"
    twins = [c for c in clients if c["Name"] == TWIN_NAME]
    assert [c["ExportCode"] for c in twins] == [""], "neither twin took it, nor was a third client made"
    by_name = [c for c in clients if c["ExportCode"] == cases["by_name"]]
    assert [c["BusinessNumber"] for c in by_name] == [cases["by_name_abn"]], "linked, its identifiers written"
    namesakes = next(c for c in clients if c["ExportCode"] == cases["namesakes"])
    names = Counter(c["Name"] for c in _contacts_of(sync_world, namesakes))
    assert names[cases["john"]] == 2, "no third namesake contact"

    review = {p["scope_code"]: p["detail"] for p in report["problems"] if p["status"] == "needs_review"}
    assert set(review) == {cases["stranger"], cases["twin_a"], cases["twin_b"], cases["namesakes"]}
    assert STRANGER["Name"] in review[cases["stranger"]]
    assert STRANGER["BusinessNumber"] in review[cases["stranger"]]
    assert all("another fund" in review[cases[t]] for t in ("twin_a", "twin_b"))
    listed = {p["scope_code"]: p for p in report["problems"] if p["status"] == "needs_review"}
    [held] = listed[cases["stranger"]]["candidates"]
    assert held.pop("web_url").endswith(f"/Client/{stranger[0]['UUID']}/Detail"), "its launch link"
    assert held == {
        "uuid": stranger[0]["UUID"],
        "name": STRANGER["Name"],
        "export_code": cases["stranger"],
        "abn": STRANGER["BusinessNumber"],
        "state": "live",
    }, "the report alone shows what to choose from"
    assert [c["name"] for c in listed[cases["twin_a"]]["candidates"]] == [TWIN_NAME]
    assert all(p["new"] for p in listed.values())
    assert report["notices"] == [
        f"New since the last run: 4 funds need review ({', '.join(sorted(listed))})."
    ]
    page = pathlib.Path(report["report_path"]).with_suffix(".html").read_text()
    assert f"/Client/{stranger[0]['UUID']}/Detail'>Launch XPM</a>" in page
    missing = [m for m in report["members_not_in_xpm"] if m["scope_code"] == cases["namesakes"]]
    assert [m["member"] for m in missing] == [cases["john"]]
    assert "several contacts with the member's name" in missing[0]["reason"]

    sync_world.clear_calls()
    _, again = sync_world.run()

    assert len(sync_world.clients()) == len(clients), "a second run creates nothing more"
    assert sync_world.writes() == 0
    assert again["counts"]["needs_review"] == 4
    assert again["notices"] == [], "still in review, but no news"
    assert not any(p["new"] for p in again["problems"] if p["status"] == "needs_review")


def _link(world, *args: str) -> str:
    from click.testing import CliRunner

    from classxpm.cli.link import link

    result = CliRunner().invoke(link, ["--business", world.business_id, "--state-db", world.state_url, *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_a_person_resolves_review_with_classxpm_link_and_later_runs_follow_it(sync_world):
    cases = _practice(sync_world)
    sync_world.run()
    by_name = {c["Name"]: c for c in sync_world.clients()}
    stranger, twin = by_name[STRANGER["Name"]], by_name[TWIN_NAME]

    listed = _link(sync_world, "--fund", cases["stranger"])
    assert stranger["UUID"] in listed
    assert STRANGER["BusinessNumber"] in listed
    assert f"/Client/{stranger['UUID']}/Detail" in listed, "its launch link"
    assert "live" in listed
    _link(sync_world, "--fund", cases["stranger"], "--client", stranger["UUID"])
    _link(sync_world, "--fund", cases["twin_a"], "--create")
    _link(sync_world, "--fund", cases["twin_b"], "--client", twin["UUID"])
    before = len(sync_world.clients())

    state, report = sync_world.run("class_xpm_incremental")

    assert state == "success", report["problems"]
    clients = sync_world.clients()
    assert len(clients) == before + 1, "one client made on purpose, for twin A"
    codes = Counter(c["ExportCode"] for c in clients)
    assert all(codes[cases[case]] == 1 for case in ("stranger", "twin_a", "twin_b"))
    taken = next(c for c in clients if c["UUID"] == stranger["UUID"])
    assert taken["ExportCode"] == cases["stranger"]
    assert taken["Name"] != STRANGER["Name"], "the chosen client now holds the fund's name"
    assert next(c for c in clients if c["UUID"] == twin["UUID"])["ExportCode"] == cases["twin_b"]
    review = {p["scope_code"] for p in report["problems"] if p["status"] == "needs_review"}
    assert not review & {cases["stranger"], cases["twin_a"], cases["twin_b"]}

    sync_world.clear_calls()
    _, again = sync_world.run()
    assert len(sync_world.clients()) == len(clients), "the choices hold: nothing more is made"
    assert again["counts"]["needs_review"] == 1, "only the namesake member's fund"

    _link(sync_world, "--fund", cases["twin_b"], "--unlink")
    rows = sync_world.state_rows(
        "SELECT client_uuid FROM fund_links WHERE scope_code = :c UNION ALL "
        "SELECT choice FROM fund_choices JOIN fund_links USING (business_id, fund_id) WHERE scope_code = :c",
        c=cases["twin_b"],
    )
    assert [r[0] for r in rows] == [None], "link and choice forgotten"
