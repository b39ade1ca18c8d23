"""What a person types as the business (trigger form): an id, or a name whatever the case."""

from __future__ import annotations

import pytest

from classxpm.source.businesses import resolve_business
from classxpm.xpm.errors import ConfigurationError

NAMES = {
    "b-1": "Smith & Co Accountants",
    "b-2": "Jones Partners",
    "b-3": "Twin Practice",
    "b-4": "twin practice ",
}


@pytest.mark.parametrize(
    ("typed", "business_id"),
    [
        ("b-2", "b-2"),
        (" b-2 ", "b-2"),
        ("Jones Partners", "b-2"),
        ("smith & co accountants", "b-1"),
        ("  JONES PARTNERS ", "b-2"),
    ],
)
def test_an_id_or_a_name_resolves_to_the_business(typed, business_id):
    assert resolve_business(typed, NAMES) == business_id


def test_a_name_matching_none_names_every_choice():
    with pytest.raises(ConfigurationError) as raised:
        resolve_business("Brown Pty", NAMES)

    message = str(raised.value)
    assert "'Brown Pty'" in message
    for business_id, name in NAMES.items():
        assert f"{name} ({business_id})" in message


def test_a_name_shared_by_several_asks_for_the_id():
    with pytest.raises(ConfigurationError, match=r"2 Class businesses are named 'Twin Practice'.*b-3, b-4"):
        resolve_business("Twin Practice", NAMES)


def test_an_id_wins_over_a_name_that_looks_like_it():
    assert resolve_business("b-1", {"b-1": "First", "b-2": "b-1"}) == "b-1"


def test_no_business_at_all_says_so():
    with pytest.raises(ConfigurationError, match="the businesses: none"):
        resolve_business("anything", {})
