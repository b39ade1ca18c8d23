from __future__ import annotations

import pytest

from classxpm.mapping import load_default_mappings, map_row
from classxpm.mapping.records import FieldValues, MappedRecord, RecordProblem

CLIENT = load_default_mappings().client
TFN_FORMS = ["123456782", "123 456 782", "123-456-782"]


@pytest.mark.parametrize("tfn", TFN_FORMS)
def test_no_repr_of_a_record_shows_the_tfn(tfn):
    record = map_row(CLIENT, {"fund_id": "f-1", "scope_description": "Fund", "tfn": tfn})
    shown = " ".join([repr(record), str(record), repr(record.values), str(record.values)])
    assert record.values["TaxNumber"] == "123456782"
    assert "******782" in shown
    assert not any(form in shown for form in TFN_FORMS)
    assert "123456" not in shown


def test_problem_reasons_never_quote_a_tfn():
    record = map_row(CLIENT, {"fund_id": "f-1", "scope_description": "Fund", "tfn": 123456782})
    tax_problems = [problem for problem in record.problems if problem.field == "TaxNumber"]
    assert tax_problems == [RecordProblem("f-1", "TaxNumber", "column 'tfn' should hold text, not int")]
    assert "456" not in repr(record)


def test_masked_values_are_for_reports():
    values = FieldValues({"Name": "Fund", "TaxNumber": "123456782"}, frozenset({"TaxNumber", "Other"}))
    assert values.masked() == {"Name": "Fund", "TaxNumber": "******782"}
    assert values.sensitive == frozenset({"TaxNumber"})


def test_values_compare_as_a_mapping_and_keep_order():
    values = FieldValues({"B": "2", "A": "1"}, frozenset())
    assert values == {"A": "1", "B": "2"}
    assert list(values) == ["B", "A"]
    assert len(values) == 2


def test_a_record_is_ok_only_without_errors():
    warning = RecordProblem("f-1", "Name", "control characters removed", "warning")
    error = RecordProblem("f-1", "Fax", "is 51 characters; XPM Fax takes at most 50")
    values = FieldValues({}, frozenset())
    assert MappedRecord("client", "f-1", values, problems=(warning,)).ok
    record = MappedRecord("client", "f-1", values, problems=(warning, error))
    assert (record.ok, record.errors) == (False, (error,))
