from __future__ import annotations

import json

import pandas as pd
import pytest

from classxpm.validation.gate import check_frames, ephemeral_context, run_suites, tfn_status
from classxpm.validation.outcome import ValidationGateError
from classxpm.validation.rules import RULES, Frame, Rule, Severity, build_view
from fixtures.validation_frames import frames, fund_row, good_frames, member_row

FIX = {rule.name: rule.fix for rule in RULES}
TFN_FIX = f"TFN fails its check digit: {FIX['tfn_check_digit']}"


def check(funds, members, rules=RULES):
    return check_frames(funds, members, run_id="run-1", business_id="b-1", rules=rules)


def test_all_good_funds_pass(small_frames):
    result = check(*small_frames)
    assert result.counts() == {
        "funds_checked": 6,
        "passed": 6,
        "quarantined": 0,
        "with_warnings": 0,
        "members_checked": 12,
    }
    assert result.failed_rules == ()


def test_bad_identifiers_are_quarantined_with_the_rule_in_plain_words_and_the_rest_pass():
    rows = [fund_row(n) for n in range(6)]
    rows[1]["tfn"] = "123 456 789"
    rows[2]["abn"] = "51 824 753 557"
    rows[3]["tfn"] = "000000000"
    rows[4]["acn"] = "004 085 617"
    result = check(*frames(rows, [member_row(row["fund_id"], 0) for row in rows]))
    assert result.quarantined == {
        "f-1": (TFN_FIX,),
        "f-2": (f'ABN "51 824 753 557" fails its check digit: {FIX["abn_check_digit"]}',),
        "f-3": (TFN_FIX,),
        "f-4": (f'ACN "004 085 617" fails its check digit: {FIX["acn_check_digit"]}',),
    }
    assert not any("123 456 789" in m or "000000000" in m for ms in result.quarantined.values() for m in ms)
    assert (result.funds_checked, result.passed) == (6, 2)
    assert not result.is_quarantined("f-0")
    assert not result.is_quarantined("f-5")
    assert result.labels["f-1"].tfn == "invalid"
    assert result.labels["f-2"].tfn == "valid"
    assert result.labels["f-2"].scope_code == "FUND02"


def test_every_broken_rule_of_a_fund_is_listed():
    row = fund_row(1, tfn="999999999", abn="99 999 999 999", scope_description=" ")
    result = check(*frames([row], []))
    assert result.quarantined["f-1"] == (
        TFN_FIX,
        f"ABN (withheld: it holds a TFN's digits) fails its check digit: {FIX['abn_check_digit']}",
        f"fund name is missing: {FIX['fund_name_present']}",
    )


def test_duplicate_scope_codes_quarantine_both_funds():
    rows = [fund_row(1), fund_row(2, scope_code="FUND01"), fund_row(3)]
    result = check(*frames(rows, []))
    assert result.quarantined == {
        "f-1": (f'scope code "FUND01" is used by another fund: {FIX["scope_code_unique"]}',),
        "f-2": (f'scope code "FUND01" is used by another fund: {FIX["scope_code_unique"]}',),
    }


def test_missing_scope_code_and_fund_name():
    rows = [fund_row(1, scope_code=None), fund_row(2, scope_code="  "), fund_row(3, scope_description=None)]
    result = check(*frames(rows, []))
    assert result.quarantined == {
        "f-1": (f"scope code is missing: {FIX['scope_code_present']}",),
        "f-2": (f"scope code is missing: {FIX['scope_code_present']}",),
        "f-3": (f"fund name is missing: {FIX['fund_name_present']}",),
    }
    assert result.labels["f-1"].scope_code is None


def test_a_member_without_a_name_is_a_warning_on_its_fund_only():
    rows = [fund_row(1), fund_row(2)]
    people = [
        member_row("f-1", 0, first_name=None, last_name=" "),
        member_row("f-1", 1),
        member_row("f-2", 0, first_name=None),  # a last name is a name
    ]
    result = check(*frames(rows, people))
    assert result.quarantined == {}, "the member is held back at the sync, not its fund"
    assert result.warnings == {
        "f-1": (f"member with email olivia.nguyen@example.com.au has no name: {FIX['member_named']}",)
    }
    assert "m-f-1-0" not in str(result.to_dict()), "members are named, never shown by id"
    (tally,) = result.failed_rules
    assert (tally.name, tally.message, tally.funds, tally.rows) == (
        "member_named",
        "member … has no name",
        1,
        1,
    )


def test_warnings_are_reported_but_do_not_quarantine():
    rows = [
        fund_row(1, physical_state="Victoria"),
        fund_row(2, postal_postcode="800"),
        fund_row(3, physical_state="VIC", physical_postcode="2000"),
        fund_row(4, phone="call reception", fax="9123"),
        fund_row(5),
    ]
    people = [member_row("f-5", 0, email="olivia at example", mobile="12", direct_phone="0412 345 678")]
    result = check(*frames(rows, people))
    assert result.quarantined == {}
    assert result.passed == 5
    assert result.with_warnings == 5
    assert result.warnings == {
        "f-1": (f'physical address state "Victoria" is not a state code: {FIX["physical_state_code"]}',),
        "f-2": (f'postal address postcode "800" is not 4 digits: {FIX["postal_postcode_format"]}',),
        "f-3": (f'physical address postcode "2000" is not in "VIC": {FIX["physical_state_postcode"]}',),
        "f-4": (
            f'fund phone "call reception" is not an Australian phone number: {FIX["fund_phone_format"]}',
            f'fund fax "9123" is not an Australian phone number: {FIX["fund_fax_format"]}',
        ),
        "f-5": (
            f'email "olivia at example" of member Olivia Nguyễn is not an email address: '
            f"{FIX['member_email_format']}",
            f'mobile "12" of member Olivia Nguyễn is not an Australian phone number: '
            f"{FIX['member_mobile_format']}",
        ),
    }
    assert {t.severity for t in result.failed_rules} == {"warning"}


