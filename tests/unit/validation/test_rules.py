from __future__ import annotations

import re

import pandas as pd
import pytest

from classxpm.validation.rules import (
    EMAIL,
    PHONE,
    POSTCODE,
    RULES,
    Frame,
    Rule,
    Severity,
    build_view,
    member_label,
    postcode_in_state,
    required_columns,
    shown_value,
    source_columns,
)
from fixtures.validation_frames import frames, fund_row, member_row


def test_rule_names_are_unique_and_messages_plain():
    names = [rule.name for rule in RULES]
    assert len(names) == len(set(names))
    assert all(rule.summary and "_" not in rule.summary for rule in RULES)


def test_the_blocking_rules_are_the_issue_s_list():
    blocking = {rule.name for rule in RULES if rule.severity is Severity.BLOCKING}
    assert blocking == {
        "tfn_check_digit",
        "abn_check_digit",
        "acn_check_digit",
        "fund_name_present",
        "scope_code_present",
        "scope_code_unique",
    }
    (named,) = (rule for rule in RULES if rule.name == "member_named")
    assert named.severity is Severity.WARNING, "a nameless member is held back alone, not its fund"


@pytest.mark.parametrize(
    ("state", "postcode", "expected"),
    [
        ("NSW", "2000", True),
        ("VIC", "2000", False),
        ("ACT", "0200", True),
        ("ACT", "2600", True),
        ("NSW", "2600", False),
        ("NT", "0800", True),
        ("JBT", "2540", True),
        ("NSW", "2540", True),
        ("TAS", "7000", True),
        ("WA", "6000", True),
        ("QLD", "6000", False),
        (None, "2000", None),
        ("NSW", None, None),
        ("Victoria", "3000", None),
        ("NSW", "200", None),
    ],
)
def test_postcode_in_state(state, postcode, expected):
    assert postcode_in_state(state, postcode) is expected


@pytest.mark.parametrize(
    ("phone", "ok"),
    [
        ("02 9123 4567", True),
        ("(02) 9123 4567", True),
        ("0291234567", True),
        ("0412 345 678", True),
        ("+61 2 9123 4567", True),
        ("+61 412 345 678", True),
        ("+61 (0)2 9123 4567", True),
        ("1300 123 456", True),
        ("1800-123-456", True),
        ("13 12 34", True),
        ("9123 4567", False),
        ("02 9123 456", False),
        ("call reception", False),
        ("0412 345 6789", False),
    ],
)
def test_phone_format(phone, ok):
    assert bool(re.match(PHONE, phone)) is ok


@pytest.mark.parametrize(
    ("email", "ok"),
    [("a.b@example.com.au", True), ("a@b", False), ("a b@example.com", False), ("@example.com", False)],
)
def test_email_format(email, ok):
    assert bool(re.match(EMAIL, email)) is ok


@pytest.mark.parametrize(
    ("postcode", "ok"), [("0800", True), ("800", False), ("20000", False), ("2O00", False)]
)
def test_postcode_format(postcode, ok):
    assert bool(re.match(POSTCODE, postcode)) is ok


def test_required_columns_name_the_rules_that_need_them():
    needed = required_columns(Frame.MEMBERS)
    assert [rule.name for rule in needed["first_name"]] == ["member_named"]
    assert needed["member_id"] == []  # an index column: needed to identify rows, by no single rule
    assert [rule.name for rule in required_columns(Frame.FUNDS)["tfn"]] == ["tfn_check_digit"]


def test_source_columns_follow_derived_columns():
    (named,) = (rule for rule in RULES if rule.name == "member_named")
    assert source_columns(named) == ("first_name", "last_name")


def test_funds_view_holds_only_what_the_rules_need_with_blanks_missing():
    funds, _ = frames([fund_row(1, scope_description="   ", physical_state="", postal_postcode="0870")], [])
    view = build_view(funds, Frame.FUNDS)
    assert "business_id" not in view.columns
    assert "physical_address" not in view.columns
    assert "created_at" not in view.columns
    assert pd.isna(view.at[0, "scope_description"])
    assert pd.isna(view.at[0, "physical_state"])
    assert pd.isna(view.at[0, "physical_postcode_in_state"])  # state missing: not judged twice
    assert view["postal_postcode_in_state"].tolist() == [True]


def test_members_view_joins_first_and_last_name():
    _, members = frames(
        [],
        [
            member_row("f-1", 0),
            member_row("f-1", 1, first_name=None, last_name="Lê"),
            member_row("f-1", 2, first_name=" ", last_name=None),
        ],
    )
    view = build_view(members, Frame.MEMBERS)
    assert view["member_name"].tolist()[:2] == ["Olivia Nguyễn", "Lê"]
    assert pd.isna(view.at[2, "member_name"])


def test_build_view_leaves_the_source_frame_alone():
    funds, _ = frames([fund_row(1, scope_code=" ")], [])
    build_view(funds, Frame.FUNDS)
    assert funds.at[0, "scope_code"] == " "


def test_member_messages_name_the_member_never_by_id():
    (email,) = (r for r in RULES if r.name == "member_email_format")
    member = {"member_id": "m-7", "first_name": "Olivia", "last_name": "Nguyễn", "email": "x"}
    assert email.describe(member) == f'email "x" of member Olivia Nguyễn is not an email address: {email.fix}'
    assert email.summary == "email … of member … is not an email address"


@pytest.mark.parametrize(
    ("member", "label"),
    [
        ({"first_name": " Olivia ", "last_name": None}, "Olivia"),
        ({"first_name": None, "last_name": "Lê", "email": "le@example.com"}, "Lê"),
        ({"preferred_name": "Liv", "email": "liv@example.com"}, "known as Liv"),
        ({"first_name": " ", "email": "liv@example.com"}, "with email liv@example.com"),
        ({"mobile": "0412 345 678", "direct_phone": "02 9123 4567"}, "with mobile 0412 345 678"),
        ({"direct_phone": "02 9123 4567"}, "with phone 02 9123 4567"),
        ({}, "with no name, email or phone"),
    ],
)
def test_a_member_is_named_by_name_else_by_how_to_reach_them(member, label):
    assert member_label({"member_id": "m-7", **member}) == label


def test_a_nameless_member_is_named_by_how_to_reach_them():
    (named,) = (r for r in RULES if r.name == "member_named")
    member = {"member_id": "m-7", "first_name": None, "last_name": " ", "email": "liv@example.com"}
    assert named.describe(member) == f"member with email liv@example.com has no name: {named.fix}"
    assert named.summary == "member … has no name"


def test_every_rule_says_what_to_change_in_class():
    assert all("Class" in rule.fix for rule in RULES)


def test_a_rule_shows_the_value_at_fault_quoted_and_a_blank_as_blank():
    (abn,) = (r for r in RULES if r.name == "abn_check_digit")
    assert abn.describe({"abn": " 51 824 753 557"}).startswith('ABN "51 824 753 557" fails')
    assert shown_value(None) == shown_value("  ") == "(blank)"


def test_no_rule_shows_the_tfn():
    assert all("tfn" not in rule.shown for rule in RULES)
    (tfn,) = (r for r in RULES if r.name == "tfn_check_digit")
    assert "123456789" not in tfn.describe({"tfn": "123456789", "fund_id": "f-1"})
    with pytest.raises(ValueError, match="would show tfn"):
        Rule("leaky", "TFN {tfn} is wrong", Severity.BLOCKING, Frame.FUNDS, "ExpectUnique", "tfn")
