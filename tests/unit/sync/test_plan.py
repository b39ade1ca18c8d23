from __future__ import annotations

import pytest

from classxpm.identifiers import Tfn
from classxpm.sync.model import (
    Action,
    DesiredContact,
    DesiredFund,
    Link,
    LinkedContact,
    RemoteClient,
    RemoteContact,
    SyncMode,
)
from classxpm.sync.plan import RemoteIndex, changed_fields, contested, plan_fund

FIELDS = {
    "Name": "Smith Family Super Fund",
    "ExportCode": "SMITH01",
    "TaxNumber": Tfn("123456782"),
    "BusinessNumber": "51824753556",
    "City": "Sydney",
}


def desired(fields=None, contacts=(), payload_hash="h1") -> DesiredFund:
    return DesiredFund("f1", "SMITH01", {**FIELDS, **(fields or {})}, payload_hash, tuple(contacts))


def remote(uuid="c1", fields=None, contacts=()) -> RemoteClient:
    held = {**FIELDS, "TaxNumber": "******782", **(fields or {})}
    return RemoteClient(uuid, held, tuple(contacts))


JANE = DesiredContact("m1", {"Name": "Jane Smith", "Email": "jane@example.com"}, "ch1")


def test_a_new_fund_is_created_with_its_members_inline():
    plan = plan_fund(desired(contacts=[JANE]), None, RemoteIndex([]))
    assert plan.action is Action.CREATE
    assert plan.write_calls == 1
    assert [s.action for s in plan.contact_steps] == [Action.CREATE]


def test_an_existing_client_with_the_scope_code_as_export_code_is_linked_not_duplicated():
    plan = plan_fund(desired(), None, RemoteIndex([remote()]))
    assert (plan.action, plan.client_uuid, plan.changed_fields) == (Action.LINK, "c1", ())
    assert plan.write_calls == 0


def test_a_scope_code_matches_its_export_code_whatever_the_case_and_surrounding_spaces():
    fund = DesiredFund("f1", " smith01 ", {**FIELDS, "ExportCode": " smith01 "}, "h1")
    renamed = RemoteIndex([remote(fields={"Name": "Smith Super Fund (old name)"})])
    plan = plan_fund(fund, None, renamed)
    assert (plan.action, plan.client_uuid) == (Action.LINK, "c1"), "matched by code, not by name and ABN"
    assert plan_fund(fund, None, renamed, taken={"c1"}).action is Action.NEEDS_REVIEW


def test_a_linked_match_with_different_fields_is_put_right():
    plan = plan_fund(desired(), None, RemoteIndex([remote(fields={"City": "Parramatta"})]))
    assert plan.action is Action.LINK
    assert plan.changed_fields == ("City",)
    assert plan.write_calls == 1


def test_one_exact_name_and_abn_match_links_when_no_export_code_matches():
    held = remote(fields={"ExportCode": ""})
    plan = plan_fund(desired(), None, RemoteIndex([held]))
    assert (plan.action, plan.reason) == (Action.LINK, "matched by name and ABN")


@pytest.mark.parametrize(
    "clients",
    [
        [remote("c1"), remote("c2")],
        [remote("c1", {"ExportCode": ""}), remote("c2", {"ExportCode": ""})],
    ],
)
def test_two_candidates_need_review_and_are_never_created(clients):
    plan = plan_fund(desired(), None, RemoteIndex(clients))
    assert plan.action is Action.NEEDS_REVIEW
    assert "2 XPM clients match" in plan.reason


def test_a_client_linked_to_another_fund_is_not_matched_again_nor_duplicated():
    plan = plan_fund(desired(), None, RemoteIndex([remote("c1")]), taken={"c1"})
    assert plan.action is Action.NEEDS_REVIEW
    assert "linked to another fund" in plan.reason


