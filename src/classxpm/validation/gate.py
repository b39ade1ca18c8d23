"""The validation gate: run the rules with Great Expectations and quarantine the funds that break them.

Imports GX and pandas: import this module inside tasks only. Each run gets its own ephemeral GX context
whose only Data Docs site is the run's report folder, so nothing is left in /tmp. GX validates views
that hold just the columns the rules name; results identify failing rows by their index columns
(fund id, scope code, member id) and never keep the failing values, so no TFN reaches a GX result.
"""

from __future__ import annotations

import logging
import shutil
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import great_expectations as gx
import pandas as pd
from great_expectations.core import ExpectationSuiteValidationResult, ExpectationValidationResult
from great_expectations.data_context import EphemeralDataContext
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)

import classxpm.validation.expectations  # noqa: F401  (registers the custom expectations)
from classxpm.identifiers import is_valid_tfn, normalise
from classxpm.validation import data_docs, report
from classxpm.validation.outcome import FundLabel, GateResult, RuleTally, TfnStatus, ValidationGateError
from classxpm.validation.rules import (
    RULES,
    Frame,
    Rule,
    Severity,
    Withheld,
    build_view,
    index_columns,
    required_columns,
    rules_for,
)

log = logging.getLogger(__name__)

DOCS_SITE = "classxpm"
RESULT_FORMAT: dict[str, Any] = {
    "result_format": "COMPLETE",  # the full list of failing rows, identified by index columns only
    "exclude_unexpected_values": True,
    "partial_unexpected_count": 0,
    "return_unexpected_index_query": False,
}

Failure = tuple[Rule, dict[str, Any]]


@dataclass(frozen=True)
class _SourceRule:
    """How the report lists the values the extract found against their column's type (not a GX rule)."""

    name: str = "class_value_type"
    summary: str = "a Class value does not have its column's type"
    severity: Severity = Severity.BLOCKING
    fix: str = "correct the value named in Class so it fits its field"


SOURCE_RULE = _SourceRule()


def validate_frames(
    funds: pd.DataFrame,
    members: pd.DataFrame,
    *,
    run_id: str,
    business_id: str,
    reports_dir: str | Path | None = None,
    rules: Iterable[Rule] = RULES,
    source_problems: Mapping[str, Sequence[str]] | None = None,
) -> GateResult:
    """Validate one run's funds and members, write the run's report, and say which funds to hold back.

    Args:
        funds: The Class ``funds`` rows of the run (the source columns of class-schema.sql).
        members: The ``members`` rows of those funds; members of other funds are not checked.
        run_id: The run's identifier (e.g. the Airflow run id).
        business_id: The Class business the funds belong to.
        reports_dir: The reports root; default ``$CLASSXPM_REPORTS_DIR`` or ``$AIRFLOW_HOME/reports``.
        rules: The rules to apply (default: every rule of ``classxpm.validation.rules``).
        source_problems: Fund id → values the extract found against their column's type (named, never
            shown); each such fund is quarantined with them, under the rule ``class_value_type``.

    Returns:
        Per fund, the blocking rules it broke (quarantine) and its warnings, with counts and report paths.

    Raises:
        ValidationGateError: The run as a whole cannot go on (a column the rules need is missing, or a
            rule could not be evaluated); the report folder then holds a summary saying why.
    """
    folder = report.run_folder(report.reports_root(reports_dir), business_id, run_id)
    try:
        outcome = check_frames(
            funds,
            members,
            run_id=run_id,
            business_id=business_id,
            rules=rules,
            docs_dir=folder / report.DATA_DOCS,
            source_problems=source_problems,
        )
    except ValidationGateError as stop:
        raise _stopped(folder, run_id, business_id, stop) from None
    return report.write_report(outcome, folder)


def _stopped(folder: Path, run_id: str, business_id: str, stop: ValidationGateError) -> ValidationGateError:
    """Write the stopped run's report; returns the error to raise, naming the report."""
    paths = report.write_stopped(
        folder,
        run_id=run_id,
        business_id=business_id,
        funds=stop.funds,
        members=stop.members,
        problem=stop.problem,
    )
    return ValidationGateError(stop.problem, stop.funds, stop.members, report=paths.summary)