def test_members_of_funds_outside_the_run_are_not_checked(small_frames):
    funds, members = small_frames
    stray = member_row("f-99", 0, first_name=None, last_name=None)
    _, extra = frames([], [stray])
    result = check(funds, pd.concat([members, extra], ignore_index=True))
    assert result.quarantined == {}
    assert result.members_checked == 12


def test_a_missing_column_fails_fast_with_a_short_message(small_frames):
    funds, members = small_frames
    with pytest.raises(ValidationGateError) as caught:
        check(funds.drop(columns=["abn", "tfn"]), members.drop(columns=["last_name"]))
    message = str(caught.value)
    assert message == (
        "validation stopped, 6 funds and 12 members not checked: funds lacks column tfn (tfn_check_digit); "
        "funds lacks column abn (abn_check_digit); members lacks column last_name (member_named)"
    )
    assert caught.value.report is None


def test_a_rule_that_cannot_be_evaluated_stops_the_run(small_frames):
    broken = Rule("broken_regex", "phone is odd", Severity.WARNING, Frame.FUNDS,
                  "ExpectColumnValuesToMatchRegex", "phone", {"regex": "(unclosed"})  # fmt: skip
    with pytest.raises(ValidationGateError, match=r"rules could not be evaluated: broken_regex"):
        check(*small_frames, rules=(*RULES, broken))


def test_no_tfn_reaches_any_gx_result():
    rows = [fund_row(n) for n in range(4)]
    rows[0]["tfn"], rows[1]["tfn"], rows[2]["tfn"] = "123 456 789", "000000000", "999999999"
    funds, members = frames(rows, [member_row(r["fund_id"], 0) for r in rows])
    views = {
        frame: build_view(data, frame) for frame, data in ((Frame.FUNDS, funds), (Frame.MEMBERS, members))
    }
    results = run_suites(views, RULES)
    text = json.dumps({str(k): v.to_json_dict() for k, v in results.items()}, default=str)
    assert "f-0" in text  # failing rows are identified...
    for tfn in {*funds["tfn"].dropna(), "123456789", "876543210"}:  # ...but never by their TFN
        assert tfn not in text


def test_the_gx_context_has_no_docs_site_but_the_run_s(tmp_path):
    assert ephemeral_context(None).list_data_docs_sites() == {}
    sites = ephemeral_context(tmp_path).list_data_docs_sites()
    assert list(sites) == ["classxpm"]
    assert sites["classxpm"]["store_backend"]["base_directory"] == str(tmp_path)


@pytest.mark.parametrize(
    ("value", "status"),
    [(None, "absent"), ("", "absent"), (" ", "absent"), ("123 456 782", "valid"), ("000000000", "invalid")],
)
def test_tfn_status(value, status):
    assert tfn_status(value) == status


def test_headline_is_short_and_names_the_blocking_rules():
    funds, members = good_frames(3)
    funds.loc[0, "tfn"] = "123456789"
    headline = check(funds, members).headline()
    assert headline == (
        "validated 3 funds: 2 passed, 1 quarantined (TFN fails its check digit: 1), 0 with warnings"
    )
    assert "123456789" not in headline


def test_an_empty_run_checks_nothing_and_passes():
    result = check(*frames([], []))
    assert result.counts() == dict.fromkeys(
        ("funds_checked", "passed", "quarantined", "with_warnings", "members_checked"), 0
    )


def test_values_the_extract_found_mistyped_quarantine_their_fund_beside_the_rules():
    rows = [fund_row(n) for n in range(4)]
    rows[2]["tfn"] = "123 456 789"
    mistyped = {
        "f-1": ["class_db: funds f-1 updated_at: not a date and time"],
        "f-2": ["class_db: members m-2-0 email: binary data, not text"],
    }
    result = check_frames(
        *frames(rows, [member_row(row["fund_id"], 0) for row in rows]),
        run_id="r",
        business_id="b",
        source_problems=mistyped,
    )
    assert result.quarantined == {
        "f-1": ("class_db: funds f-1 updated_at: not a date and time",),
        "f-2": ("class_db: members m-2-0 email: binary data, not text", TFN_FIX),
    }
    assert result.labels["f-1"].scope_code == "FUND01"
    tallies = {tally.name: (tally.severity, tally.funds, tally.rows) for tally in result.failed_rules}
    assert tallies["class_value_type"] == ("blocking", 2, 2)


def test_a_value_holding_a_tfn_is_withheld_even_where_its_column_is_shown():
    rows = [fund_row(1, abn="123 456 782"), fund_row(2, abn="51 824 753 557", phone="876 543 210")]
    people = [member_row("f-2", 0, mobile="+61 123 456 782")]  # f-1's TFN, typed as a mobile
    result = check(*frames(rows, people))

    assert result.quarantined["f-1"] == (
        f"ABN (withheld: it holds a TFN's digits) fails its check digit: {FIX['abn_check_digit']}",
    )
    assert result.quarantined["f-2"] == (
        f'ABN "51 824 753 557" fails its check digit: {FIX["abn_check_digit"]}',
    ), "a value holding no TFN is shown"
    warned = " ".join(result.warnings["f-2"])
    assert "fund phone (withheld: it holds a TFN's digits)" in warned, "f-2's own TFN, typed as its phone"
    assert "mobile (withheld: it holds a TFN's digits) of member Olivia Nguyễn" in warned
    assert not {"123456782", "876543210", "123 456 782"} & set(warned.replace('"', " ").split())
