from __future__ import annotations

from typing import get_args

import pytest
from pydantic import ValidationError

from classxpm.mapping.models import ELEMENTS, SOURCE_TABLES, FieldMapping, Mapping, Transform
from classxpm.mapping.transforms import TRANSFORMS
from classxpm.source import schema

CLIENT_REQUEST_ELEMENTS = [
    "Name",
    "Email",
    "Address",
    "City",
    "Region",
    "PostCode",
    "Country",
    "PostalAddress",
    "PostalCity",
    "PostalRegion",
    "PostalPostCode",
    "PostalCountry",
    "Phone",
    "Fax",
    "WebSite",
    "ReferralSource",
    "ExportCode",
    "AccountManagerUUID",
    "BillingClientUUID",
    "FirstName",
    "LastName",
    "OtherName",
    "DateOfBirth",
    "JobManagerUUID",
    "TaxNumber",
    "CompanyNumber",
    "BusinessNumber",
    "BusinessStructure",
    "BalanceMonth",
    "PrepareGST",
    "GSTRegistered",
    "GSTPeriod",
    "GSTBasis",
    "PrepareActivityStatement",
    "PrepareTaxReturn",
]
CONTACT_REQUEST_ELEMENTS = [
    "Name",
    "Salutation",
    "Addressee",
    "Mobile",
    "Email",
    "Phone",
    "Position",
    "IsPrimary",
]


def client(**fields: dict) -> dict:
    return {"source_table": "funds", "target": "client", "key": "fund_id", "fields": fields}


def locations(error: ValidationError) -> dict[tuple, str]:
    return {detail["loc"]: detail["msg"] for detail in error.value.errors()}


def test_known_elements_are_the_writable_scalars_of_the_xpm_reference():
    assert sorted(ELEMENTS["client"]) == sorted(CLIENT_REQUEST_ELEMENTS)
    assert sorted(ELEMENTS["contact"]) == sorted(CONTACT_REQUEST_ELEMENTS)


def test_every_named_transform_has_an_implementation():
    assert set(get_args(Transform)) == set(TRANSFORMS)


def test_source_tables_are_the_class_contract_tables():
    assert SOURCE_TABLES["funds"] is schema.funds
    assert SOURCE_TABLES["members"] is schema.members


def test_valid_mapping_keeps_file_order_and_defaults():
    mapping = Mapping.model_validate(
        client(ExportCode={"from": "scope_code"}, Name={"from": "scope_description", "transform": "strip"})
    )
    assert list(mapping.fields) == ["ExportCode", "Name"]
    name = mapping.fields["Name"]
    assert (name.from_, name.transform, name.on_blank, name.sensitive) == (
        "scope_description",
        ("strip",),
        "keep",
        False,
    )


@pytest.mark.parametrize(
    ("spec", "columns"),
    [
        ({"from": "email"}, ("email",)),
        ({"join": ["first_name", "last_name"]}, ("first_name", "last_name")),
        ({"value": "member"}, ()),
    ],
)
def test_field_columns_follow_its_source(spec, columns):
    assert FieldMapping.model_validate(spec).columns == columns


@pytest.mark.parametrize(
    "spec",
    [{}, {"from": "email", "value": "x"}, {"from": "email", "join": ["first_name", "last_name"]}],
)
def test_field_needs_exactly_one_source(spec):
    with pytest.raises(ValidationError, match="give exactly one of from, join or value"):
        FieldMapping.model_validate(spec)


def test_join_needs_two_columns():
    with pytest.raises(ValidationError, match="at least 2"):
        FieldMapping.model_validate({"join": ["first_name"]})


def test_element_must_belong_to_the_target():
    with pytest.raises(ValidationError) as error:
        Mapping.model_validate(client(Name={"from": "scope_description"}, Salutation={"from": "phone"}))
    assert locations(error) == {("fields", "Salutation"): "'Salutation' is not an XPM client element"}


def test_columns_must_exist_in_the_source_table():
    data = client(Name={"join": ["scope_description", "first_name"]}, Phone={"from": "mobile"})
    data["key"] = "member_id"
    with pytest.raises(ValidationError) as error:
        Mapping.model_validate(data)
    assert locations(error) == {
        ("key",): "funds has no column 'member_id'",
        ("fields", "Name", "join", 1): "funds has no column 'first_name'",
        ("fields", "Phone", "from"): "funds has no column 'mobile'",
    }


def test_name_is_required_because_xpm_requires_it():
    with pytest.raises(ValidationError) as error:
        Mapping.model_validate(client(ExportCode={"from": "scope_code"}))
    assert locations(error) == {("fields", "Name"): "XPM requires Name: map it"}


def test_tax_number_must_be_marked_sensitive():
    with pytest.raises(ValidationError) as error:
        Mapping.model_validate(client(Name={"from": "scope_description"}, TaxNumber={"from": "tfn"}))
    assert locations(error) == {
        ("fields", "TaxNumber", "sensitive"): "TaxNumber holds a tax file number: set sensitive: true"
    }


@pytest.mark.parametrize(
    ("spec", "loc"),
    [
        ({"from": "scope_description", "sensitive": "yes"}, ("fields", "Name", "sensitive")),
        ({"from": 5}, ("fields", "Name", "from")),
        ({"from": "scope_description", "on_blank": "wipe"}, ("fields", "Name", "on_blank")),
        ({"from": "scope_description", "transform": ["uppr"]}, ("fields", "Name", "transform", 0)),
        ({"from": "scope_description", "colour": "red"}, ("fields", "Name", "colour")),
    ],
)
def test_structure_errors_point_at_their_key(spec, loc):
    with pytest.raises(ValidationError) as error:
        Mapping.model_validate(client(Name=spec))
    assert list(locations(error)) == [loc]


def test_models_are_frozen():
    mapping = Mapping.model_validate(client(Name={"from": "scope_description"}))
    with pytest.raises(ValidationError):
        mapping.key = "abn"
