"""Named Great Expectations 1.x expectations for Australian identifiers (TFN, ABN, ACN).

Importing this module registers the metrics and expectations with GX. It imports GX, which takes seconds,
so import it only inside tasks. The check digits themselves live in ``classxpm.identifiers``: the metric
providers call those functions and never re-implement them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import pandas as pd
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import ColumnMapExpectation
from great_expectations.expectations.metrics import ColumnMapMetricProvider, column_condition_partial

from classxpm.identifiers import is_valid_abn, is_valid_acn, is_valid_tfn, normalise

_VALUE_KEYS = ("partial_unexpected_list", "partial_unexpected_counts", "unexpected_list", "unexpected_rows")


def valid_or_empty(check: Callable[[object], bool]) -> Callable[[object], bool]:
    """Wrap an identifier check so that a blank value (after removing spaces and hyphens) passes.

    Args:
        check: One of the ``classxpm.identifiers`` check-digit functions.

    Returns:
        A predicate that is True for blank values and for values ``check`` accepts.
    """

    def predicate(value: object) -> bool:
        return check(value) or normalise(value) == ""

    return predicate


_TFN_OK = valid_or_empty(is_valid_tfn)
_ABN_OK = valid_or_empty(is_valid_abn)
_ACN_OK = valid_or_empty(is_valid_acn)


class ColumnValuesValidAuTfnOrEmpty(ColumnMapMetricProvider):
    """Row condition: the TFN is empty or passes its check digit."""

    condition_metric_name = "column_values.valid_au_tfn_or_empty"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, **kwargs: Any) -> pd.Series:
        return column.map(_TFN_OK).astype(bool)


class ColumnValuesValidAbnOrEmpty(ColumnMapMetricProvider):
    """Row condition: the ABN is empty or passes its check digit."""

    condition_metric_name = "column_values.valid_abn_or_empty"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, **kwargs: Any) -> pd.Series:
        return column.map(_ABN_OK).astype(bool)


class ColumnValuesValidAcnOrEmpty(ColumnMapMetricProvider):
    """Row condition: the ACN is empty or passes its check digit."""

    condition_metric_name = "column_values.valid_acn_or_empty"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, **kwargs: Any) -> pd.Series:
        return column.map(_ACN_OK).astype(bool)


def withhold_values(result: dict[str, Any], column: str) -> dict[str, Any]:
    """Drop every sample of the column's values from a map expectation's result, keeping the counts.

    GX copies failing values into ``partial_unexpected_list``, ``unexpected_list`` and, with index
    columns, into each entry of ``unexpected_index_list``; from there they reach stores and Data Docs.

    Args:
        result: The dict a ColumnMapExpectation's ``_validate`` returns.
        column: The column whose values must not be kept.

    Returns:
        The same dict, with value lists removed and the column dropped from index entries.
    """
    details = result.get("result") or {}
    for key in _VALUE_KEYS:
        details.pop(key, None)
    for key in ("unexpected_index_list", "partial_unexpected_index_list"):
        entries = details.get(key)
        if entries and isinstance(entries[0], dict):
            details[key] = [{k: v for k, v in entry.items() if k != column} for entry in entries]
    return result


class ExpectColumnValuesToBeValidAuTfnOrEmpty(ColumnMapExpectation):
    """Expect each value to be an Australian Tax File Number with a valid check digit, or empty.

    TFNs are protected data: whatever result format the run asks for, the result keeps counts and
    index columns only, never a TFN.
    """

    description: str | None = "values must be Australian TFNs with a valid check digit, or empty"
    map_metric = "column_values.valid_au_tfn_or_empty"
    success_keys = ("mostly",)
    library_metadata: ClassVar[dict[str, Any]] = {"tags": ["au", "checksum", "tfn"], "contributors": []}

    def _validate(
        self, metrics: dict, runtime_configuration: dict | None = None, execution_engine: Any = None
    ) -> dict[str, Any]:
        result = super()._validate(metrics, runtime_configuration, execution_engine)
        return withhold_values(result, self.column)


class ExpectColumnValuesToBeValidAbnOrEmpty(ColumnMapExpectation):
    """Expect each value to be an Australian Business Number with a valid check digit, or empty."""

    description: str | None = "values must be ABNs with a valid check digit, or empty"
    map_metric = "column_values.valid_abn_or_empty"
    success_keys = ("mostly",)
    library_metadata: ClassVar[dict[str, Any]] = {"tags": ["au", "checksum", "abn"], "contributors": []}


class ExpectColumnValuesToBeValidAcnOrEmpty(ColumnMapExpectation):
    """Expect each value to be an Australian Company Number with a valid check digit, or empty."""

    description: str | None = "values must be ACNs with a valid check digit, or empty"
    map_metric = "column_values.valid_acn_or_empty"
    success_keys = ("mostly",)
    library_metadata: ClassVar[dict[str, Any]] = {"tags": ["au", "checksum", "acn"], "contributors": []}