SHARD_COLUMN = "_run"
"""The column of a shard's combined views saying whose rows they are: the run's position, never an id."""
CROSS_ROW = frozenset({"ExpectColumnValuesToBeUnique"})
"""Expectations comparing rows with each other: in a shard's combined view they compare within a run."""


@dataclass(frozen=True)
class GateInput:
    """One run's frames and identity, for ``validate_shard``."""

    funds: pd.DataFrame
    members: pd.DataFrame
    run_id: str
    business_id: str
    source_problems: Mapping[str, Sequence[str]] | None = None


def validate_shard(
    inputs: Sequence[GateInput], *, reports_dir: str | Path | None = None, rules: Iterable[Rule] = RULES
) -> list[GateResult | ValidationGateError]:
    """Validate several runs in one GX context (one checkpoint per frame), and write each run's report.

    GX's setup costs far more than a few thousand rows do, so a shard of businesses is checked at once:
    each run's rows carry its position (``SHARD_COLUMN``), reported with the failing rows' index columns,
    and the results are split per run; a rule across rows (scope codes unique) compares within a run only.
    A run with quarantined funds is then validated on its own by ``validate_frames``, so its report and
    Data Docs are exactly as a single run's; the other runs' reports are written from the shard's results,
    without Data Docs (they would show only rules passed, or warnings the report lists).

    Returns:
        Per input, in order, its result (with report paths), or the ``ValidationGateError`` that stopped
        it, its stopped report written: a run lacking a column the rules need stops alone; a rule GX
        could not evaluate stops every run of the shard.
    """
    rules = tuple(rules)
    root = report.reports_root(reports_dir)
    folders = [report.run_folder(root, item.business_id, item.run_id) for item in inputs]
    results: list[GateResult | ValidationGateError | None] = [None] * len(inputs)
    members: dict[int, pd.DataFrame] = {}
    for i, item in enumerate(inputs):
        own = _own_members(item.funds, item.members)
        try:
            _require_columns({Frame.FUNDS: item.funds, Frame.MEMBERS: own}, rules)
        except ValidationGateError as stop:
            results[i] = _stopped(folders[i], item.run_id, item.business_id, stop)
            continue
        members[i] = own
    if members:
        frames = {i: {Frame.FUNDS: inputs[i].funds, Frame.MEMBERS: own} for i, own in members.items()}
        views = {
            frame: pd.concat([_tagged(data[frame], frame, i, rules) for i, data in frames.items()])
            for frame in (Frame.FUNDS, Frame.MEMBERS)
        }
        suites = run_suites({frame: view.reset_index(drop=True) for frame, view in views.items()}, rules)
        try:
            _require_evaluated(suites, rules, len(views[Frame.FUNDS]), len(views[Frame.MEMBERS]))
        except ValidationGateError as stop:
            for i in members:
                results[i] = _stopped(folders[i], inputs[i].run_id, inputs[i].business_id, stop)
            return [result for result in results if result is not None]
        by_run: dict[int, list[Failure]] = defaultdict(list)
        for rule, row in failing_rows(suites, rules):
            by_run[int(row.pop(SHARD_COLUMN))].append((rule, row))
        for i, own in members.items():
            results[i] = _one_of_shard(
                inputs[i], own, by_run[i], rules, folder=folders[i], reports_dir=reports_dir
            )
    return [result for result in results if result is not None]


def _own_members(funds: pd.DataFrame, members: pd.DataFrame) -> pd.DataFrame:
    """The members of ``funds`` only: members of other funds are not checked."""
    if "fund_id" in members.columns and "fund_id" in funds.columns:
        return members[members["fund_id"].isin(funds["fund_id"])]
    return members


def _tagged(data: pd.DataFrame, frame: Frame, position: int, rules: tuple[Rule, ...]) -> pd.DataFrame:
    """The run's view, its rows marked with its position, its cross-row columns kept to the run."""
    view = build_view(data, frame, rules)
    view[SHARD_COLUMN] = position
    for rule in rules_for(frame, rules):
        if rule.expectation in CROSS_ROW:
            column = view[rule.column]
            view[rule.column] = column.where(column.isna(), f"{position}\x1f" + column.astype(str))
    return view