def test_a_client_of_another_code_linked_elsewhere_does_not_stop_a_create():
    other = remote("c1", fields={"ExportCode": "JONES01"})
    assert plan_fund(desired(), None, RemoteIndex([other]), taken={"c1"}).action is Action.CREATE


def test_full_run_puts_back_a_field_edited_by_hand_in_xpm():
    link = Link("f1", "c1", "h1")
    plan = plan_fund(desired(), link, RemoteIndex([remote(fields={"Name": "Smith SF (edited)"})]))
    assert (plan.action, plan.changed_fields) == (Action.UPDATE, ("Name",))


def test_full_run_with_nothing_changed_makes_no_writes():
    plan = plan_fund(desired(), Link("f1", "c1", "h1"), RemoteIndex([remote()]))
    assert plan.action is Action.UNCHANGED
    assert plan.write_calls == 0


def test_a_tfn_change_hidden_by_masking_is_caught_by_the_hash():
    new_tfn = desired(fields={"TaxNumber": Tfn("876543782")}, payload_hash="h2")
    plan = plan_fund(new_tfn, Link("f1", "c1", "h1"), RemoteIndex([remote()]))
    assert (plan.action, plan.changed_fields) == (Action.UPDATE, ("TaxNumber",))


def test_incremental_compares_hashes_only():
    link = Link("f1", "c1", "h1")
    assert plan_fund(desired(), link, None).action is Action.UNCHANGED
    changed = plan_fund(desired(payload_hash="h2"), link, None)
    assert changed.action is Action.UPDATE


def test_a_linked_client_gone_from_xpm_needs_review():
    plan = plan_fund(desired(), Link("f1", "gone", "h1"), RemoteIndex([remote()]))
    assert plan.action is Action.NEEDS_REVIEW


def test_contacts_link_by_name_update_when_different_and_create_when_new():
    kim = DesiredContact("m2", {"Name": "Kim Smith", "Email": "kim@example.com"}, "ch2")
    held = remote(contacts=[RemoteContact("k1", {"Name": "jane smith", "Email": "jane@example.com"})])
    held_jane = RemoteContact("k1", {"Name": "Jane Smith", "Email": "old@example.com"})
    plan = plan_fund(desired(contacts=[JANE, kim]), None, RemoteIndex([held]))
    assert [(s.action, s.contact_uuid) for s in plan.contact_steps] == [
        (Action.UPDATE, "k1"),
        (Action.CREATE, None),
    ]
    linked = Link("f1", "c1", "h1", {"m1": LinkedContact("k1", "old")})
    plan = plan_fund(desired(contacts=[JANE]), linked, RemoteIndex([remote(contacts=[held_jane])]))
    assert (plan.action, plan.write_calls) == (Action.UPDATE, 1)


SAM_A = DesiredContact("m1", {"Name": "Sam Taylor", "Email": "sam@example.com"}, "ha")
SAM_B = DesiredContact("m2", {"Name": "Sam Taylor", "Email": "sam.j@example.org"}, "hb")


def test_namesakes_are_told_apart_by_their_details_when_linking():
    held = remote(contacts=[RemoteContact("k2", dict(SAM_B.fields)), RemoteContact("k1", dict(SAM_A.fields))])
    plan = plan_fund(desired(contacts=[SAM_A, SAM_B]), None, RemoteIndex([held]))
    steps = [(s.action, s.contact_uuid) for s in plan.contact_steps]
    assert steps == [(Action.LINK, "k1"), (Action.LINK, "k2")]


