from __future__ import annotations

from classxpm.mapping import Mapping, column_lineage, load_default_mappings
from classxpm.source import schema

MAPPINGS = load_default_mappings()


def test_client_lineage_is_the_seed_table():
    assert column_lineage(MAPPINGS.client) == {
        "Name": ["scope_description"],
        "Address": ["physical_address"],
        "City": ["physical_city"],
        "Region": ["physical_state"],
        "PostCode": ["physical_postcode"],
        "Country": ["physical_country"],
        "PostalAddress": ["postal_address"],
        "PostalCity": ["postal_city"],
        "PostalRegion": ["postal_state"],
        "PostalPostCode": ["postal_postcode"],
        "PostalCountry": ["postal_country"],
        "Phone": ["phone"],
        "Fax": ["fax"],
        "ExportCode": ["scope_code"],
        "TaxNumber": ["tfn"],
        "CompanyNumber": ["acn"],
        "BusinessNumber": ["abn"],
    }


def test_contact_lineage_joins_names_and_has_no_column_for_the_constant():
    assert column_lineage(MAPPINGS.contact) == {
        "Name": ["first_name", "last_name"],
        "Salutation": ["salutation"],
        "Addressee": ["preferred_name"],
        "Mobile": ["mobile"],
        "Email": ["email"],
        "Phone": ["direct_phone"],
        "Position": [],
    }


def test_every_lineage_column_is_a_column_of_the_source_table():
    for mapping, table in ((MAPPINGS.client, schema.funds), (MAPPINGS.contact, schema.members)):
        columns = {column for sources in column_lineage(mapping).values() for column in sources}
        assert columns <= set(schema.column_names(table))


def test_lineage_follows_the_mapping_it_is_given():
    mapping = Mapping.model_validate(
        {
            "source_table": "funds",
            "target": "client",
            "key": "fund_id",
            "fields": {
                "ExportCode": {"from": "scope_code"},
                "Name": {"join": ["scope_code", "scope_description"]},
            },
        }
    )
    assert column_lineage(mapping) == {
        "ExportCode": ["scope_code"],
        "Name": ["scope_code", "scope_description"],
    }