def _one_of_shard(
    item: GateInput,
    members: pd.DataFrame,
    failures: list[Failure],
    rules: tuple[Rule, ...],
    *,
    folder: Path,
    reports_dir: str | Path | None,
) -> GateResult | ValidationGateError:
    outcome = collect(
        failures,
        rules,
        item.funds,
        run_id=item.run_id,
        business_id=item.business_id,
        members=members,
        source_problems=item.source_problems,
    )
    if outcome.quarantined:
        try:
            return validate_frames(
                item.funds,
                item.members,
                run_id=item.run_id,
                business_id=item.business_id,
                reports_dir=reports_dir,
                rules=rules,
                source_problems=item.source_problems,
            )
        except ValidationGateError as stop:
            return stop
    shutil.rmtree(folder / report.DATA_DOCS, ignore_errors=True)  # an earlier attempt's, if any
    return report.write_report(outcome, folder)


def check_frames(
    funds: pd.DataFrame,
    members: pd.DataFrame,
    *,
    run_id: str,
    business_id: str,
    rules: Iterable[Rule] = RULES,
    docs_dir: Path | None = None,
    source_problems: Mapping[str, Sequence[str]] | None = None,
) -> GateResult:
    """Validate funds and members with GX and return the result, writing nothing but optional Data Docs.

    Args:
        funds: The Class ``funds`` rows.
        members: The ``members`` rows; only those of funds in ``funds`` are checked.
        run_id: The run's identifier.
        business_id: The Class business.
        rules: The rules to apply.
        docs_dir: Where to build GX Data Docs; None builds none.
        source_problems: Values the extract found against their column's type, by fund id.

    Returns:
        The gate's result, without report paths.

    Raises:
        ValidationGateError: A column the rules need is missing, or a rule could not be evaluated.
    """
    rules = tuple(rules)
    members = _own_members(funds, members)
    frames = {Frame.FUNDS: funds, Frame.MEMBERS: members}
    _require_columns(frames, rules)
    views = {frame: build_view(data, frame, rules) for frame, data in frames.items()}
    results = run_suites(views, rules, docs_dir)
    _require_evaluated(results, rules, len(funds), len(members))
    return collect(
        list(failing_rows(results, rules)),
        rules,
        funds,
        run_id=run_id,
        business_id=business_id,
        members=members,
        source_problems=source_problems,
    )


def _require_columns(frames: Mapping[Frame, pd.DataFrame], rules: tuple[Rule, ...]) -> None:
    gaps = []
    for frame, data in frames.items():
        for column, needing in required_columns(frame, rules).items():
            if column not in data.columns:
                why = ", ".join(rule.name for rule in needing) or "identifies the rows"
                gaps.append(f"{frame} lacks column {column} ({why})")
    if gaps:
        raise ValidationGateError("; ".join(gaps), len(frames[Frame.FUNDS]), len(frames[Frame.MEMBERS]))


def ephemeral_context(docs_dir: Path | None) -> EphemeralDataContext:
    """An in-memory GX context, progress bars off, whose only Data Docs site (if any) is ``docs_dir``."""
    site = {
        "class_name": "SiteBuilder",
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
    }
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        data_docs_sites={DOCS_SITE: site} if docs_dir else {},
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    return gx.get_context(project_config=config, mode="ephemeral")


def run_suites(
    views: Mapping[Frame, pd.DataFrame], rules: tuple[Rule, ...], docs_dir: Path | None = None
) -> dict[Frame, ExpectationSuiteValidationResult]:
    """Validate each view against its frame's rules with one checkpoint each, then build the Data Docs.

    Args:
        views: The frames GX may see, from ``rules.build_view``.
        rules: The rules to apply.
        docs_dir: Where the Data Docs site is written, loading nothing from off the machine
            (``data_docs.make_offline``); None writes none.

    Returns:
        The suite result per frame.
    """
    context = ephemeral_context(docs_dir)
    source = context.data_sources.add_pandas("class")
    results = {frame: _run_suite(context, source, frame, view, rules) for frame, view in views.items()}
    if docs_dir:
        context.build_data_docs(site_names=[DOCS_SITE])
        for reference in data_docs.make_offline(docs_dir):
            log.warning("Data Docs: GX loads %s, which has no local copy; the pages no longer do", reference)
    return results