def test_two_members_linked_to_one_contact_leave_it_to_the_one_whose_details_it_carries():
    shared = Link("f1", "c1", "h1", {"m1": LinkedContact("k1", "ha"), "m2": LinkedContact("k1", "hb")})
    held = remote(contacts=[RemoteContact("k1", dict(SAM_B.fields)), RemoteContact("k9", dict(SAM_A.fields))])
    plan = plan_fund(desired(contacts=[SAM_A, SAM_B]), shared, RemoteIndex([held]))
    assert [(s.action, s.contact_uuid) for s in plan.contact_steps] == [
        (Action.LINK, "k9"),
        (Action.UNCHANGED, "k1"),
    ]
    alone = remote(contacts=[RemoteContact("k1", dict(SAM_B.fields))])
    plan = plan_fund(desired(contacts=[SAM_A, SAM_B]), shared, RemoteIndex([alone]))
    assert [(s.action, s.contact_uuid) for s in plan.contact_steps] == [
        (Action.CREATE, None),
        (Action.UNCHANGED, "k1"),
    ]


def test_a_shared_link_with_xpm_unread_is_planned_unlinked_so_the_client_is_read_first():
    shared = Link("f1", "c1", "h1", {"m1": LinkedContact("k1", "ha"), "m2": LinkedContact("k1", "hb")})
    plan = plan_fund(desired(contacts=[SAM_A, SAM_B]), shared, None)
    assert [s.action for s in plan.contact_steps] == [Action.CREATE, Action.CREATE]


@pytest.mark.parametrize(
    ("sync_mode", "link", "expected"),
    [
        (SyncMode.UPDATE_ONLY, None, Action.SKIPPED),
        (SyncMode.CREATE_ONLY, Link("f1", "c1", "h0"), Action.SKIPPED),
        (SyncMode.CREATE_ONLY, None, Action.CREATE),
        (SyncMode.UPDATE_ONLY, Link("f1", "c1", "h0"), Action.UPDATE),
    ],
)
def test_sync_modes_limit_the_writes(sync_mode, link, expected):
    index = RemoteIndex([remote(fields={"City": "Perth"})])
    assert (
        plan_fund(desired(), link, index if link else RemoteIndex([]), sync_mode=sync_mode).action is expected
    )


def test_quarantined_funds_make_no_writes_and_keep_the_reason():
    plan = plan_fund(desired(), None, RemoteIndex([]), quarantine_reason="TFN fails its check digit")
    assert (plan.action, plan.reason, plan.write_calls) == (
        Action.QUARANTINED,
        "TFN fails its check digit",
        0,
    )


def test_masked_tax_number_compares_by_visible_digits():
    assert changed_fields({"TaxNumber": Tfn("123456782")}, {"TaxNumber": "******782"}) == ()
    assert changed_fields({"TaxNumber": Tfn("123456782")}, {"TaxNumber": "******999"}) == ("TaxNumber",)


def test_repr_never_shows_a_tfn():
    assert "123456782" not in repr(desired())


def test_fields_xpm_did_not_return_are_unknown_not_changed():
    assert changed_fields({"TaxNumber": Tfn("123456782"), "Name": "A"}, {"Name": "A"}) == ()


def test_a_tfn_and_abn_change_is_sent_with_the_other_fields_that_changed_with_it():
    changed = desired(
        fields={"Name": "Smith Super", "TaxNumber": Tfn("876543210"), "BusinessNumber": "83914571673"},
        payload_hash="h2",
    )
    held = remote(fields={"TaxNumber": "******782"})
    plan = plan_fund(changed, Link("f1", "c1", "h1"), RemoteIndex([held]))
    assert (plan.action, plan.changed_fields) == (Action.UPDATE, ("Name", "TaxNumber", "BusinessNumber"))


def test_a_tfn_xpm_masks_the_same_way_is_sent_only_when_class_changed_the_fund():
    same_tail = desired(fields={"TaxNumber": Tfn("876543782"), "City": "Perth"}, payload_hash="h2")
    plan = plan_fund(same_tail, Link("f1", "c1", "h1"), RemoteIndex([remote()]))
    assert plan.changed_fields == ("TaxNumber", "City")
    edited_in_xpm = plan_fund(
        desired(), Link("f1", "c1", "h1"), RemoteIndex([remote(fields={"City": "Perth"})])
    )
    assert edited_in_xpm.changed_fields == ("City",), (
        "Class did not change it: nothing XPM cannot show is sent"
    )


