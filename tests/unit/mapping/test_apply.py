from __future__ import annotations

import pytest

from classxpm.mapping import Mapping, RecordProblem, load_default_mappings, map_row

MAPPINGS = load_default_mappings()
CLIENT, CONTACT = MAPPINGS.client, MAPPINGS.contact
TFN = "123 456 782"


def fund_row(**changes: object) -> dict[str, object]:
    row = {
        "fund_id": "f-0001",
        "business_id": "b-1",
        "scope_code": "SMITHSF",
        "scope_description": "Smith Family Super Fund",
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
        "tfn": TFN,
        "acn": "004 085 616",
        "abn": "51 824 753 556",
    }
    return row | changes


def member_row(**changes: object) -> dict[str, object]:
    row = {
        "member_id": "m-0001",
        "fund_id": "f-0001",
        "first_name": "Jane",
        "last_name": "Smith",
        "salutation": "Mrs",
        "preferred_name": "Janey",
        "mobile": "0400 000 000",
        "email": "jane@example.com.au",
        "direct_phone": "02 9000 0000",
    }
    return row | changes


def problems(record) -> list[tuple[str, str, str]]:
    return [(problem.field, problem.reason, problem.severity) for problem in record.problems]


def test_fund_maps_to_every_client_field_of_the_seed_in_order():
    record = map_row(CLIENT, fund_row())
    assert (record.target, record.key, record.ok, record.problems, record.kept_blank) == (
        "client",
        "f-0001",
        True,
        (),
        (),
    )
    assert list(record.values.items()) == [
        ("Name", "Smith Family Super Fund"),
        ("Address", "Level 3\n12 Smith St"),
        ("City", "Darwin"),
        ("Region", "NT"),
        ("PostCode", "0800"),
        ("Country", "Australia"),
        ("PostalAddress", "PO Box 1"),
        ("PostalCity", "Darwin"),
        ("PostalRegion", "NT"),
        ("PostalPostCode", "0801"),
        ("PostalCountry", "Australia"),
        ("Phone", "08 8900 0000"),
        ("Fax", "08 8900 0001"),
        ("ExportCode", "SMITHSF"),
        ("TaxNumber", "123456782"),
        ("CompanyNumber", "004085616"),
        ("BusinessNumber", "51824753556"),
    ]


def test_member_maps_to_every_contact_field_of_the_seed():
    record = map_row(CONTACT, member_row())
    assert record.ok
    assert dict(record.values) == {
        "Name": "Jane Smith",
        "Salutation": "Mrs",
        "Addressee": "Janey",
        "Mobile": "0400 000 000",
        "Email": "jane@example.com.au",
        "Phone": "02 9000 0000",
        "Position": "member",
    }


@pytest.mark.parametrize(
    "name",
    [
        "O'Brien & Nguyễn Super Fund",
        'Smith <Family> "Trust" Super Fund',
        "Müller-Łukasiewicz \uff33\uff2d\uff33\uff26",
        "Roo 🦘 Family Super Fund 👨‍👩‍👧",
    ],
)
def test_text_passes_through_unchanged(name):
    record = map_row(CLIENT, fund_row(scope_description=name))
    assert record.values["Name"] == name
    assert record.problems == ()


def test_state_codes_are_upper_cased_and_trimmed():
    record = map_row(CLIENT, fund_row(physical_state=" nt ", postal_state="Qld"))
    assert (record.values["Region"], record.values["PostalRegion"]) == ("NT", "QLD")


def test_multi_line_addresses_keep_their_lines_and_lose_stray_spacing():
    address = "  Unit 4\r\n   12   Smith   St  \r\n\r\nBuilding\tB\n"
    record = map_row(CLIENT, fund_row(physical_address=address, postal_address="PO Box 9\rDarwin"))
    assert record.values["Address"] == "Unit 4\n12 Smith St\nBuilding B"
    assert record.values["PostalAddress"] == "PO Box 9\nDarwin"
    assert problems(record) == [
        ("Address", "control characters removed", "warning"),
        ("PostalAddress", "control characters removed", "warning"),
    ]


def test_line_breaks_are_plain_crlf_addresses_without_warning():
    record = map_row(CLIENT, fund_row(physical_address="Unit 4\r\n12 Smith St"))
    assert (record.values["Address"], record.problems) == ("Unit 4\n12 Smith St", ())


def test_control_characters_are_removed_and_reported_as_a_warning():
    record = map_row(
        CLIENT, fund_row(scope_description="Smith\x00 Family\x1b\x7f Super\nFund\u0085", fax="\x07")
    )
    assert record.values["Name"] == "Smith Family Super Fund"
    assert "Fax" not in record.values
    assert record.kept_blank == ("Fax",)
    assert problems(record) == [
        ("Name", "control characters removed", "warning"),
        ("Fax", "control characters removed", "warning"),
    ]
    assert record.ok


