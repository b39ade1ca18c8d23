"""Mapping, hashing and map_fund agree with a frozen copy of the implementation they replaced.

The ``_ref_*`` functions below are a verbatim copy (names prefixed) of ``mapping/apply.py``,
``clean`` and the transforms of ``mapping/transforms.py``, ``hash_input`` of ``mapping/hashing.py``
and ``map_fund`` of ``sync/desired.py`` as they stood before mapping was compiled into per-field
plans for speed. They are kept here on purpose, as the reference the fast code must match byte for
byte: the same values and their order, the same kept blanks, the same problems in the same order and
the same payload hashes, over a few thousand randomized rows. Do not "fix" the copy.
"""

from __future__ import annotations

import collections.abc
import datetime
import decimal
import hashlib
import hmac
import json
import random
import re
import unicodedata
from typing import Any

import pytest

from classxpm.identifiers import normalise
from classxpm.mapping import Mapping, load_default_mappings, map_row, payload_hash
from classxpm.mapping.hashing import HASH_VERSION, hash_input
from classxpm.mapping.records import FieldValues, MappedRecord, RecordProblem
from classxpm.mapping.transforms import TRANSFORMS, TransformProblem
from classxpm.sync.desired import MappedFund, map_fund
from classxpm.sync.model import DesiredContact, DesiredFund
from classxpm.validation.rules import member_label

MAPPINGS = load_default_mappings()
SECRET = b"0123456789abcdef-test-only-key"

# --- frozen reference copy: begin -------------------------------------------------------------------

_WORD_BREAKS = re.compile(r"[\t\n\r\v\f\x85\u2028\u2029]")
_LINE_BREAKS = re.compile(r"\r\n?|[\v\f\x85\u2028\u2029]")
_SPACE_RUNS = re.compile(r"[ \t]+")
_NONCHARACTERS = {"\ufffe", "\uffff"}
_MAY_NEED_CLEANING = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]")


class _RefTransformProblem(ValueError):
    pass


def _ref_clean(text: str, *, multiline: bool) -> tuple[str, bool]:
    if not _MAY_NEED_CLEANING.search(text):
        return text, False
    spaced = _LINE_BREAKS.sub("\n", text).replace("\t", " ") if multiline else _WORD_BREAKS.sub(" ", text)
    kept = "".join(char for char in spaced if char == "\n" or not _ref_unsendable(char))
    changed = kept != (text.replace("\r\n", "\n") if multiline else text)
    return kept, changed


def _ref_unsendable(char: str) -> bool:
    return unicodedata.category(char) in {"Cc", "Cs"} or char in _NONCHARACTERS