def _run_suite(
    context: EphemeralDataContext, source: Any, frame: Frame, view: pd.DataFrame, rules: tuple[Rule, ...]
) -> ExpectationSuiteValidationResult:
    batch = source.add_dataframe_asset(frame.value).add_batch_definition_whole_dataframe("run")
    suite = context.suites.add(gx.ExpectationSuite(name=f"class_{frame}"))
    for rule in rules_for(frame, rules):
        suite.add_expectation(rule.build())
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"class_{frame}", data=batch, suite=suite)
    )
    shard = [SHARD_COLUMN] if SHARD_COLUMN in view.columns else []
    result_format = {**RESULT_FORMAT, "unexpected_index_column_names": [*index_columns(frame), *shard]}
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(name=f"class_{frame}", validation_definitions=[definition], result_format=result_format)
    )
    (result,) = checkpoint.run(batch_parameters={"dataframe": view}).run_results.values()
    return result


def _rule_of(result: ExpectationValidationResult, by_name: Mapping[str, Rule]) -> Rule:
    return by_name[result.expectation_config.meta["rule"]]


def _raised(result: ExpectationValidationResult) -> bool:
    info = result.exception_info or {}
    if "raised_exception" in info:
        return bool(info["raised_exception"])
    return any(isinstance(v, dict) and v.get("raised_exception") for v in info.values())


def _require_evaluated(
    results: Mapping[Frame, ExpectationSuiteValidationResult],
    rules: tuple[Rule, ...],
    funds: int,
    members: int,
) -> None:
    by_name = {rule.name: rule for rule in rules}
    broken = [_rule_of(r, by_name).name for suite in results.values() for r in suite.results if _raised(r)]
    if broken:
        problem = f"rules could not be evaluated: {', '.join(broken)} (the Data Docs show the error)"
        raise ValidationGateError(problem, funds, members)


def failing_rows(
    results: Mapping[Frame, ExpectationSuiteValidationResult], rules: tuple[Rule, ...]
) -> Iterator[Failure]:
    """Yield (rule, index columns of the row) for every row that broke a rule."""
    by_name = {rule.name: rule for rule in rules}
    for suite in results.values():
        for result in suite.results:
            if result.success:
                continue
            rule = _rule_of(result, by_name)
            for entry in result.result.get("unexpected_index_list") or []:
                yield from ((rule, row) for row in _rows(entry))


