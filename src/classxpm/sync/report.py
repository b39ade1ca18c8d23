"""The run summary: counts by outcome, API calls, duration; as a log line, a JSON file and a note."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

COUNTED = (
    "created",
    "linked",
    "updated",
    "unchanged",
    "quarantined",
    "failed",
    "needs_review",
    "deferred",
    "skipped",
)


@dataclass(frozen=True)
class SyncReport:
    """What one run did, TFN-free."""

    run_id: str
    business_id: str
    tenant_id: str
    mode: str
    sync_mode: str
    dry_run: bool
    counts: dict[str, int]
    api_calls: int
    duration_seconds: float
    problems: list[dict[str, str]] = field(default_factory=list)
    diff: list[dict] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    """What the data team should know of the run as a whole (a re-authorisation to another account)."""
    report_path: str = ""
    unmatched_fund_codes: list[str] = field(default_factory=list)
    """Codes the run was asked for in ``fund_codes`` that match no Class fund."""

    @property
    def failed(self) -> int:
        """How many funds failed."""
        return self.counts.get("failed", 0)

    def summary_line(self) -> str:
        """One line for the log and the DAG run's note."""
        counted = ", ".join(f"{self.counts.get(key, 0)} {key.replace('_', '-')}" for key in COUNTED)
        prefix = "DRY RUN (nothing written): " if self.dry_run else ""
        line = f"{prefix}{counted}; {self.api_calls} API calls in {self.duration_seconds:.1f}s"
        if self.unmatched_fund_codes:
            line += f"; fund_codes matching no fund: {', '.join(self.unmatched_fund_codes)}"
        notices = "".join(f" {notice}" for notice in self.notices)
        return f"{line}.{notices}"

    def to_json(self) -> str:
        """The report as JSON text."""
        return json.dumps(asdict(self), indent=2, sort_keys=True, default=str)


def tally(statuses: list[str]) -> dict[str, int]:
    """Count outcome statuses, listing every counted status even when zero."""
    counts = Counter(statuses)
    return {key: counts.get(key, 0) for key in COUNTED} | {
        k: v for k, v in counts.items() if k not in COUNTED
    }


def write_report(report: SyncReport) -> Path:
    """Write the report as JSON to its ``report_path`` and return that path."""
    path = Path(report.report_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report.to_json(), encoding="utf-8")
    return path
