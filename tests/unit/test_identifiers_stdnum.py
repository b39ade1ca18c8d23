"""Our TFN, ABN and ACN checks agree with python-stdnum's on random and edge values, but on purpose.

Two differences are deliberate, and each is asserted as such rather than skipped:
- one repeated digit (``000000000``) passes the sums by accident; ``shared/reference/domain.md`` says to
  refuse it, and stdnum accepts it;
- an ABN whose check digits are ``10``: the ABR's published rule (first digit less one, weights, mod 89)
  accepts it, since ``10`` and ``99`` stand for the same remainder, while stdnum only ever computes ``99``.
Digits outside ASCII are refused by us alone (the value is sent on as Class holds it).
Eight-digit TFNs are left out: ours use the ATO's own weights, stdnum reuses the 9-digit ones (see the note
in ``classxpm.identifiers``).
"""

from __future__ import annotations

import random

import pytest
from stdnum.au import abn, acn, tfn

from classxpm.identifiers import is_valid_abn, is_valid_acn, is_valid_tfn

SEED = 20261130
COUNT = 20_000


def _random_digits(rng: random.Random, length: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(length))


def _valid_tfn(rng: random.Random) -> str:
    while not tfn.is_valid(number := _random_digits(rng, 9)):
        pass
    return number


def _valid_abn(rng: random.Random) -> str:
    body = _random_digits(rng, 9)
    return abn.calc_check_digits(body) + body


def _valid_acn(rng: random.Random) -> str:
    body = _random_digits(rng, 8)
    return body + acn.calc_check_digit(body)


def _near(number: str, rng: random.Random) -> str:
    """The number with one digit changed: the checks must catch every single-digit slip."""
    at = rng.randrange(len(number))
    digit = rng.choice([d for d in "0123456789" if d != number[at]])
    return number[:at] + digit + number[at + 1 :]


def _values(length: int, valid) -> list[str]:
    rng = random.Random(SEED + length)
    randoms = [_random_digits(rng, length) for _ in range(COUNT)]
    valids = [valid(rng) for _ in range(COUNT // 4)]
    edges = [d * length for d in "0123456789"] + ["0" * (length - 1) + "1", "", "1" * (length - 1)]
    return randoms + valids + [_near(v, rng) for v in valids] + edges


def _repeated(number: str) -> bool:
    return len(set(number)) == 1


CASES = {
    "tfn": (9, _valid_tfn, is_valid_tfn, tfn.is_valid),
    "abn": (11, _valid_abn, is_valid_abn, abn.is_valid),
    "acn": (9, _valid_acn, is_valid_acn, acn.is_valid),
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_ours_agree_with_stdnum_but_where_domain_md_says_otherwise(kind):
    length, valid, ours, theirs = CASES[kind]
    values = _values(length, valid)
    disagree = [v for v in values if ours(v) != theirs(v)]
    repeated = [v for v in disagree if _repeated(v)]
    assert all(not ours(v) and theirs(v) for v in repeated), "a repeated digit is refused by us alone"
    others = [v for v in disagree if not _repeated(v)]
    if kind == "abn":
        assert all(v.startswith("10") and ours(v) and theirs("99" + v[2:]) for v in others)
    else:
        assert others == []
    assert sum(map(ours, values)) > COUNT // 4, "the valid-by-construction values were checked as valid"


def test_check_digits_10_and_99_are_one_abn_remainder_for_us_and_only_99_for_stdnum():
    rng = random.Random(SEED)
    bodies = (_random_digits(rng, 9) for _ in range(50_000))
    pairs = [body for body in bodies if abn.calc_check_digits(body) == "99"]
    assert pairs, "some bodies need the check digits 99"
    for body in pairs:
        assert is_valid_abn("99" + body)
        assert is_valid_abn("10" + body)
        assert abn.is_valid("99" + body)
        assert not abn.is_valid("10" + body)


@pytest.mark.parametrize("value", ["", "12345678a", "1234567890", "12345678 2x"])
def test_malformed_tfns_are_refused_by_both(value):
    assert not is_valid_tfn(value)
    assert not tfn.is_valid(value)


FULL_WIDTH = "".join(chr(0xFF10 + int(d)) for d in "123456782")
ARABIC_INDIC = "".join(chr(0x0660 + int(d)) for d in "123456782")


@pytest.mark.parametrize("value", [FULL_WIDTH, ARABIC_INDIC])
def test_digits_outside_ascii_are_refused_by_us_though_stdnum_reads_some(value):
    # The value is sent to XPM as Class holds it: a full-width TFN would reach XPM and the ATO unreadable.
    assert not is_valid_tfn(value)
