"""Per-run validation reports for the data team, and finding the newest one.

A run's folder is ``<reports>/<business_id>/<run_id>/`` and holds ``validation.json`` (machine-readable),
``summary.html`` (one page, rendered from that same document) and ``data_docs/`` (GX Data Docs, written
by the gate). Both files are built from ``GateResult.to_dict()``, which never holds a TFN: a fund's TFN is
described as absent, valid or invalid. Light to import: no pandas, no GX.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from classxpm.validation.outcome import GateResult, ReportPaths

REPORTS_ENV = "CLASSXPM_REPORTS_DIR"
DATA_DOCS = "data_docs"
SUMMARY = "summary.html"
DOCUMENT = "validation.json"
TEMPLATE = "summary.html.j2"
FORMAT = 1
MAX_LISTED = 1000  # funds per list in summary.html; validation.json always has them all

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def reports_root(explicit: str | Path | None = None) -> Path:
    """The reports folder: ``explicit``, else ``$CLASSXPM_REPORTS_DIR``, else ``$AIRFLOW_HOME/reports``."""
    if explicit:
        return Path(explicit)
    if configured := os.environ.get(REPORTS_ENV):
        return Path(configured)
    return Path(os.environ.get("AIRFLOW_HOME") or Path.home() / "airflow") / "reports"


def safe_name(text: str) -> str:
    """Make a run or business id usable as one folder name (no separators, no leading dots)."""
    return _UNSAFE.sub("_", text).strip("._") or "_"


def run_folder(root: Path, business_id: str, run_id: str) -> Path:
    """The folder of one run's report under ``root``."""
    return root / safe_name(business_id) / safe_name(run_id)


def write_report(outcome: GateResult, folder: Path, now: datetime | None = None) -> GateResult:
    """Write validation.json and summary.html for a validated run.

    Args:
        outcome: The gate's result.
        folder: The run's report folder (the gate has already written ``data_docs/`` there).
        now: The time to record; default the current UTC time.

    Returns:
        ``outcome`` with the report paths filled in.
    """
    document = {"format": FORMAT, "status": "checked", "problem": None, **outcome.to_dict()}
    return outcome.with_report(_write(folder, document, now))


def write_stopped(
    folder: Path,
    *,
    run_id: str,
    business_id: str,
    funds: int,
    members: int,
    problem: str,
    now: datetime | None = None,
) -> ReportPaths:
    """Write the report of a run whose validation could not go on, saying why.

    Args:
        folder: The run's report folder.
        run_id: The run's identifier.
        business_id: The Class business.
        funds: How many funds the run received.
        members: How many members the run received.
        problem: Why validation stopped, in plain words.
        now: The time to record; default the current UTC time.

    Returns:
        Where the files are.
    """
    document = {
        "format": FORMAT,
        "status": "stopped",
        "problem": problem,
        "run_id": run_id,
        "business_id": business_id,
        "counts": {"funds_received": funds, "members_received": members},
        "failed_rules": [],
        "quarantined": [],
        "warnings": [],
    }
    return _write(folder, document, now)


def _write(folder: Path, document: dict[str, Any], now: datetime | None) -> ReportPaths:
    folder.mkdir(parents=True, exist_ok=True)
    docs = folder / DATA_DOCS / "index.html"
    document["written_at"] = (now or datetime.now(UTC)).isoformat()
    document["files"] = {
        "summary": SUMMARY,
        "data_docs": f"{DATA_DOCS}/index.html" if docs.exists() else None,
    }
    paths = ReportPaths(folder, folder / SUMMARY, folder / DOCUMENT, docs if docs.exists() else None)
    paths.summary.write_text(render_summary(document), encoding="utf-8")
    # validation.json last: its presence marks a complete report for latest_report().
    paths.json.write_text(json.dumps(document, indent=1, ensure_ascii=False), encoding="utf-8")
    return paths


@dataclass(frozen=True)
class StoredReport:
    """A report read back from its folder."""

    folder: Path
    document: dict[str, Any]

    @property
    def summary(self) -> Path:
        """The one-page HTML summary."""
        return self.folder / SUMMARY

    @property
    def data_docs(self) -> Path | None:
        """The GX Data Docs index, when the run got that far."""
        relative = self.document.get("files", {}).get("data_docs")
        return self.folder / relative if relative else None


def read_report(folder: Path) -> StoredReport:
    """Read the report in ``folder`` (its validation.json)."""
    return StoredReport(folder, json.loads((folder / DOCUMENT).read_text(encoding="utf-8")))


def latest_report(
    reports_dir: str | Path | None = None, business_id: str | None = None
) -> StoredReport | None:
    """Find the newest complete report, of one business or of any.

    Args:
        reports_dir: The reports root; default as ``reports_root``.
        business_id: Only this business's runs; None looks at every business.

    Returns:
        The report whose validation.json was written last, or None when there is none.
    """
    business = safe_name(business_id) if business_id else "*"
    documents = reports_root(reports_dir).glob(f"{business}/*/{DOCUMENT}")
    newest = max(documents, key=lambda path: path.stat().st_mtime_ns, default=None)
    return read_report(newest.parent) if newest else None


@cache
def _template() -> jinja2.Template:
    source = resources.files(__package__).joinpath(TEMPLATE).read_text(encoding="utf-8")
    return jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True).from_string(source)


def render_summary(document: dict[str, Any]) -> str:
    """Render the one-page HTML summary of a report document (no external links or assets)."""
    return _template().render(doc=document, limit=MAX_LISTED)
