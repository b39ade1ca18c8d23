from __future__ import annotations

import copy
import json
import pickle
import random

import pytest

from classxpm.identifiers import (
    Tfn,
    code_key,
    is_valid_abn,
    is_valid_acn,
    is_valid_tfn,
    mask_digit_runs,
    mask_tfn,
    normalise,
    reveal,
)

# Every vector from shared/reference/domain.md, section 1.
TFN_VALID = ["123 456 782", "876 543 210", "37118629", "37118660", "38593474", "85655734", "12345677"]
TFN_INVALID = ["999 999 999", "123 456 789", "000 000 000", "12345678", "", "12345678a", "1234567890"]
ABN_VALID = ["51 824 753 556", "83 914 571 673", "53 004 085 616", "43 002 724 334", "33 102 417 032"]
ABN_INVALID = ["99 999 999 999", "51 824 753 557", "", "5182475355", "01 824 753 556"]
ACN_VALID = ["004 085 616", "010 499 966", "002 724 334", "005 749 986", "004-085-616"]
ACN_INVALID = ["999 999 999", "004 085 617", "000 000 000", "", "00408561"]


@pytest.mark.parametrize("value", TFN_VALID)
def test_valid_tfns_pass(value):
    assert is_valid_tfn(value)


@pytest.mark.parametrize("value", TFN_INVALID)
def test_invalid_tfns_fail(value):
    assert not is_valid_tfn(value)


@pytest.mark.parametrize("value", ABN_VALID)
def test_valid_abns_pass(value):
    assert is_valid_abn(value)


@pytest.mark.parametrize("value", ABN_INVALID)
def test_invalid_abns_fail(value):
    assert not is_valid_abn(value)


@pytest.mark.parametrize("value", ACN_VALID)
def test_valid_acns_pass(value):
    assert is_valid_acn(value)


@pytest.mark.parametrize("value", ACN_INVALID)
def test_invalid_acns_fail(value):
    assert not is_valid_acn(value)


def _reference_tfn(digits: str) -> bool:
    """An independent, literal transcription of the ATO rule, for the random comparison."""
    if not digits.isdigit() or len(set(digits)) == 1:
        return False
    weights = {9: [1, 4, 3, 7, 5, 8, 6, 9, 10], 8: [10, 7, 8, 4, 6, 3, 5, 1]}.get(len(digits))
    if weights is None:
        return False
    total = 0
    for position, digit in enumerate(digits):
        total += int(digit) * weights[position]
    return total % 11 == 0


def _reference_abn(digits: str) -> bool:
    if len(digits) != 11 or not digits.isdigit() or digits[0] == "0" or len(set(digits)) == 1:
        return False
    numbers = [int(d) for d in digits]
    numbers[0] -= 1
    weights = [10, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19]
    return sum(n * w for n, w in zip(numbers, weights, strict=True)) % 89 == 0


def test_tfn_and_abn_agree_with_an_independent_implementation_on_random_numbers():
    rng = random.Random(20261127)
    for _ in range(20_000):
        tfn = "".join(rng.choice("0123456789") for _ in range(rng.choice([8, 9])))
        abn = "".join(rng.choice("0123456789") for _ in range(11))
        assert is_valid_tfn(tfn) == _reference_tfn(tfn), tfn
        assert is_valid_abn(abn) == _reference_abn(abn), abn


@pytest.mark.parametrize(
    ("value", "masked"),
    [("123 456 782", "******782"), ("37118629", "*****629"), ("", ""), (None, ""), ("12", "**")],
)
def test_mask_tfn_keeps_at_most_the_last_three_digits(value, masked):
    assert mask_tfn(value) == masked


def test_normalise_strips_spaces_and_hyphens():
    assert normalise(" 004-085 616 ") == "004085616"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("TFN 123 456 782 is already used", "TFN ######## is already used"),
        ("duplicate 123456782.", "duplicate ########."),
        ("postcode 0800 and phone 0400", "postcode 0800 and phone 0400"),
    ],
)
def test_mask_digit_runs_hides_anything_tfn_long(text, shown):
    assert mask_digit_runs(text) == shown


def test_a_tfn_is_masked_in_every_text_form_and_revealed_only_on_request():
    tfn = Tfn("123456782")
    shown = [
        str(tfn),
        repr(tfn),
        f"{tfn}",
        f"{tfn:>12}",
        "%s" % tfn,  # noqa: UP031 - logging formats this way
        "{}".format(tfn),  # noqa: UP032 - str.format is a route of its own
        repr({"TaxNumber": tfn}),
    ]
    assert not any("123456" in text for text in shown)
    assert str(tfn) == "******782"
    assert tfn.reveal() == "123456782"
    assert tfn.masked == mask_tfn(tfn) == "******782"


def test_a_tfn_cannot_be_serialised_or_pickled_in_clear():
    tfn = Tfn("123456782")
    with pytest.raises(TypeError):
        json.dumps({"TaxNumber": tfn})
    with pytest.raises(TypeError):
        pickle.dumps(tfn)
    with pytest.raises(TypeError):
        "TFN " + tfn


def test_a_tfn_copies_as_itself_and_stays_masked():
    record = {"TaxNumber": Tfn("123456782")}
    assert copy.deepcopy(record)["TaxNumber"] is record["TaxNumber"]
    assert copy.copy(record["TaxNumber"]) is record["TaxNumber"]


def test_a_tfn_compares_by_its_clear_value():
    assert Tfn("123456782") == "123456782"
    assert Tfn("123456782") == Tfn(Tfn("123456782"))
    assert Tfn("123456782") != Tfn("876543782")
    assert Tfn("123456782") != 123456782
    assert not Tfn("")
    assert reveal(Tfn("123456782")) == "123456782"
    assert reveal("plain") == "plain"


@pytest.mark.parametrize(
    ("code", "key"), [("FUND1", "fund1"), ("  fund1\t", "fund1"), (None, ""), ("SMSF-01", "smsf-01")]
)
def test_the_code_key_trims_and_ignores_case(code, key):
    assert code_key(code) == key
