from __future__ import annotations

import re
from collections import Counter

import pytest

from classxpm.identifiers import is_valid_abn, is_valid_acn, is_valid_tfn
from classxpm.source.demo_data import (
    DEMO_AS_OF,
    DEMO_BUSINESS_ID,
    DemoChunk,
    DemoSummary,
    ascii_fold,
    generate,
)
from classxpm.source.schema import column_names, funds, members

FUNDS = 2_000
STATES = {"NSW", "VIC", "QLD", "WA", "SA", "TAS", "ACT", "NT"}
LANDLINE = re.compile(r"^0[2378] \d{4} \d{4}$")
MOBILE = re.compile(r"^04\d{2} \d{3} \d{3}$")


@pytest.fixture(scope="module")
def demo() -> DemoChunk:
    chunk = DemoChunk()
    for part in generate(FUNDS, seed=7, chunk_size=500):
        chunk.funds.extend(part.funds)
        chunk.members.extend(part.members)
    return chunk


def share(rows: list[dict], predicate) -> float:
    return sum(1 for row in rows if predicate(row)) / len(rows)


def test_same_seed_gives_the_same_rows():
    assert list(generate(50, seed=3)) == list(generate(50, seed=3))


def test_another_seed_gives_other_rows():
    first, other = next(generate(50, seed=3)), next(generate(50, seed=4))
    assert {f["fund_id"] for f in first.funds}.isdisjoint(f["fund_id"] for f in other.funds)


def test_chunks_hold_whole_funds_with_their_members():
    chunks = list(generate(12, seed=1, chunk_size=5))
    assert [len(chunk.funds) for chunk in chunks] == [5, 5, 2]
    for chunk in chunks:
        assert {m["fund_id"] for m in chunk.members} == {f["fund_id"] for f in chunk.funds}


def test_rows_have_exactly_the_schema_columns(demo):
    assert set(demo.funds[0]) == set(column_names(funds))
    assert set(demo.members[0]) == set(column_names(members))
    assert {f["business_id"] for f in demo.funds} == {DEMO_BUSINESS_ID}


def test_identifier_problems_come_in_the_promised_proportions(demo):
    summary = DemoSummary.of(demo)
    assert summary.funds == FUNDS
    assert 0.07 < summary.without_tfn / FUNDS < 0.13
    assert 0.015 < summary.invalid_tfn / FUNDS < 0.045
    assert 0.008 < summary.invalid_abn / FUNDS < 0.035
    assert 0.25 < summary.corporate_trustee / FUNDS < 0.35


def test_corporate_trustees_have_valid_acns_and_others_none(demo):
    acns = [f["acn"] for f in demo.funds if f["acn"] is not None]
    assert acns
    assert all(is_valid_acn(acn) for acn in acns)
    assert any(acn.startswith("0") for acn in acns)


def test_valid_tfns_are_distinct(demo):
    valid = [f["tfn"] for f in demo.funds if f["tfn"] and is_valid_tfn(f["tfn"])]
    assert len(valid) > 0.8 * FUNDS
    assert len(set(valid)) == len(valid)


def test_identifiers_are_digit_strings(demo):
    for fund in demo.funds:
        assert re.fullmatch(r"\d{11}", fund["abn"])
        assert fund["tfn"] is None or re.fullmatch(r"\d{9}", fund["tfn"])
    assert share(demo.funds, lambda f: is_valid_abn(f["abn"])) > 0.95


def test_scope_codes_are_unique_and_fit_the_column(demo):
    codes = [f["scope_code"] for f in demo.funds]
    assert len(set(codes)) == len(codes)
    assert all(re.fullmatch(r"[A-Z]{2,7}\d{2,}", code) and len(code) <= 32 for code in codes)


def test_postcodes_are_four_digit_strings_some_with_a_leading_zero(demo):
    postcodes = [f["postal_postcode"] for f in demo.funds] + [
        f["physical_postcode"] for f in demo.funds if f["physical_postcode"]
    ]
    assert all(isinstance(p, str) and re.fullmatch(r"\d{4}", p) for p in postcodes)
    assert {p for p in postcodes if p.startswith("0")} >= {"0800", "0200"}


def test_addresses_cover_every_state_and_the_awkward_shapes(demo):
    assert {f["postal_state"] for f in demo.funds} == STATES
    assert {f["physical_country"] for f in demo.funds} == {"Australia", None}
    assert any("\n" in (f["physical_address"] or "") for f in demo.funds)
    assert 0.25 < share(demo.funds, lambda f: f["postal_address"].startswith("PO Box")) < 0.5
    assert any(f["physical_address"] is None for f in demo.funds)


def test_fund_names_carry_markup_and_non_ascii_characters(demo):
    names = [f["scope_description"] for f in demo.funds]
    assert any("&" in name for name in names)
    assert any("<" in name for name in names)
    assert any("'" in name for name in names)
    assert any(not name.isascii() for name in names)
    assert all(len(name) <= 255 for name in names)


def test_every_fund_has_one_to_four_members_mostly_two(demo):
    per_fund = Counter(m["fund_id"] for m in demo.members)
    sizes = Counter(per_fund[f["fund_id"]] for f in demo.funds)
    assert set(sizes) == {1, 2, 3, 4}
    assert sizes.most_common(1)[0][0] == 2


def test_members_look_australian(demo):
    assert all(MOBILE.match(m["mobile"]) for m in demo.members if m["mobile"])
    assert all(LANDLINE.match(f["phone"]) for f in demo.funds if f["phone"])
    assert {m["salutation"] for m in demo.members} == {"Mr", "Mrs", "Ms", "Dr"}
    assert 0.05 < share(demo.members, lambda m: m["preferred_name"] is not None) < 0.4
    assert any(not m["last_name"].isascii() for m in demo.members)


def test_emails_are_ascii_and_derived_from_the_name(demo):
    emails = [m for m in demo.members if m["email"]]
    assert all(m["email"].isascii() and m["email"].endswith(".au") for m in emails)
    assert all(m["email"].startswith(ascii_fold(m["first_name"]).lower() + ".") for m in emails)


def test_timestamps_are_ordered_and_never_after_as_of(demo):
    created = {f["fund_id"]: f["created_at"] for f in demo.funds}
    for row in demo.funds + demo.members:
        assert row["created_at"] <= row["updated_at"] <= DEMO_AS_OF
        assert row["created_at"].tzinfo is None
    assert all(m["created_at"] >= created[m["fund_id"]] for m in demo.members)
    assert len({f["created_at"].year for f in demo.funds}) >= 8


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Nguyễn", "Nguyen"),
        ("Đặng", "Dang"),
        ("Łukasz", "Lukasz"),
        ("O'Brien", "OBrien"),
        ("De Luca", "DeLuca"),
    ],
)
def test_ascii_fold(text, folded):
    assert ascii_fold(text) == folded