def test_values_xpm_refused_are_not_sent_again_until_they_change_in_class():
    refused = Link("f1", "c1", "h1", refused_hash="h2")
    renamed = desired(fields={"ExportCode": "SMITH02"}, payload_hash="h2")
    full = plan_fund(renamed, refused, RemoteIndex([remote()]))
    assert (full.action, full.changed_fields) == (Action.UNCHANGED, ())
    assert "refused" in full.reason
    assert plan_fund(renamed, refused, None).action is Action.UNCHANGED
    again = plan_fund(desired(fields={"ExportCode": "SMITH03"}, payload_hash="h3"), refused, None)
    assert again.action is Action.UPDATE
    assert "ExportCode" in again.changed_fields


ARCHIVED = {"IsArchived": "Yes"}


def test_a_fund_whose_client_a_person_archived_is_not_created_again():
    plan = plan_fund(desired(), None, RemoteIndex([remote(fields=ARCHIVED)]))
    assert (plan.action, plan.write_calls) == (Action.NEEDS_REVIEW, 0)
    assert "archived" in plan.reason


def test_a_deleted_client_matching_by_name_and_abn_is_seen_too():
    held = remote(fields={"ExportCode": "", "IsDeleted": "Yes"})
    plan = plan_fund(desired(), None, RemoteIndex([held]))
    assert plan.action is Action.NEEDS_REVIEW
    assert "deleted" in plan.reason


def test_a_live_client_with_the_code_is_linked_beside_an_archived_one():
    index = RemoteIndex([remote("old", fields=ARCHIVED), remote("new")])
    plan = plan_fund(desired(), None, index)
    assert (plan.action, plan.client_uuid) == (Action.LINK, "new")


def test_a_linked_fund_whose_client_was_archived_is_never_written():
    changed = desired(fields={"City": "Perth"}, payload_hash="h2")
    full = plan_fund(changed, Link("f1", "c1", "h1"), RemoteIndex([remote(fields=ARCHIVED)]))
    incremental = plan_fund(changed, Link("f1", "c1", "h1"), None, retired={"c1": "archived"})
    for plan in (full, incremental):
        assert (plan.action, plan.write_calls) == (Action.NEEDS_REVIEW, 0)
        assert "archived" in plan.reason


def test_name_and_abn_match_whatever_the_case_and_runs_of_spaces():
    held = remote(fields={"ExportCode": "", "Name": "SMITH  FAMILY super fund"})
    plan = plan_fund(desired(), None, RemoteIndex([held]))
    assert (plan.action, plan.reason) == (Action.LINK, "matched by name and ABN")


def test_namesake_members_take_the_clients_namesake_contacts_one_each_never_a_copy():
    twin = DesiredContact("m2", {"Name": "Jane Smith", "Email": "jane.two@example.com"}, "ch2")
    held = remote(
        contacts=[RemoteContact("k1", {"Name": "Jane Smith"}), RemoteContact("k2", {"Name": "jane  smith"})]
    )
    plan = plan_fund(desired(contacts=[JANE, twin]), None, RemoteIndex([held]))
    assert [(s.action, s.contact_uuid) for s in plan.contact_steps] == [
        (Action.LINK, "k1"),
        (Action.UPDATE, "k2"),  # its name is written as Class spells it
    ]
    alone = plan_fund(desired(contacts=[JANE]), None, RemoteIndex([held]))
    assert [s.action for s in alone.contact_steps] == [Action.NEEDS_REVIEW], "one member, two namesakes"
    assert alone.write_calls == 0, "no guess, and no third Jane Smith either"


def test_one_exact_name_match_links_when_no_identifier_says_otherwise():
    bare = remote(fields={"ExportCode": "", "BusinessNumber": ""})
    plan = plan_fund(desired(), None, RemoteIndex([bare]))
    assert (plan.action, plan.client_uuid, plan.reason) == (Action.LINK, "c1", "matched by name")
    assert plan.changed_fields == ("ExportCode", "BusinessNumber"), "the fund's identifiers are written"


