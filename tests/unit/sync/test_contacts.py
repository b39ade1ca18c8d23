"""Which XPM contact is which member: name with e-mail, mobile and phone; never a contact held by another."""

from __future__ import annotations

import pytest

from classxpm.sync.contacts import Pairing, identity, match_by_name, pair
from classxpm.sync.model import DesiredContact, RemoteContact

SAM_A = {"Name": "Sam Taylor", "Email": "sam@example.com", "Mobile": "0400 111 222"}
SAM_B = {"Name": "Sam Taylor", "Email": "sam.j@example.org", "Mobile": "0411 333 444"}


def member(member_id: str, fields: dict) -> DesiredContact:
    return DesiredContact(member_id, fields, f"hash-{member_id}")


def contact(uuid: str, fields: dict) -> RemoteContact:
    return RemoteContact(uuid, {"Phone": None, "Position": "member", **fields})


@pytest.mark.parametrize(
    ("sent", "held"),
    [
        (SAM_A, {**SAM_A, "Name": "  sam  TAYLOR "}),
        (SAM_A, {**SAM_A, "Email": "SAM@Example.com"}),
        (SAM_A, {**SAM_A, "Mobile": "0400111222"}),
        ({**SAM_A, "Phone": None}, {**SAM_A, "Phone": ""}),
    ],
)
def test_identity_ignores_case_spacing_and_number_formatting(sent, held):
    assert identity(sent) == identity(held)


@pytest.mark.parametrize("field", ["Name", "Email", "Mobile", "Phone"])
def test_identity_tells_apart_contacts_that_differ_in_one_identifying_field(field):
    assert identity(SAM_A) != identity({**SAM_A, field: "something else 9"})


def test_a_lost_add_finds_the_members_own_contact_not_the_namesakes():
    found = pair([member("m2", SAM_B)], [contact("c1", SAM_A), contact("c2", SAM_B)], taken={"c1"})
    assert found == Pairing({"m2": "c2"})


def test_a_contact_another_member_holds_is_never_paired_even_when_it_fits():
    found = pair([member("m2", SAM_A)], [contact("c1", SAM_A)], taken={"c1"})
    assert found == Pairing(missing=("m2",))


def test_no_contact_with_the_details_sent_means_the_add_was_not_applied():
    assert pair([member("m2", SAM_B)], [contact("c1", SAM_A)]) == Pairing(missing=("m2",))


def test_more_fitting_contacts_than_members_is_not_guessed():
    held = [contact("c2", SAM_B), contact("c3", SAM_B)]
    assert pair([member("m2", SAM_B)], held) == Pairing(unsure=("m2",))


def test_members_created_together_are_paired_by_their_details_whatever_xpms_order():
    held = [contact("c2", SAM_B), contact("c1", SAM_A)]
    found = pair([member("m1", SAM_A), member("m2", SAM_B)], held)
    assert found == Pairing({"m1": "c1", "m2": "c2"})


def test_members_with_identical_details_share_as_many_identical_contacts_one_each():
    found = pair([member("m1", SAM_A), member("m2", SAM_A)], [contact("c1", SAM_A), contact("c2", SAM_A)])
    assert found == Pairing({"m1": "c1", "m2": "c2"})


def test_the_planner_links_the_one_contact_of_a_members_name():
    held = [contact("c1", {**SAM_A, "Email": "old@example.com"})]
    assert match_by_name(member("m1", SAM_A), held, taken=set()).uuid == "c1"


def test_the_planner_tells_namesakes_apart_by_their_details():
    held = [contact("c1", SAM_A), contact("c2", SAM_B)]
    assert match_by_name(member("m2", SAM_B), held, taken=set()).uuid == "c2"
    assert match_by_name(member("m1", SAM_A), held, taken={"c2"}).uuid == "c1"


def test_the_planner_matches_no_namesake_when_none_carries_the_members_details():
    held = [contact("c1", SAM_A), contact("c2", SAM_B)]
    assert match_by_name(member("m3", {**SAM_A, "Email": "new@example.net"}), held, taken=set()) is None


def test_namesakes_no_contact_tells_apart_share_as_many_contacts_of_their_name_one_each():
    bare = {"Name": SAM_A["Name"]}
    held = [contact("c1", bare), contact("c2", bare)]
    assert match_by_name(member("m1", SAM_A), held, taken=set(), namesakes=2).uuid == "c1"
    assert match_by_name(member("m2", SAM_B), held, taken={"c1"}, namesakes=1).uuid == "c2"
    assert match_by_name(member("m1", SAM_A), held, taken=set(), namesakes=1) is None, "one member, two"
    detailed = [contact("c1", {**bare, "Email": "x@example.com"}), contact("c2", bare)]
    assert match_by_name(member("m1", SAM_A), detailed, taken=set(), namesakes=2) is None, "never guessed"