def test_characters_xml_cannot_carry_are_removed():
    record = map_row(CLIENT, fund_row(scope_description="Smith\ud800 Fund\ufffe\uffff"))
    assert record.values["Name"] == "Smith Fund"
    assert record.ok


def test_postcodes_stay_text_with_their_leading_zero():
    record = map_row(CLIENT, fund_row(physical_postcode="0800", postal_postcode=" 0872 "))
    assert (record.values["PostCode"], record.values["PostalPostCode"]) == ("0800", "0872")


def test_a_postcode_read_as_a_number_is_a_problem_not_a_guess():
    record = map_row(CLIENT, fund_row(physical_postcode=800))
    assert "PostCode" not in record.values
    assert problems(record) == [("PostCode", "column 'physical_postcode' should hold text, not int", "error")]
    assert not record.ok


@pytest.mark.parametrize("blank", [None, "", "   ", "\t\n"])
def test_blank_source_leaves_xpm_alone_by_default(blank):
    record = map_row(CLIENT, fund_row(fax=blank, phone=blank, tfn=blank))
    assert not {"Fax", "Phone", "TaxNumber"} & set(record.values)
    assert record.kept_blank == ("Phone", "Fax", "TaxNumber")
    assert record.ok


def test_blank_source_clears_xpm_when_the_mapping_says_clear():
    data = CLIENT.model_dump(by_alias=True)
    data["fields"]["Fax"]["on_blank"] = "clear"
    clearing = Mapping.model_validate(data)
    record = map_row(clearing, fund_row(fax=None, phone=None))
    assert record.values["Fax"] == ""
    assert "Phone" not in record.values
    assert record.kept_blank == ("Phone",)
    assert record.ok


def test_blank_name_is_an_error_because_xpm_requires_it():
    record = map_row(CLIENT, fund_row(scope_description="  "))
    assert problems(record) == [("Name", "XPM requires Name and the source is blank", "error")]
    assert not record.ok


def test_a_ten_thousand_character_name_is_a_record_problem():
    record = map_row(CLIENT, fund_row(scope_description="A" * 10_000))
    assert record.problems == (
        RecordProblem("f-0001", "Name", "is 10000 characters; XPM Name takes at most 255", "error"),
    )
    assert "Name" not in record.values
    assert record.values["ExportCode"] == "SMITHSF"


def test_one_bad_record_never_stops_the_others():
    rows = [
        fund_row(fund_id="f-1"),
        fund_row(fund_id="f-2", scope_description="B" * 10_000, abn=51824753556),
        {"fund_id": "f-3"},
        fund_row(fund_id="f-4", scope_description="O'Brien & Nguyễn Super Fund"),
    ]
    records = [map_row(CLIENT, row) for row in rows]
    assert [record.ok for record in records] == [True, False, False, True]
    assert [problem.field for problem in records[1].problems] == ["Name", "BusinessNumber"]
    assert len(records[2].errors) == len(CLIENT.fields)
    assert records[3].values["Name"] == "O'Brien & Nguyễn Super Fund"


def test_missing_columns_are_named_in_the_problem():
    row = fund_row()
    del row["physical_city"]
    record = map_row(CLIENT, row)
    assert problems(record) == [("City", "column 'physical_city' is missing from the source row", "error")]


def test_a_row_without_its_key_is_reported_against_the_key_column():
    record = map_row(CLIENT, fund_row(fund_id=None))
    assert record.key == ""
    assert problems(record) == [("fund_id", "the row has no fund_id", "error")]


@pytest.mark.parametrize("tfn", ["12345678a", "123/456/782"])
def test_a_tfn_with_stray_characters_is_a_problem_that_never_quotes_it(tfn):
    record = map_row(CLIENT, fund_row(tfn=tfn))
    assert problems(record) == [
        ("TaxNumber", "digits_only: must hold only digits, spaces and hyphens", "error")
    ]


def test_contact_name_joins_only_the_names_given():
    assert map_row(CONTACT, member_row(first_name=" Jane ", last_name=None)).values["Name"] == "Jane"
    assert map_row(CONTACT, member_row(first_name="", last_name="O'Brien")).values["Name"] == "O'Brien"
    record = map_row(CONTACT, member_row(first_name=None, last_name=" "))
    assert problems(record) == [("Name", "XPM requires Name and the source is blank", "error")]


def test_position_is_always_member():
    record = map_row(CONTACT, member_row(salutation=None, preferred_name=None, mobile=None))
    assert record.values["Position"] == "member"
    assert record.kept_blank == ("Salutation", "Addressee", "Mobile")


def test_mapping_is_pure():
    row = fund_row(scope_description="  Smith Fund  ")
    before = dict(row)
    assert map_row(CLIENT, row) == map_row(CLIENT, row)
    assert row == before