def _rows(entry: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """One row per failing record: GX gives a dict of lists when values are excluded, else one dict."""
    if not all(isinstance(value, list) for value in entry.values()):
        yield entry
        return
    names = list(entry)
    for values in zip(*(entry[name] for name in names), strict=True):
        yield dict(zip(names, values, strict=True))


def collect(
    failures: list[Failure],
    rules: tuple[Rule, ...],
    funds: pd.DataFrame,
    *,
    run_id: str,
    business_id: str,
    members: pd.DataFrame,
    source_problems: Mapping[str, Sequence[str]] | None = None,
) -> GateResult:
    """Turn one run's failing rows into quarantine, warnings and counts per fund.

    Args:
        failures: The run's failing rows (rule, index columns), as ``failing_rows`` yields them.
        rules: The rules that were applied.
        funds: The funds frame, for the values at fault and the scope code, name and TFN state of
            reported funds.
        run_id: The run's identifier.
        business_id: The Class business.
        members: The members that were checked, for the values at fault and the members' names.
        source_problems: Values the extract found against their column's type, by fund id: blocking.

    Returns:
        The gate's result, without report paths.
    """
    found: dict[bool, dict[str, dict[str, None]]] = {True: defaultdict(dict), False: defaultdict(dict)}
    tallies: dict[str, tuple[set[str], list[int]]] = {}
    for fund_id, messages in (source_problems or {}).items():
        found[True][fund_id].update(dict.fromkeys(messages))
        funds_hit, rows_hit = tallies.setdefault(SOURCE_RULE.name, (set(), [0]))
        funds_hit.add(fund_id)
        rows_hit[0] += len(messages)
    rows = SourceRows(funds, members, failures)
    for rule, row in failures:
        found[rule.blocking][row["fund_id"]][rule.describe(rows.of(rule, row))] = None
        funds_hit, rows_hit = tallies.setdefault(rule.name, (set(), [0]))
        funds_hit.add(row["fund_id"])
        rows_hit[0] += 1
    quarantined = {fid: tuple(messages) for fid, messages in found[True].items()}
    warnings = {fid: tuple(messages) for fid, messages in found[False].items()}
    return GateResult(
        run_id=run_id,
        business_id=business_id,
        funds_checked=len(funds),
        members_checked=len(members),
        quarantined=quarantined,
        warnings=warnings,
        labels=fund_labels(funds, quarantined.keys() | warnings.keys()),
        failed_rules=tuple(
            RuleTally(
                r.name, r.summary, r.severity.value, len(tallies[r.name][0]), tallies[r.name][1][0], r.fix
            )
            for r in (SOURCE_RULE, *rules)
            if r.name in tallies
        ),
    )


class SourceRows:
    """The source rows of the failing records, so messages show the values at fault.

    Rules never show the TFN column; a value of another column that holds the digits of any TFN of the
    run (a TFN typed into the ABN or a phone field) is ``Withheld`` as well.
    """

    def __init__(self, funds: pd.DataFrame, members: pd.DataFrame, failures: Sequence[Failure]) -> None:
        wanted = {row["fund_id"] for _, row in failures}
        member_ids = {row["member_id"] for rule, row in failures if rule.frame is Frame.MEMBERS}
        tfns = {digits for value in funds["tfn"] if len(digits := _digits(value)) >= TFN_DIGITS}
        self._funds = _records(funds[funds["fund_id"].isin(wanted)], "fund_id", tfns)
        members = members[members["member_id"].isin(member_ids)] if member_ids else members.iloc[:0]
        self._members = _records(members, "member_id", tfns)

    def of(self, rule: Rule, row: Mapping[str, Any]) -> dict[str, Any]:
        """The failing record's source columns (its index columns when the record is not found)."""
        if rule.frame is Frame.MEMBERS:
            return self._members.get(row["member_id"], dict(row))
        return self._funds.get(row["fund_id"], dict(row))


TFN_DIGITS = 8  # the shortest TFN


def _records(frame: pd.DataFrame, key: str, tfns: set[str]) -> dict[str, dict[str, Any]]:
    """Rows by ``key``: missing values as None, values holding a TFN's digits ``Withheld``."""
    return {
        record[key]: {name: _shown(value, tfns) for name, value in record.items()}
        for record in frame.to_dict("records")
    }


def _shown(value: object, tfns: set[str]) -> object:
    if _missing(value):
        return None
    digits = _digits(value)
    windows = {digits[i : i + n] for n in (8, 9) for i in range(len(digits) - n + 1)}
    return Withheld() if windows & tfns else value


def _digits(value: object) -> str:
    return "" if _missing(value) else "".join(ch for ch in str(value) if ch.isdigit())


def _missing(value: object) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def tfn_status(value: object) -> TfnStatus:
    """Describe a TFN without showing it: absent, valid or invalid."""
    if _missing(value) or normalise(value) == "":
        return "absent"
    return "valid" if is_valid_tfn(value) else "invalid"


def fund_labels(funds: pd.DataFrame, fund_ids: Iterable[str]) -> dict[str, FundLabel]:
    """Scope code, name and TFN state of the given funds, for reports."""
    wanted = funds[funds["fund_id"].isin(set(fund_ids))]
    rows = zip(
        wanted["fund_id"], wanted["scope_code"], wanted["scope_description"], wanted["tfn"], strict=True
    )
    return {fid: FundLabel(_text(code), _text(name), tfn_status(tfn)) for fid, code, name, tfn in rows}


def _text(value: object) -> str | None:
    return None if _missing(value) else str(value)