@pytest.mark.parametrize(
    "other", [{"ExportCode": "JONES01", "BusinessNumber": ""}, {"ExportCode": "", "BusinessNumber": "1" * 11}]
)
def test_a_name_twin_with_another_export_code_or_abn_is_another_entity(other):
    plan = plan_fund(desired(), None, RemoteIndex([remote(fields=other)]))
    assert (plan.action, plan.client_uuid) == (Action.CREATE, None)


def test_two_exact_name_matches_need_review_never_a_third_client():
    twins = [remote(u, {"ExportCode": "", "BusinessNumber": ""}) for u in ("c1", "c2")]
    plan = plan_fund(desired(), None, RemoteIndex(twins))
    assert (plan.action, plan.write_calls) == (Action.NEEDS_REVIEW, 0)
    assert "2 XPM clients match by name" in plan.reason


def test_an_export_code_match_with_another_name_and_abn_is_not_taken_over():
    stranger = remote(fields={"Name": "Jones Pty Ltd", "BusinessNumber": "53004085616"})
    plan = plan_fund(desired(), None, RemoteIndex([stranger]))
    assert (plan.action, plan.write_calls) == (Action.NEEDS_REVIEW, 0)
    for side in ("'Jones Pty Ltd'", "53004085616", "'Smith Family Super Fund'", "51824753556"):
        assert side in plan.reason, "both sides are shown"
    renamed = remote(fields={"Name": "Smith Super (renamed)"})
    assert plan_fund(desired(), None, RemoteIndex([renamed])).action is Action.LINK, "the ABN agrees"


def test_two_funds_wanting_one_client_both_need_review_whatever_their_order():
    held = RemoteIndex([remote(fields={"ExportCode": ""})])
    first = desired()
    second = DesiredFund("f2", "SMITH02", {**FIELDS, "ExportCode": "SMITH02"}, "h2")
    both = contested([first, second], held, set())
    assert both == {"c1"}
    for fund in (first, second, first):
        plan = plan_fund(fund, None, held, contested=both)
        assert (plan.action, plan.write_calls) == (Action.NEEDS_REVIEW, 0)
        assert "another fund" in plan.reason
    assert contested([first], held, set()) == set(), "one fund alone links"


def test_a_new_member_of_a_linked_fund_with_two_namesake_contacts_needs_review():
    held = remote(
        contacts=[
            RemoteContact("k1", {"Name": "John Smith", "Email": "j1@example.com"}),
            RemoteContact("k2", {"Name": "John Smith", "Email": "j2@example.com"}),
        ]
    )
    john = DesiredContact("m9", {"Name": "John Smith", "Email": "john@example.com"}, "ch9")
    plan = plan_fund(desired(contacts=[john]), Link("f1", "c1", "h1"), RemoteIndex([held]))
    assert [(s.action, s.contact_uuid) for s in plan.contact_steps] == [(Action.NEEDS_REVIEW, None)]
    assert plan.write_calls == 0


def test_a_linked_contact_a_person_removed_in_xpm_is_added_back_by_a_full_run():
    link = Link("f1", "c1", "h1", {"m1": LinkedContact("k1", "ch1")})
    removed = plan_fund(desired(contacts=[JANE]), link, RemoteIndex([remote()]))
    assert [(s.action, s.contact_uuid) for s in removed.contact_steps] == [(Action.CREATE, None)]
    assert removed.action is Action.UPDATE
    unread = RemoteClient("c1", remote().fields, (), contacts_read=False)
    kept = plan_fund(desired(contacts=[JANE]), link, RemoteIndex([unread]))
    assert kept.action is Action.UNCHANGED, "contacts not read: nothing is known to be missing"
