"""Payload hashes pinned to literal digests computed before mapping was made faster.

Stored hashes decide whether a fund is re-pushed: if one byte of the canonical JSON changed, every fund
of every business would look changed and be sent again. These literals were printed by the
implementation of HASH_VERSION 1 as it stood before the compiled mapping plans; they must never be
recomputed to make a test pass.
"""

from __future__ import annotations

from classxpm.mapping import load_default_mappings, map_row, payload_hash
from classxpm.mapping.hashing import HASH_VERSION, hash_input
from classxpm.mapping.records import FieldValues, MappedRecord

MAPPINGS = load_default_mappings()
SECRET = b"0123456789abcdef-test-only-key"
MEMBER = {
    "member_id": "m-0001",
    "fund_id": "f-0001",
    "first_name": " Zoë ",
    "last_name": "O'Brien-Nguyễn",
    "salutation": "Dr",
    "preferred_name": None,
    "mobile": "0400\t000 000",
    "email": 'a"b\\c@example.com.au',
    "direct_phone": "   ",
}


def test_the_hash_version_is_still_one():
    assert HASH_VERSION == 1


def test_a_mapped_contact_hashes_to_its_pinned_bytes_and_digest():
    record = map_row(MAPPINGS.contact, MEMBER)
    assert hash_input(record, SECRET) == (
        b'{"fields":{"Email":"a\\"b\\\\c@example.com.au","Mobile":"0400 000 000",'
        b'"Name":"Zo\xc3\xab O\'Brien-Nguy\xe1\xbb\x85n","Position":"member","Salutation":"Dr"},'
        b'"target":"contact","version":1}'
    )
    assert payload_hash(record, SECRET) == "1146e109e691fe12e57b1f217cebfcbf5c3bcd036d0683a3600ab79ed81eada0"


def test_values_json_must_escape_hash_to_their_pinned_bytes_and_digest():
    values = {
        "Name": "Fund 🦘 \u2028\x7f",
        "Fax": "",
        "Address": 'a\nb\r\t\x00\x1f"\\/',
        "TaxNumber": "123-456 782",
        "ZZ": "z",
        "AA": "é",
    }
    record = MappedRecord(
        "client", "f-9", FieldValues(values, frozenset({"TaxNumber"})), kept_blank=("Phone",)
    )
    assert hash_input(record, SECRET) == (
        b'{"fields":{"AA":"\xc3\xa9","Address":"a\\nb\\r\\t\\u0000\\u001f\\"\\\\/","Fax":"",'
        b'"Name":"Fund \xf0\x9f\xa6\x98 \xe2\x80\xa8\x7f",'
        b'"TaxNumber":"hmac-sha256:c52b564fa01f37f1e499e6dc889a0e71fda32a3678d6c47c83aa7a9f26b2bf16",'
        b'"ZZ":"z"},"target":"client","version":1}'
    )
    assert payload_hash(record, SECRET) == "34442afc98ddfb7dfb064cc1b7246d3d4cf2dc4d5a8b3955da8873d190e64941"


def test_a_record_without_values_hashes_to_its_pinned_digest():
    record = MappedRecord("contact", "", FieldValues({}, frozenset({"TaxNumber"})))
    assert hash_input(record, SECRET) == b'{"fields":{},"target":"contact","version":1}'
    assert payload_hash(record, SECRET) == "f5262729aa42a3f2221df92661ebbd025a19747d3abb8b463160104d7eb45856"