def _ref_collapse_whitespace(text: str) -> str:
    lines = (_SPACE_RUNS.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def _ref_digits_only(text: str) -> str:
    digits = normalise(text)
    if digits and not (digits.isascii() and digits.isdigit()):
        raise _RefTransformProblem("must hold only digits, spaces and hyphens")
    return digits


_REF_TRANSFORMS = {
    "strip": str.strip,
    "collapse_whitespace": _ref_collapse_whitespace,
    "upper": str.upper,
    "digits_only": _ref_digits_only,
}


class _RefFieldError(Exception):
    pass


def _ref_map_row(mapping: Mapping, row: collections.abc.Mapping[str, object]) -> MappedRecord:
    key, problems = _ref_record_key(mapping, row)
    values: dict[str, str] = {}
    kept_blank: list[str] = []
    for field, spec in mapping.fields.items():
        try:
            text, warnings = _ref_field_text(mapping, field, spec, row)
        except _RefFieldError as error:
            problems.append(RecordProblem(key, field, str(error)))
            continue
        problems += [RecordProblem(key, field, reason, "warning") for reason in warnings]
        if text is None:
            kept_blank.append(field)
        else:
            values[field] = text
    sensitive = frozenset(field for field, spec in mapping.fields.items() if spec.sensitive)
    return MappedRecord(
        mapping.target, key, FieldValues(values, sensitive), tuple(kept_blank), tuple(problems)
    )


def _ref_record_key(mapping, row):
    value = row.get(mapping.key)
    if value is None or not str(value).strip():
        return "", [RecordProblem("", mapping.key, f"the row has no {mapping.key}")]
    return str(value), []


def _ref_field_text(mapping, field, spec, row):
    element = mapping.element(field)
    text, changed = _ref_source_text(spec, row, multiline=element.multiline)
    warnings = ["control characters removed"] if changed else []
    for name in spec.transform:
        try:
            text = _REF_TRANSFORMS[name](text)
        except _RefTransformProblem as problem:
            raise _RefFieldError(f"{name}: {problem}") from None
    if not text.strip():
        return _ref_blank(field, spec, element.required), warnings
    if len(text) > element.max_length:
        raise _RefFieldError(f"is {len(text)} characters; XPM {field} takes at most {element.max_length}")
    return text, warnings


def _ref_source_text(spec, row, *, multiline):
    if spec.value is not None:
        return _ref_clean(spec.value, multiline=multiline)
    cleaned = [_ref_clean(_ref_column_text(row, column), multiline=multiline) for column in spec.columns]
    changed = any(flag for _, flag in cleaned)
    if spec.join is None:
        return cleaned[0][0], changed
    return spec.separator.join(part.strip() for part, _ in cleaned if part.strip()), changed


def _ref_blank(field, spec, required):
    if required:
        raise _RefFieldError(f"XPM requires {field} and the source is blank")
    return "" if spec.on_blank == "clear" else None


def _ref_column_text(row, column):
    if column not in row:
        raise _RefFieldError(f"column {column!r} is missing from the source row")
    value = row[column]
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _RefFieldError(f"column {column!r} should hold text, not {type(value).__name__}")
    return value


def _ref_sensitive_digest(value: str, secret: bytes) -> str:
    if len(secret) < 16:
        raise ValueError("the hashing secret must be at least 16 bytes")
    digest = hmac.new(secret, normalise(value).encode("utf-8"), hashlib.sha256).hexdigest()
    return f"hmac-sha256:{digest}"


def _ref_hash_input(record: MappedRecord, secret: bytes) -> bytes:
    values = record.values
    fields = {
        field: _ref_sensitive_digest(value, secret) if field in values.sensitive else value
        for field, value in values.items()
    }
    document = {"version": HASH_VERSION, "target": record.target, "fields": fields}
    return json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _ref_payload_hash(record: MappedRecord, secret: bytes) -> str:
    return hashlib.sha256(_ref_hash_input(record, secret)).hexdigest()


def _ref_fields(record):
    return {name: record.values[name] for name in record.values}


def _ref_describe(table, record):
    return [f"{table} {p.record_key} {p.field}: {p.reason}" for p in record.errors]


def _ref_map_fund(fund, members, mappings, secret) -> MappedFund:
    client = _ref_map_row(mappings.client, fund)
    contacts, held_back = [], {}
    for member in members:
        contact = _ref_map_row(mappings.contact, member)
        if (contact.values.get("Name") or "").strip():
            contacts.append(contact)
        else:  # issue 16: a member with no name is held back alone, whatever else is wrong with it
            held_back[contact.key] = member_label(member)
    problems = _ref_describe("funds", client) + [p for c in contacts for p in _ref_describe("members", c)]
    scope_code, name = str(fund.get("scope_code") or ""), str(fund.get("scope_description") or "")[:255]
    if problems:
        return MappedFund(str(fund.get("fund_id")), scope_code, name, None, tuple(problems), held_back)
    desired = DesiredFund(
        fund_id=client.key,
        scope_code=scope_code,
        fields=_ref_fields(client),
        payload_hash=_ref_payload_hash(client, secret),
        contacts=tuple(DesiredContact(c.key, _ref_fields(c), _ref_payload_hash(c, secret)) for c in contacts),
    )
    return MappedFund(client.key, scope_code, name, desired, held_back=held_back)


# --- frozen reference copy: end ---------------------------------------------------------------------

ODD_CHARACTERS = [
    "\x00", "\x07", "\t", "\n", "\r", "\r\n", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f", "\x85", "\x9f",
    "\u2028", "\u2029", "\ud800", "\udfff", "\ufffe", "\uffff", "\u3000", "\xa0", " ", "  ",
]  # fmt: skip
WORDS = [
    "Smith", "O'Brien", "Nguyễn", "Müller", "& Co", "<b>", '"q"', "\\",
    "🦘", "👨‍👩‍👧", "ß", "ǆ", "ﬁ", "Level 3",
]  # fmt: skip
DIGITS = [
    "123 456 782", "123-456-782", "123456782", "12345678a", "123/456/782", " 004 085 616 ", "51 824 753 556",
    "\uff11\uff12\uff13", "٣٤٥", "--", " - ", "0800", "12\t34", "12\n34", "1 2-3 4",
]  # fmt: skip
NON_TEXT = [800, 1.5, b"bytes", True, decimal.Decimal("1.0"), datetime.date(2024, 1, 2), ["a"], {"a": 1}]


def _text(rng: random.Random) -> str:
    parts = [rng.choice(WORDS + ODD_CHARACTERS + DIGITS) for _ in range(rng.randint(1, 6))]
    return "".join(parts) if rng.random() < 0.5 else " ".join(parts)


def _value(rng: random.Random) -> object:
    roll = rng.random()
    if roll < 0.10:
        return None
    if roll < 0.18:
        return rng.choice(["", " ", "\t\n", "\u3000", "\r\n", "\x00"])
    if roll < 0.25:
        return rng.choice(NON_TEXT)
    if roll < 0.32:
        return rng.choice("AbÉ🦘 \n") * rng.choice(
            [15, 19, 20, 21, 36, 50, 51, 99, 100, 101, 255, 256, 500, 501]
        )
    if roll < 0.50:
        return rng.choice(DIGITS)
    if roll < 0.60:
        return rng.choice(WORDS)
    return _text(rng)


def _row(rng: random.Random, mapping: Mapping) -> dict[str, object]:
    columns = {mapping.key} | {column for spec in mapping.fields.values() for column in spec.columns}
    row: dict[str, object] = {column: _value(rng) for column in sorted(columns)}
    row[mapping.key] = (
        rng.choice(["k-1", "k-2", " k 3 ", 7, None, "", "  ", "\t"]) if rng.random() < 0.2 else "k-0"
    )
    for column in list(row):
        if rng.random() < 0.03:
            del row[column]
    return row


def _variant(base: Mapping, changes: dict[str, dict[str, Any]]) -> Mapping:
    data = base.model_dump(by_alias=True, exclude_none=True)
    for field, spec in changes.items():
        data["fields"][field] = spec
    return Mapping.model_validate(data)


VARIANTS = {
    "client": MAPPINGS.client,
    "contact": MAPPINGS.contact,
    "client, clearing blanks": _variant(
        MAPPINGS.client,
        {
            "Fax": {"from": "fax", "transform": ["strip"], "on_blank": "clear"},
            "Address": {"join": ["physical_address", "physical_city", "physical_state"], "separator": ",\n"},
            "City": {"value": " Darwin\t\x00 "},
            "Region": {"from": "physical_state", "transform": ["upper", "strip", "digits_only"]},
            "TaxNumber": {"from": "tfn", "transform": ["strip"], "sensitive": True, "on_blank": "clear"},
            "Phone": {"from": "phone", "sensitive": True},
            "Email": {"value": ""},
            "WebSite": {"value": "https://example.com.au", "on_blank": "clear"},
        },
    ),
    "contact, joins and constants": _variant(
        MAPPINGS.contact,
        {
            "Name": {
                "join": ["first_name", "last_name", "preferred_name"],
                "transform": ["collapse_whitespace"],
            },
            "Salutation": {"join": ["salutation", "first_name"], "separator": "", "on_blank": "clear"},
            "Mobile": {"from": "mobile", "transform": ["digits_only"], "sensitive": True},
            "Position": {"value": "mem\x85ber\u2028"},
            "IsPrimary": {"value": "  ", "on_blank": "clear"},
        },
    ),
}


def _seen(record: MappedRecord) -> tuple[object, ...]:
    return (
        record.target,
        record.key,
        list(record.values.items()),
        record.values.sensitive,
        record.kept_blank,
        record.problems,
    )


def _hashed(function: Any, record: MappedRecord) -> object:
    try:
        return function(record, SECRET)
    except (ValueError, UnicodeEncodeError) as error:
        return type(error).__name__


@pytest.mark.parametrize("name", list(VARIANTS))
def test_map_row_matches_the_reference_on_randomized_rows(name):
    mapping, rng = VARIANTS[name], random.Random(name)
    for _ in range(2_500):
        row = _row(rng, mapping)
        fast, reference = map_row(mapping, row), _ref_map_row(mapping, row)
        assert _seen(fast) == _seen(reference), row
        assert hash_input(fast, SECRET) == _ref_hash_input(reference, SECRET)
        assert payload_hash(fast, SECRET) == _ref_payload_hash(reference, SECRET)


PROBLEM_KINDS = [
    r"the row has no \w+",
    r"control characters removed",
    r"column '\w+' is missing from the source row",
    r"column '\w+' should hold text, not \w+",
    r"is \d+ characters; XPM \w+ takes at most \d+",
    r"XPM requires Name and the source is blank",
    r"digits_only: must hold only digits, spaces and hyphens",
]


def test_the_randomized_rows_reach_every_kind_of_problem():
    rng, reasons = random.Random("coverage"), set()
    for _ in range(1_000):
        for mapping in VARIANTS.values():
            reasons |= {problem.reason for problem in map_row(mapping, _row(rng, mapping)).problems}
    assert [kind for kind in PROBLEM_KINDS if not any(re.fullmatch(kind, reason) for reason in reasons)] == []


def test_map_fund_matches_the_reference_on_randomized_funds():
    rng = random.Random("funds")
    for _ in range(1_500):
        fund = _row(rng, MAPPINGS.client) if rng.random() < 0.5 else _clean_row(rng, MAPPINGS.client)
        members = [
            _row(rng, MAPPINGS.contact) if rng.random() < 0.2 else _clean_row(rng, MAPPINGS.contact)
            for _ in range(rng.choice([0, 1, 2, 3, 5]))
        ]
        assert map_fund(fund, members, MAPPINGS, SECRET) == _ref_map_fund(fund, members, MAPPINGS, SECRET)


def _clean_row(rng: random.Random, mapping: Mapping) -> dict[str, object]:
    """A row that maps without errors most of the time, so map_fund's desired side is compared too."""
    columns = {column for spec in mapping.fields.values() for column in spec.columns}
    row: dict[str, object] = {column: rng.choice([None, "", *WORDS]) for column in sorted(columns)}
    for column in ("tfn", "acn", "abn"):
        if column in row:
            row[column] = rng.choice([None, "", "123 456 782", "123-456-782", "51824753556"])
    for column in ("scope_description", "first_name"):
        if column in row:
            row[column] = rng.choice(WORDS) + rng.choice(["", "\t", "\x00", " Fund"])
    return row | {mapping.key: f"k-{rng.randint(0, 999)}", "scope_code": "CODE", "fund_id": "f-1"}


def test_map_fund_compares_desired_funds_not_only_problems():
    rng = random.Random("desired")
    desired = [
        map_fund(_clean_row(rng, MAPPINGS.client), [_clean_row(rng, MAPPINGS.contact)], MAPPINGS, SECRET).ok
        for _ in range(200)
    ]
    assert sum(desired) > 100


def test_hash_input_matches_the_reference_on_arbitrary_values():
    rng = random.Random("hash")
    alphabet = [*WORDS, *ODD_CHARACTERS, *DIGITS, '"', "\\", "/", "\x08", "\u00e9", "\U0001f600", "é"]
    for _ in range(2_000):
        values = {
            rng.choice(["Name", "TaxNumber", "Fax", "A", "a", "Z", "é", "\x00", '"', ""]): "".join(
                rng.choice(alphabet) for _ in range(rng.randint(0, 5))
            )
            for _ in range(rng.randint(0, 6))
        }
        sensitive = frozenset(rng.sample(["TaxNumber", "Fax", "Name", "Other"], rng.randint(0, 2)))
        record = MappedRecord(rng.choice(["client", "contact", 'x"\\']), "k", FieldValues(values, sensitive))
        assert _hashed(hash_input, record) == _hashed(_ref_hash_input, record)
        assert _hashed(payload_hash, record) == _hashed(_ref_payload_hash, record)


@pytest.mark.parametrize("secret", [b"", b"short"])
def test_a_short_secret_is_refused_only_where_the_reference_refused_it(secret):
    client = map_row(MAPPINGS.client, {"fund_id": "f-1", "scope_description": "Fund", "tfn": "123 456 782"})
    contact = map_row(MAPPINGS.contact, {"member_id": "m-1", "first_name": "Jane"})
    with pytest.raises(ValueError, match="at least 16 bytes"):
        payload_hash(client, secret)
    assert payload_hash(contact, secret) == _ref_payload_hash(contact, secret)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_map_row_and_payload_hash_match_the_reference_record_and_hash(name):
    mapping, rng = VARIANTS[name], random.Random(f"values {name}")
    for _ in range(1_000):
        row = _row(rng, mapping)
        reference = _ref_map_row(mapping, row)
        record = map_row(mapping, row)
        key, values, problems = record.key, record.values, list(record.problems)
        assert (key, list(values.items()), problems) == (
            reference.key,
            list(reference.values.items()),
            list(reference.problems),
        )
        before = dict(values)
        assert payload_hash(record, SECRET) == _ref_payload_hash(reference, SECRET)
        assert values == before


def _transformed(function: Any, text: str) -> object:
    try:
        return function(text)
    except (TransformProblem, _RefTransformProblem) as problem:
        return str(problem)


@pytest.mark.parametrize("name", list(_REF_TRANSFORMS))
def test_each_transform_matches_the_reference_on_randomized_text(name):
    rng = random.Random(f"transform {name}")
    texts = [_text(rng) for _ in range(3_000)] + [*WORDS, *DIGITS, *ODD_CHARACTERS, "", " a  b\t c "]
    for text in texts:
        assert _transformed(TRANSFORMS[name], text) == _transformed(_REF_TRANSFORMS[name], text), repr(text)
