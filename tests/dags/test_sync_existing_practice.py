"""A first full sync against a practice that already has clients (reference §12), in both XPM error forms.

Its clients carry contacts, one was archived by a person, one matches only by name + ABN, and XPM refuses
one fund: the sync links rather than duplicates, leaves the archived client alone, reports the refusal and
goes on, and every linked fund has its launch link.
"""

from __future__ import annotations

from collections import Counter

import pytest

pytestmark = pytest.mark.postgres

TFN = "123456782"


def _members(world) -> dict[str, list[str]]:
    rows = world.class_rows(
        "SELECT scope_code, first_name, last_name FROM funds JOIN members USING (fund_id) ORDER BY member_id",
    )
    names: dict[str, list[str]] = {}
    for code, first, last in rows:
        names.setdefault(code, []).append(
            " ".join(part.strip() for part in (first, last) if part and part.strip())
        )
    return names


def _contact_names(world, client: dict) -> Counter:
    contacts = {c["UUID"]: c for c in world.sim.state()["contacts"]}
    return Counter(contacts[link["UUID"]]["Name"].casefold() for link in client["_contacts"])


def _contacts(names: list[str], shout: bool = False) -> list[dict[str, str]]:
    return [{"Name": name.upper() if shout else name, "Position": "member"} for name in names]


def _practice(world) -> dict[str, str]:
    """Seed XPM with clients for three funds; return the scope codes of each case."""
    members = _members(world)
    funds = world.class_rows("SELECT scope_code, scope_description, abn FROM funds ORDER BY scope_code")
    with_members = [f for f in funds if members.get(f.scope_code)]
    by_code, archived = with_members[0], with_members[1]
    by_name = next(f for f in with_members[2:] if f.abn)
    refused, holder = [f for f in funds if f.scope_code not in {by_code[0], archived[0], by_name[0]}][:2]
    world.source("UPDATE funds SET tfn = :t WHERE scope_code IN (:a, :b)", t=TFN, a=refused[0], b=holder[0])
    world.sim.seed(
        {
            "clients": [
                {
                    "Name": "Old name",
                    "ExportCode": by_code.scope_code,
                    "Contacts": [*_contacts(members[by_code.scope_code]), {"Name": "Their Accountant"}],
                },
                {
                    "Name": by_name.scope_description,
                    "BusinessNumber": by_name.abn,
                    "Contacts": _contacts(members[by_name.scope_code], shout=True),
                },
                {
                    "Name": "Archived by a person",
                    "ExportCode": archived.scope_code,
                    "IsArchived": "Yes",
                    "Contacts": _contacts(members[archived.scope_code])[:1],
                },
            ]
        }
    )
    return {"by_code": by_code.scope_code, "by_name": by_name.scope_code, "archived": archived.scope_code}


def test_a_first_full_sync_of_a_practice_with_clients_duplicates_no_client_and_no_contact(
    sync_world, error_form
):
    cases = _practice(sync_world)
    funds = len(sync_world.class_rows("SELECT fund_id FROM funds"))
    members = _members(sync_world)

    state, report = sync_world.run()

    clients = sync_world.clients()
    by_code = Counter(c["ExportCode"] for c in clients)
    assert max(by_code.values()) == 1, "no ExportCode is held by two clients"
    assert len(clients) == funds - 1, "every fund has one client, except the one XPM refused"
    assert report["counts"]["linked"] == 2
    assert report["counts"]["failed"] == 1
    assert state == "failed", "the refusal is reported after every other fund was sent"
    for case in ("by_code", "by_name"):
        client = next(c for c in clients if c["ExportCode"] == cases[case])
        wanted = Counter(name.casefold() for name in members[cases[case]])
        extra = Counter({"their accountant": 1}) if case == "by_code" else Counter()
        assert _contact_names(sync_world, client) == wanted + extra, f"{case}: each member once, no copies"
    archived = next(c for c in clients if c["ExportCode"] == cases["archived"])
    assert (archived["Name"], archived["IsArchived"], len(archived["_contacts"])) == (
        "Archived by a person",
        "Yes",
        1,
    )
    review = [p for p in report["problems"] if p["status"] == "needs_review"]
    assert [p["scope_code"] for p in review] == [cases["archived"]]
    assert "archived" in review[0]["detail"]
    links = sync_world.state_rows("SELECT scope_code, client_uuid, web_url, last_status FROM fund_links")
    linked = [row for row in links if row.client_uuid]
    assert len(linked) == funds - 2, "all but the refused and the archived fund are linked"
    assert all(row.web_url and row.web_url.endswith(f"/Client/{row.client_uuid}/Detail") for row in linked)

    sync_world.clear_calls()
    _, again = sync_world.run()

    assert len(sync_world.clients()) == len(clients), "a second run creates nothing more"
    assert sync_world.writes() == sync_world.calls().get("POST client.api/add", 0) == 1, (
        "only the refused retry"
    )
    assert again["counts"]["needs_review"] == 1
