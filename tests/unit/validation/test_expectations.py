from __future__ import annotations

import json
import random

import great_expectations as gx
import pandas as pd
import pytest

from classxpm.source.demo_data import generate
from classxpm.validation import expectations as ex

TFN_VALID = ["123 456 782", "876 543 210", "37118629", "37118660", "38593474", "85655734", "12345677"]
TFN_INVALID = ["999 999 999", "123 456 789", "000 000 000", "12345678", "12345678a", "1234"]
ABN_VALID = ["51 824 753 556", "83 914 571 673", "53 004 085 616", "43 002 724 334", "33 102 417 032"]
ABN_INVALID = ["99 999 999 999", "51 824 753 557", "00000000000"]
ACN_VALID = ["004 085 616", "010 499 966", "002 724 334", "005 749 986"]
ACN_INVALID = ["999 999 999", "004 085 617", "000000000"]
EMPTY = [None, "", "   "]


# Independent implementations, written from shared/reference/domain.md, not from classxpm.identifiers.
def ref_tfn(value: str) -> bool:
    d = value.replace(" ", "")
    if not d.isdigit() or len(set(d)) == 1:
        return False
    weights = {9: (1, 4, 3, 7, 5, 8, 6, 9, 10), 8: (10, 7, 8, 4, 6, 3, 5, 1)}.get(len(d))
    return weights is not None and sum(int(c) * w for c, w in zip(d, weights, strict=True)) % 11 == 0


def ref_abn(value: str) -> bool:
    d = value.replace(" ", "")
    if len(d) != 11 or not d.isdigit() or len(set(d)) == 1 or d[0] == "0":
        return False
    digits = [int(d[0]) - 1] + [int(c) for c in d[1:]]
    return sum(n * w for n, w in zip(digits, (10, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19), strict=True)) % 89 == 0


def ref_acn(value: str) -> bool:
    d = value.replace(" ", "")
    if len(d) != 9 or not d.isdigit() or len(set(d)) == 1:
        return False
    total = sum(int(c) * w for c, w in zip(d[:8], (8, 7, 6, 5, 4, 3, 2, 1), strict=True))
    return (10 - total % 10) % 10 == int(d[8])


@pytest.fixture(scope="module")
def validate():
    context = gx.get_context(mode="ephemeral")
    batch_def = (
        context.data_sources.add_pandas("t")
        .add_dataframe_asset("a")
        .add_batch_definition_whole_dataframe("b")
    )

    def run(values: list[object], expectation: object, result_format: object = None) -> object:
        frame = pd.DataFrame({"row": [f"r{i}" for i in range(len(values))], "value": values})
        batch = batch_def.get_batch(batch_parameters={"dataframe": frame})
        result_format = result_format or {
            "result_format": "COMPLETE",
            "unexpected_index_column_names": ["row"],
        }
        return batch.validate(expectation, result_format=result_format)

    return run


def failing(result: object, values: list[object]) -> list[object]:
    assert not result.exception_info["raised_exception"], result.exception_info
    rows = {entry["row"] for entry in result.result.get("unexpected_index_list") or []}
    return [value for i, value in enumerate(values) if f"r{i}" in rows]


@pytest.mark.parametrize(
    ("expectation", "valid", "invalid"),
    [
        (ex.ExpectColumnValuesToBeValidAuTfnOrEmpty, TFN_VALID, TFN_INVALID),
        (ex.ExpectColumnValuesToBeValidAbnOrEmpty, ABN_VALID, ABN_INVALID),
        (ex.ExpectColumnValuesToBeValidAcnOrEmpty, ACN_VALID, ACN_INVALID),
    ],
)
def test_domain_vectors_and_empty_values(validate, expectation, valid, invalid):
    values = valid + invalid + EMPTY
    result = validate(values, expectation(column="value"))
    assert not result.success
    assert failing(result, values) == invalid
    assert result.result["unexpected_count"] == len(invalid)


def test_all_valid_or_empty_succeeds(validate):
    values = ["123456782", None, "", "876543210"]
    assert validate(values, ex.ExpectColumnValuesToBeValidAuTfnOrEmpty(column="value")).success


@pytest.mark.parametrize(
    ("expectation", "reference", "length"),
    [
        (ex.ExpectColumnValuesToBeValidAuTfnOrEmpty, ref_tfn, 9),
        (ex.ExpectColumnValuesToBeValidAuTfnOrEmpty, ref_tfn, 8),
        (ex.ExpectColumnValuesToBeValidAbnOrEmpty, ref_abn, 11),
        (ex.ExpectColumnValuesToBeValidAcnOrEmpty, ref_acn, 9),
    ],
)
def test_random_numbers_agree_with_an_independent_implementation(validate, expectation, reference, length):
    rng = random.Random(length * 7919)
    values = [f"{rng.randrange(10**length):0{length}d}" for _ in range(3000)]
    values += [c.funds[i]["tfn"] or "" for c in generate(300, seed=length) for i in range(len(c.funds))]
    expected_failures = [v for v in values if v and not reference(v)]
    assert 0 < len(expected_failures) < len(values)  # both outcomes are exercised
    assert failing(validate(values, expectation(column="value")), values) == expected_failures


@pytest.mark.parametrize(
    "result_format",
    [
        "SUMMARY",
        "COMPLETE",
        {
            "result_format": "COMPLETE",
            "unexpected_index_column_names": ["row"],
            "include_unexpected_rows": True,
        },
    ],
)
def test_tfn_results_never_hold_a_tfn_whatever_the_result_format(validate, result_format):
    values = ["123 456 789", "999999999", "000000000", "123456782"]
    result = validate(values, ex.ExpectColumnValuesToBeValidAuTfnOrEmpty(column="value"), result_format)
    text = json.dumps(result.to_json_dict(), default=str)
    assert result.result["unexpected_count"] == 3
    for tfn in values:
        assert tfn not in text
        assert tfn.replace(" ", "") not in text


def test_abn_results_keep_their_values_for_the_data_team(validate):
    result = validate(["51824753557"], ex.ExpectColumnValuesToBeValidAbnOrEmpty(column="value"), "SUMMARY")
    assert result.result["partial_unexpected_list"] == ["51824753557"]


def test_withhold_values_drops_value_lists_and_the_column_from_index_entries():
    result = {
        "result": {
            "partial_unexpected_list": ["x"],
            "unexpected_list": ["x"],
            "partial_unexpected_counts": [{"value": "x", "count": 1}],
            "unexpected_index_list": [{"row": "r1", "tfn": "x"}],
            "partial_unexpected_index_list": [{"row": "r1", "tfn": "x"}],
            "unexpected_count": 1,
        }
    }
    assert ex.withhold_values(result, "tfn") == {
        "result": {
            "unexpected_index_list": [{"row": "r1"}],
            "partial_unexpected_index_list": [{"row": "r1"}],
            "unexpected_count": 1,
        }
    }
