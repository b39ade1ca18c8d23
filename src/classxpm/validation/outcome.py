"""What the validation gate hands back: quarantined funds, warnings, counts and where the report is.

Light to import (no pandas, no GX) so DAG code and the CLI can use these types. Nothing here ever holds
a TFN: a fund's TFN is described only as absent, valid or invalid.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from classxpm.errors import Fatal

TfnStatus = Literal["absent", "valid", "invalid"]


class ValidationGateError(Fatal):
    """The run as a whole cannot go on; the message is short: counts, what failed, where the report is.

    Attributes:
        problem: What stopped validation, in plain words (no data values).
        funds: How many funds the run received.
        members: How many members the run received.
        report: The summary page saying why, once written.
    """

    def __init__(self, problem: str, funds: int, members: int, report: Path | None = None) -> None:
        where = f"; report: {report}" if report else ""
        super().__init__(
            f"validation stopped, {funds} funds and {members} members not checked: {problem}{where}"
        )
        self.problem = problem
        self.funds = funds
        self.members = members
        self.report = report


@dataclass(frozen=True)
class FundLabel:
    """How a report names a fund: its scope code, its name, and the state of its TFN (never the TFN)."""

    scope_code: str | None
    name: str | None
    tfn: TfnStatus


@dataclass(frozen=True)
class RuleTally:
    """One rule that failed in this run, with how many funds and rows broke it and what to change in Class."""

    name: str
    message: str
    severity: str
    funds: int
    rows: int
    fix: str = ""


@dataclass(frozen=True)
class ReportPaths:
    """Where this run's report files are."""

    folder: Path
    summary: Path
    json: Path
    data_docs: Path | None


@dataclass(frozen=True)
class GateResult:
    """The outcome of validating one run's funds and members.

    Attributes:
        run_id: The run that was validated.
        business_id: The Class business the funds belong to.
        funds_checked: How many funds were validated.
        members_checked: How many members were validated.
        quarantined: Fund id to the blocking rules it broke, in plain words; these funds are not sent.
        warnings: Fund id to its warnings, in plain words; these funds are still sent.
        labels: Scope code, name and TFN state of every fund in ``quarantined`` or ``warnings``.
        failed_rules: Each rule that failed, with its counts, in rule-table order.
        report: The report files, once written.
    """

    run_id: str
    business_id: str
    funds_checked: int
    members_checked: int
    quarantined: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    warnings: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    labels: Mapping[str, FundLabel] = field(default_factory=dict)
    failed_rules: tuple[RuleTally, ...] = ()
    report: ReportPaths | None = None

    @property
    def passed(self) -> int:
        """How many funds broke no blocking rule (warnings allowed)."""
        return self.funds_checked - len(self.quarantined)

    @property
    def with_warnings(self) -> int:
        """How many funds have at least one warning."""
        return len(self.warnings)

    def is_quarantined(self, fund_id: str) -> bool:
        """True when the fund broke a blocking rule and must not be sent this run."""
        return fund_id in self.quarantined

    def with_report(self, report: ReportPaths) -> GateResult:
        """Return a copy that knows where its report was written."""
        return replace(self, report=report)

    def counts(self) -> dict[str, int]:
        """The run's counts, as written to validation.json and printed by ``classxpm report``."""
        return {
            "funds_checked": self.funds_checked,
            "passed": self.passed,
            "quarantined": len(self.quarantined),
            "with_warnings": self.with_warnings,
            "members_checked": self.members_checked,
        }

    def headline(self) -> str:
        """One short line for a task log: counts, the failed blocking rules and where the report is."""
        broken = "; ".join(f"{t.message}: {t.funds}" for t in self.failed_rules if t.severity == "blocking")
        where = f"; report: {self.report.summary}" if self.report else ""
        return (
            f"validated {self.funds_checked} funds: {self.passed} passed, {len(self.quarantined)} "
            f"quarantined{f' ({broken})' if broken else ''}, {self.with_warnings} with warnings{where}"
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready, TFN-free form (also fit for XCom when the run is small)."""
        return {
            "run_id": self.run_id,
            "business_id": self.business_id,
            "counts": self.counts(),
            "failed_rules": [vars(tally) for tally in self.failed_rules],
            "quarantined": [self._fund_entry(fid, rules) for fid, rules in self.quarantined.items()],
            "warnings": [self._fund_entry(fid, found) for fid, found in self.warnings.items()],
        }

    def _fund_entry(self, fund_id: str, messages: tuple[str, ...]) -> dict[str, Any]:
        label = self.labels.get(fund_id, FundLabel(None, None, "absent"))
        return {"fund_id": fund_id, **vars(label), "rules": list(messages)}
