"""The run summary: counts, API calls, duration and members not in XPM; as log line, JSON, HTML and note."""

from __future__ import annotations

import html
import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

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
    problems: list[dict[str, Any]] = field(default_factory=list)
    """Funds with problems: scope code, status, detail; a needs-review fund also its ``candidates`` (the
    XPM clients to choose from, as the run read XPM) and ``new`` (not in review for that reason before)."""
    diff: list[dict] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    """What the data team should know of the run as a whole: a re-authorisation to another account, a dead
    run closed, and what is new since the last run (reviews, funds gone, members rolled out)."""
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


NEWS_SHOWN = 10
"""The notice names this many of each kind of news; the report's lists hold them all."""


def news_notice(problems: list[dict[str, Any]], gone: dict[str, list[dict[str, Any]]]) -> str:
    """The notice of what is new since the last run, or "" when nothing is.

    Reviews, funds gone from Class and members rolled out stand in every report until dealt with; only
    the first report of each is news.
    """
    kinds = (
        ("funds need review", [p["scope_code"] for p in problems if p.get("new") and "candidates" in p]),
        ("funds gone from Class", [f["scope_code"] for f in gone.get("funds", []) if f.get("new")]),
        (
            "members rolled out",
            [f"{m['scope_code']} member {m['member_id']}" for m in gone.get("members", []) if m.get("new")],
        ),
    )
    parts = [f"{len(items)} {label} ({_some(items)})" for label, items in kinds if items]
    return f"New since the last run: {'; '.join(parts)}." if parts else ""


def _some(items: list[str]) -> str:
    more = len(items) - NEWS_SHOWN
    return ", ".join(sorted(items)[:NEWS_SHOWN]) + (f" and {more} more" if more > 0 else "")


def tally(statuses: list[str]) -> dict[str, int]:
    """Count outcome statuses, listing every counted status even when zero."""
    counts = Counter(statuses)
    return {key: counts.get(key, 0) for key in COUNTED} | {
        k: v for k, v in counts.items() if k not in COUNTED
    }


def _rows(headings: tuple[str, ...], rows: list[dict[str, Any]], keys: tuple[str, ...]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headings)
    cells = ("".join(f"<td>{_cell(row.get(k, ''))}</td>" for k in keys) for row in rows)
    body = "".join(f"<tr>{row}</tr>" for row in cells)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value: Any) -> str:
    """A table cell: text escaped, ``new`` as a word, a list of candidates as a list with launch links."""
    if isinstance(value, bool):
        return "new" if value else ""
    if isinstance(value, list):
        return f"<ul>{''.join(f'<li>{_candidate(c)}</li>' for c in value)}</ul>" if value else ""
    return html.escape(str(value))


def _candidate(client: dict[str, Any]) -> str:
    parts = (client["name"], f"ExportCode {client['export_code'] or '-'}", f"ABN {client['abn'] or '-'}")
    text = html.escape(f"{' · '.join(parts)} · {client['state']} · {client['uuid']}")
    url = client.get("web_url")
    return f"{text} <a href='{html.escape(url, quote=True)}'>Launch XPM</a>" if url else text


GONE_FUND_KEYS = ("scope_code", "fund_name", "what", "done", "new")
GONE_MEMBER_KEYS = ("scope_code", "member_id", "what", "done", "new")


def to_html(report: SyncReport) -> str:
    """The report as a small HTML page: the summary, the funds with problems, the members not in XPM."""
    problems = _rows(
        ("Fund", "Status", "Detail", "New", "Candidate XPM clients"),
        report.problems,
        ("scope_code", "status", "detail", "new", "candidates"),
    )
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
        f"{_rows(('Fund', 'Name', 'What', 'Done', 'New'), gone_funds, GONE_FUND_KEYS)}"
        f"<h2>Members rolled out ({len(gone_members)})</h2>"
        f"{_rows(('Fund', 'Member id', 'What', 'Done', 'New'), gone_members, GONE_MEMBER_KEYS)}"
        f"<h2>Members not in XPM ({len(report.members_not_in_xpm)})</h2>{members}</body></html>"
    )


def write_report(report: SyncReport) -> Path:
    """Write the report as JSON to its ``report_path``, and as HTML beside it; returns the JSON's path."""
    path = Path(report.report_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report.to_json(), encoding="utf-8")
    path.with_suffix(".html").write_text(to_html(report), encoding="utf-8")
    return path
