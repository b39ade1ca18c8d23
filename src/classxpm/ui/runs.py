"""One sync run as its page shows it: the run's row, counts, trend, API calls and problem rows.

The state database holds the run (``sync_runs``), its outcomes and the calls of each step; the run's
``sync-report.json`` adds what only the report keeps (a dry run's diff and plan, members not in XPM,
notices). A run that ended before its report was written is shown from the database alone. Every list is
read one page at a time, so a run of 10,000 funds costs one page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, RowMapping

from classxpm.sync.tables import sync_outcomes, sync_run_calls, sync_runs
from classxpm.ui.queries import Page, literal_pattern
from classxpm.validation.report import run_folder

REPORT = "sync-report.json"
ROWS_PER_PAGE = 100
TREND_RUNS = 20
CHARTED = ("created", "linked", "updated", "unchanged", "quarantined", "needs_review", "failed", "deferred")
PROBLEMS = ("failed", "quarantined", "needs_review", "deferred", "skipped")
WHAT_TO_DO = {
    "quarantined": "Fix the fund in Class as the reason says; the next run sends it.",
    "needs_review": "Decide in XPM: keep one of the matching clients, or restore the archived one.",
    "failed": "Nothing at first: the next run takes it again. Fix the cause if it fails twice.",
    "deferred": "Nothing: the day's API quota ran out and the next run sends it.",
    "skipped": "Nothing: the run's sync_mode did not allow this write.",
    "not_found": "Check the scope code in Class and in the run's fund_codes, then trigger the run again.",
}


@dataclass(frozen=True)
class RunView:
    """What the run page shows above its rows."""

    run: RowMapping
    report: dict[str, Any]
    counts: dict[str, int]
    calls_by_step: dict[str, int]

    @property
    def unmatched_fund_codes(self) -> list[str]:
        """Scope codes the run was asked for that match no fund (the run's summary, else its report)."""
        summary = self.run["summary"] or {}
        return list(summary.get("unmatched_fund_codes") or self.report.get("unmatched_fund_codes") or [])

    @property
    def api_calls(self) -> int:
        """The XPM calls the run made."""
        return int(self.report.get("api_calls") or sum(self.calls_by_step.values()))


def sync_run(state: Engine, reports_dir: Path, run_id: str) -> RunView | None:
    """The run ``run_id`` with its report (empty when none was written) and counts."""
    with state.connect() as conn:
        run = conn.execute(sa.select(sync_runs).where(sync_runs.c.run_id == run_id)).mappings().first()
        if run is None:
            return None
        steps = sa.select(sync_run_calls.c.step, sync_run_calls.c.calls)
        calls = dict(conn.execute(steps.where(sync_run_calls.c.run_id == run_id)).all())
    report = read_report(reports_dir, run)
    counts = (run["summary"] or {}).get("counts") or report.get("counts") or outcome_counts(state, run_id)
    return RunView(run, report, {key: counts.get(key, 0) for key in CHARTED}, calls)


def read_report(reports_dir: Path, run: RowMapping) -> dict[str, Any]:
    """The run's ``sync-report.json``, or ``{}`` when the run ended before writing it."""
    stored = (run["summary"] or {}).get("report_path")
    path = Path(stored) if stored else run_folder(reports_dir, run["business_id"], run["run_id"]) / REPORT
    try:
        return _parsed(str(path), path.stat().st_mtime_ns)
    except FileNotFoundError:
        return {}


@lru_cache(maxsize=8)
def _parsed(path: str, version: int) -> dict[str, Any]:
    """A report parsed once per version of the file: paging through a 10,000-row diff reads it once.

    Callers share the result and must not change it.
    """
    return json.loads(Path(path).read_text(encoding="utf-8"))


def outcome_counts(state: Engine, run_id: str) -> dict[str, int]:
    """How many of the run's funds ended in each status, from the outcome log."""
    query = (
        sa.select(sync_outcomes.c.status, sa.func.count())
        .where(sync_outcomes.c.run_id == run_id)
        .group_by(sync_outcomes.c.status)
    )
    with state.connect() as conn:
        return dict(conn.execute(query).all())


def runs_of_airflow_run(state: Engine, dag_id: str, airflow_run_id: str) -> list[RowMapping]:
    """The sync runs (one per business) that the Airflow DAG run opened."""
    escaped = literal_pattern(f"{dag_id}/{airflow_run_id}/")
    query = (
        sa.select(sync_runs.c.run_id, sync_runs.c.business_id, sync_runs.c.status)
        .where(sync_runs.c.dag_id == dag_id, sync_runs.c.run_id.like(f"{escaped}%", escape="\\"))
        .order_by(sync_runs.c.business_id)
    )
    with state.connect() as conn:
        return list(conn.execute(query).mappings())


def trend(state: Engine, business_id: str, until: datetime) -> list[dict[str, Any]]:
    """Quarantined and failed funds of the business's last runs up to ``until``, oldest first."""
    query = (
        sa.select(sync_runs.c.run_id, sync_runs.c.started_at, sync_runs.c.status, sync_runs.c.summary)
        .where(sync_runs.c.business_id == business_id, sync_runs.c.started_at <= until)
        .order_by(sync_runs.c.started_at.desc())
        .limit(TREND_RUNS)
    )
    with state.connect() as conn:
        rows = list(conn.execute(query).mappings())
    points = []
    for row in reversed(rows):
        counts = (row["summary"] or {}).get("counts") or {}
        points.append(
            {
                "run_id": row["run_id"],
                "started_at": row["started_at"],
                "status": row["status"],
                "quarantined": counts.get("quarantined", 0),
                "failed": counts.get("failed", 0),
            }
        )
    return points


def tenant_calls(state: Engine, tenant_id: str | None, until: datetime) -> int:
    """XPM calls of every run of the tenant that started in the 24 hours up to ``until``."""
    if tenant_id is None:
        return 0
    runs = sa.select(sync_runs.c.run_id).where(
        sync_runs.c.tenant_id == tenant_id,
        sync_runs.c.started_at > until - timedelta(days=1),
        sync_runs.c.started_at <= until,
    )
    query = sa.select(sa.func.coalesce(sa.func.sum(sync_run_calls.c.calls), 0)).where(
        sync_run_calls.c.run_id.in_(runs)
    )
    with state.connect() as conn:
        return int(conn.execute(query).scalar_one())


def problem_rows(state: Engine, view: RunView, page: int) -> Page:
    """One page of the run's funds that did not go through, by scope code, each with what to do.

    A dry run wrote no outcomes: its rows are the report's ``problems``.
    """
    start = (page - 1) * ROWS_PER_PAGE
    if view.run["dry_run"]:
        rows = view.report.get("problems") or []
        chosen = [_with_action(row) for row in rows[start : start + ROWS_PER_PAGE]]
        return Page(chosen, page, len(rows) > start + ROWS_PER_PAGE)
    query = (
        sa.select(
            sync_outcomes.c.fund_id,
            sync_outcomes.c.scope_code,
            sync_outcomes.c.status,
            sync_outcomes.c.action,
            sync_outcomes.c.detail,
        )
        .where(sync_outcomes.c.run_id == view.run["run_id"], sync_outcomes.c.status.in_(PROBLEMS))
        .order_by(sync_outcomes.c.scope_code, sync_outcomes.c.id)
        .offset(start)
        .limit(ROWS_PER_PAGE + 1)
    )
    with state.connect() as conn:
        rows = [_with_action(dict(row)) for row in conn.execute(query).mappings()]
    return Page(rows[:ROWS_PER_PAGE], page, len(rows) > ROWS_PER_PAGE)


def diff_rows(view: RunView, page: int) -> Page:
    """One page of a dry run's diff: what each fund would have had written."""
    rows = view.report.get("diff") or []
    start = (page - 1) * ROWS_PER_PAGE
    return Page(rows[start : start + ROWS_PER_PAGE], page, len(rows) > start + ROWS_PER_PAGE)


def _with_action(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "what_to_do": WHAT_TO_DO.get(row.get("status", ""), "")}
