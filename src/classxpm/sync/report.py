"""The run summary: counts, API calls, duration and members not in XPM; as log line, JSON, HTML and note."""

from __future__ import annotations

import html
import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from classxpm.errors import RecordRefused

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


class FundsFailed(RecordRefused):
    """Some funds were refused: the run fails once every other fund went through, so alerting works."""

    def __init__(self, failed: int, report_path: str) -> None:
        super().__init__(f"{failed} funds failed to sync: see {report_path}")


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
    members_not_in_xpm: list[dict[str, str]] = field(default_factory=list)
    """Members of the run's funds that are no contact in XPM at the end: scope code, name, id and reason."""
    gone_from_class: dict[str, list[dict]] = field(default_factory=dict)
    """Full runs: linked funds no longer in Class (or moved business) and linked members rolled out."""
    warnings: list[dict[str, str]] = field(default_factory=list)
    """Members held back (not sent) while the rest of their fund went through: scope code, member, detail."""

    @property
    def failed(self) -> int:
        """How many funds failed."""
        return self.counts.get("failed", 0)

    def summary_line(self) -> str:
        """One line for the log and the DAG run's note."""
        counted = ", ".join(f"{self.counts.get(key, 0)} {key.replace('_', '-')}" for key in COUNTED)
        prefix = "DRY RUN (nothing written): " if self.dry_run else ""
        missing = len(self.members_not_in_xpm)
        members = f"; {missing} members not in XPM" if missing else ""
        gone = self.gone_from_class or {}
        if gone.get("funds") or gone.get("members"):
            members += (
                f"; {len(gone.get('funds', []))} linked funds gone from Class, "
                f"{len(gone.get('members', []))} linked members rolled out"
            )
        if self.warnings:
            members += f"; {len(self.warnings)} members held back (no name in Class)"
        unmatched = ", ".join(self.unmatched_fund_codes)
        codes = f"; fund_codes matching no fund: {unmatched}" if unmatched else ""
        notices = "".join(f" {notice}" for notice in self.notices)
        calls = f"{self.api_calls} API calls in {self.duration_seconds:.1f}s"
        return f"{prefix}{counted}{members}; {calls}{codes}.{notices}"

    def to_json(self) -> str:
        """The report as JSON text."""
        return json.dumps(asdict(self), indent=2, sort_keys=True, default=str)


def tally(statuses: list[str]) -> dict[str, int]:
    """Count outcome statuses, listing every counted status even when zero."""
    counts = Counter(statuses)
    return {key: counts.get(key, 0) for key in COUNTED} | {
        k: v for k, v in counts.items() if k not in COUNTED
    }


def _rows(headings: tuple[str, ...], rows: list[dict[str, str]], keys: tuple[str, ...]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headings)
    cells = ("".join(f"<td>{html.escape(str(row.get(k, '')))}</td>" for k in keys) for row in rows)
    body = "".join(f"<tr>{row}</tr>" for row in cells)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def to_html(report: SyncReport) -> str:
    """The report as a small HTML page: the summary, the funds with problems, the members not in XPM."""
    problems = _rows(("Fund", "Status", "Detail"), report.problems, ("scope_code", "status", "detail"))
    gone_funds = (report.gone_from_class or {}).get("funds", [])
    gone_members = (report.gone_from_class or {}).get("members", [])
    warnings = _rows(("Fund", "Member", "Detail"), report.warnings, ("scope_code", "member", "detail"))
    members = _rows(
        ("Fund", "Member", "Member id", "Reason"),
        report.members_not_in_xpm,
        ("scope_code", "member", "member_id", "reason"),
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Sync {html.escape(report.run_id)}</title>"
        f"</head><body><h1>Sync {html.escape(report.run_id)}</h1><p>{html.escape(report.summary_line())}</p>"
        f"<h2>Funds with problems ({len(report.problems)})</h2>{problems}"
        f"<h2>Members held back ({len(report.warnings)})</h2>{warnings}"
        f"<h2>Funds gone from Class ({len(gone_funds)})</h2>"
        f"{_rows(('Fund', 'Name', 'What', 'Done'), gone_funds, ('scope_code', 'fund_name', 'what', 'done'))}"
        f"<h2>Members rolled out ({len(gone_members)})</h2>"
        f"{_rows(('Fund', 'Member id', 'What'), gone_members, ('scope_code', 'member_id', 'what'))}"
        f"<h2>Members not in XPM ({len(report.members_not_in_xpm)})</h2>{members}</body></html>"
    )


def write_report(report: SyncReport) -> Path:
    """Write the report as JSON to its ``report_path``, and as HTML beside it; returns the JSON's path."""
    path = Path(report.report_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report.to_json(), encoding="utf-8")
    path.with_suffix(".html").write_text(to_html(report), encoding="utf-8")
    return path
