"""The Class API source mapping: the shipped file loads, wrong files are refused by key, rows are pure."""

from __future__ import annotations

import pytest
import yaml

from classxpm.mapping import MappingError
from classxpm.mapping.api_source import PROJECT_MAPPINGS_DIR, column_values, load_api_source_mapping

SHIPPED = PROJECT_MAPPINGS_DIR / "class_api.yaml"


def test_the_shipped_mapping_states_every_column_for_both_plans():
    mapping = load_api_source_mapping(SHIPPED)
    assert mapping.default_country == "Australia"
    assert mapping.plans["detail"].fund["fax"] is None


def _broken(tmp_path, change) -> str:
    data = yaml.safe_load(SHIPPED.read_text())
    change(data)
    path = tmp_path / "class_api.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


@pytest.mark.parametrize(
    ("change", "where", "reason"),
    [
        (lambda d: d["plans"]["export"]["fund"].pop("phone"), "plans.export", "phone not stated"),
        (lambda d: d["plans"]["export"]["fund"].update(colour="Name"), "plans.export", "colour not a column"),
        (lambda d: d["plans"]["detail"]["member"].update(member_id=None), "plans.detail", "id column"),
        (lambda d: d["plans"].pop("detail"), "(file)", "both export and detail"),
        (lambda d: d.update(default_country=""), "default_country", "at least 1 character"),
        (lambda d: d["plans"]["export"]["fund"].update(tfn={"digits": "TFN"}), "plans.export.fund.tfn", ""),
    ],
)
def test_a_wrong_mapping_is_refused_naming_file_key_and_reason(tmp_path, change, where, reason):
    path = _broken(tmp_path, change)
    with pytest.raises(MappingError) as error:
        load_api_source_mapping(path)
    message = str(error.value)
    assert message.startswith(path)
    assert where in message
    assert reason in message


def test_a_row_takes_lines_the_default_country_and_refuses_objects_for_text():
    mapping = load_api_source_mapping(SHIPPED)
    document = {
        "Summary": {"Link": {"Id": "f-1"}, "Code": "F1"},
        "Export": {
            "Name": {"not": "text"},
            "PhysicalAddress": {"Line1": "Level 2", "Line2": "1 George St", "Line3": "", "Suburb": "Sydney"},
            "MailingAddress": None,
            "TFN": 123456782,
        },
    }
    odd: list[str] = []
    row = column_values(mapping.plans["export"].fund, document, "Australia", odd)
    assert row["physical_address"] == "Level 2\n1 George St"
    assert (row["physical_country"], row["postal_country"]) == ("Australia", None)
    assert row["tfn"] == "123456782"
    assert row["scope_description"] is None
    assert odd == ["scope_description"]
