from __future__ import annotations

import hashlib
import hmac

import pytest

from classxpm.mapping import load_default_mappings, map_row, payload_hash, sensitive_digest
from classxpm.mapping.hashing import hash_input
from classxpm.mapping.records import FieldValues, MappedRecord

MAPPINGS = load_default_mappings()
SECRET = b"0123456789abcdef-test-only-key"
FUND = {
    "fund_id": "f-0001",
    "scope_code": "SMITHSF",
    "scope_description": "O'Brien & Nguyễn Super Fund",
    "physical_address": "Level 3\n12 Smith St",
    "physical_city": "Darwin",
    "physical_state": "NT",
    "physical_postcode": "0800",
    "physical_country": "Australia",
    "postal_address": "PO Box 1",
    "postal_city": "Darwin",
    "postal_state": "NT",
    "postal_postcode": "0801",
    "postal_country": "Australia",
    "phone": "08 8900 0000",
    "fax": "08 8900 0001",
    "tfn": "123 456 782",
    "acn": "004 085 616",
    "abn": "51 824 753 556",
}
TFN_FORMS = ["123456782", "123 456 782", "123-456-782"]


def client_hash(row: dict[str, object], secret: bytes = SECRET) -> str:
    return payload_hash(map_row(MAPPINGS.client, row), secret)


def test_digest_is_pinned_so_it_is_stable_across_runs_and_machines():
    # Computed independently: sha256 of the sorted-key compact JSON of version, target and fields.
    assert client_hash(FUND) == "edfb7d170b8c089a7329705655612bf70970f0892dc3504590436f7c00615f29"


def test_digest_ignores_the_order_of_columns_and_fields():
    assert client_hash(dict(reversed(FUND.items()))) == client_hash(FUND)
    forwards = MappedRecord("client", "f-1", FieldValues({"Name": "A", "Phone": "1"}, frozenset()))
    backwards = MappedRecord("client", "f-1", FieldValues({"Phone": "1", "Name": "A"}, frozenset()))
    assert payload_hash(forwards, SECRET) == payload_hash(backwards, SECRET)


@pytest.mark.parametrize("column", [column for column in FUND if column != "fund_id"])
def test_digest_changes_when_any_mapped_column_changes(column):
    changed = dict(
        FUND, **{column: "1" + str(FUND[column])[1:] if column == "tfn" else str(FUND[column]) + "x"}
    )
    if column == "tfn":
        changed["tfn"] = "876 543 210"
    assert client_hash(changed) != client_hash(FUND)


def test_digest_tells_a_cleared_field_from_a_kept_blank_one():
    kept = MappedRecord("client", "f-1", FieldValues({"Name": "A"}, frozenset()), kept_blank=("Fax",))
    cleared = MappedRecord("client", "f-1", FieldValues({"Name": "A", "Fax": ""}, frozenset()))
    assert payload_hash(kept, SECRET) != payload_hash(cleared, SECRET)


def test_digest_does_not_depend_on_the_record_key():
    assert client_hash(dict(FUND, fund_id="f-9999")) == client_hash(FUND)


def test_tfn_formatting_does_not_change_the_digest():
    assert {client_hash(dict(FUND, tfn=form)) for form in TFN_FORMS} == {client_hash(FUND)}


@pytest.mark.parametrize("form", TFN_FORMS)
def test_tfn_is_not_in_the_hash_input_in_any_form(form):
    data = hash_input(map_row(MAPPINGS.client, dict(FUND, tfn=form)), SECRET).decode("utf-8")
    assert '"TaxNumber":"hmac-sha256:' in data
    assert not any(tfn in data for tfn in TFN_FORMS)
    assert "456" not in data


def test_the_tfn_cannot_be_recovered_without_the_secret():
    # Trying all 10^9 TFNs against a digest is useless without the key: one TFN under another key differs.
    assert client_hash(FUND, b"another-key-of-16-bytes") != client_hash(FUND)
    assert sensitive_digest("123456782", SECRET) != sensitive_digest("123456782", b"another-key-of-16-bytes")


def test_sensitive_digest_is_an_hmac_of_the_normalised_value():
    expected = hmac.new(SECRET, b"123456782", hashlib.sha256).hexdigest()
    assert sensitive_digest("123 456-782", SECRET) == f"hmac-sha256:{expected}"


@pytest.mark.parametrize("secret", [b"", b"short"])
def test_a_short_secret_is_refused(secret):
    with pytest.raises(ValueError, match="at least 16 bytes"):
        client_hash(FUND, secret)


def test_contacts_hash_too():
    member = {"member_id": "m-1", "first_name": "Jane", "last_name": "Smith"}
    first = payload_hash(map_row(MAPPINGS.contact, member), SECRET)
    assert first == payload_hash(map_row(MAPPINGS.contact, dict(member)), SECRET)
    assert first != payload_hash(map_row(MAPPINGS.contact, dict(member, last_name="Smyth")), SECRET)
