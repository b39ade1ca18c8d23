from __future__ import annotations

import re

import pytest

from classxpm.sync.gone import members_policy_for, policy_for, report_entries
from classxpm.sync.report import news_notice
from classxpm.xpm.config import XpmConfig
from classxpm.xpm.errors import ConfigurationError


def test_the_param_wins_then_the_extra_for_the_business_then_report():
    assert policy_for("b1", None, None) == "report"
    assert policy_for("b1", None, "archive") == "archive"
    assert policy_for("b1", None, {"b1": "archive", "*": "report"}) == "archive"
    assert policy_for("b2", None, {"b1": "archive", "*": "report"}) == "report"
    assert policy_for("b2", None, {"b1": "archive"}) == "report"
    assert policy_for("b1", "report", {"b1": "archive"}) == "report"


def test_an_unknown_policy_is_refused_by_name():
    with pytest.raises(ConfigurationError, match="gone_from_class must be one of report, archive"):
        policy_for("b1", "delete", None)


def test_the_connection_extra_is_read():
    config = XpmConfig.from_settings("id", "secret", None, {"gone_from_class": {"b1": "archive"}})
    assert config.gone_from_class == {"b1": "archive"}


@pytest.mark.parametrize(
    ("param", "extra", "expected"),
    [
        (None, None, "report"),
        ("detach", None, "detach"),
        (None, {"b1": "position:Former member", "*": "report"}, "position:Former member"),
        (None, {"*": "detach"}, "detach"),
        ("position:  Rolled out ", "detach", "position:Rolled out"),
        ("report", {"b1": "detach"}, "report"),
    ],
)
def test_the_rolled_out_members_policy_is_read_like_the_gone_policy(param, extra, expected):
    assert members_policy_for("b1", param, extra) == expected


@pytest.mark.parametrize(
    "bad", ["archive", "position:", "position:   ", "Detach", "delete", "position:" + "x" * 101, 7]
)
def test_an_unknown_rolled_out_members_policy_is_refused_by_name(bad):
    with pytest.raises(
        ConfigurationError,
        match=r"rolled_out_members must be report, detach or position:<text> \(the Position to set, at "
        r"most 100 characters\), not " + re.escape(repr(bad)),
    ):
        members_policy_for("b1", bad, None)


def test_the_rolled_out_members_extra_is_read():
    config = XpmConfig.from_settings("id", "secret", None, {"rolled_out_members": {"b1": "detach"}})
    assert config.rolled_out_members == {"b1": "detach"}


def _gone(new: bool) -> dict:
    return {
        "gone": {
            "funds": [
                {"fund_id": "f1", "scope_code": "OLD01", "fund_name": "Old", "client_uuid": "c1", "new": new}
            ],
            "members": [{"scope_code": "KEPT01", "member_id": "m1", "contact_uuid": "k1", "new": new}],
        }
    }


def test_the_report_says_what_was_done_for_each_rolled_out_member_and_what_is_new():
    summary = _gone(True) | {"rolled_out_done": {"m1": "contact detached from the fund's client"}}
    entries = report_entries(summary, [], "detach")
    assert entries["members"] == [
        {
            "scope_code": "KEPT01",
            "member_id": "m1",
            "contact_uuid": "k1",
            "what": "rolled out of the fund",
            "done": "contact detached from the fund's client",
            "new": True,
        }
    ]
    assert entries["funds"][0]["new"] is True
    assert report_entries(_gone(False), [])["members"][0]["done"] == "contact left as it is (policy: report)"


def test_the_notice_names_only_what_is_new_since_the_last_run():
    review = {"scope_code": "REV01", "status": "needs_review", "detail": "two clients", "candidates": []}
    fresh = news_notice([review | {"new": True}], report_entries(_gone(True), []))
    assert fresh == (
        "New since the last run: 1 funds need review (REV01); 1 funds gone from Class (OLD01); "
        "1 members rolled out (KEPT01 member m1)."
    )
    assert news_notice([review | {"new": False}], report_entries(_gone(False), [])) == ""


def test_the_notice_names_ten_of_each_kind_and_counts_the_rest():
    reviews = [
        {"scope_code": f"REV{n:02}", "status": "needs_review", "new": True, "candidates": []}
        for n in range(12)
    ]
    notice = news_notice(reviews, {})
    assert notice.startswith("New since the last run: 12 funds need review (REV00, REV01,")
    assert notice.endswith("REV09 and 2 more).")
