"""`classxpm report latest`: where the newest validation report is, its counts and quarantined funds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from classxpm.validation.report import StoredReport, latest_report, reports_root


@click.group("report")
def report() -> None:
    """Validation reports of the sync runs."""


@report.command("latest")
@click.option(
    "--reports-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The reports folder (default: $CLASSXPM_REPORTS_DIR, else $AIRFLOW_HOME/reports).",
)
@click.option("--business", "business_id", default=None, help="Only runs of this Class business id.")
@click.option(
    "--limit", type=click.IntRange(min=0), default=100, show_default=True, help="Quarantined funds listed."
)
def latest(reports_dir: Path | None, business_id: str | None, limit: int) -> None:
    """Print where the newest validation report is, its counts and the quarantined funds with their rules."""
    found = latest_report(reports_dir, business_id)
    if found is None:
        scope = f" for business {business_id}" if business_id else ""
        raise click.ClickException(f"no validation report{scope} under {reports_root(reports_dir)}")
    click.echo(describe(found, limit))


def describe(found: StoredReport, limit: int) -> str:
    """Return the printed text for a stored report: paths, counts, then the quarantined funds."""
    doc = found.document
    lines = [
        f"Validation report: {found.summary}",
        f"Run {doc['run_id']} of business {doc['business_id']}, written {doc['written_at']}, {doc['status']}",
    ]
    if found.data_docs:
        lines.append(f"Data Docs: {found.data_docs}")
    if doc.get("problem"):
        lines.append(f"Stopped: {doc['problem']}")
    lines.append(", ".join(f"{name.replace('_', ' ')} {value}" for name, value in doc["counts"].items()))
    quarantined = doc["quarantined"]
    if quarantined:
        lines.append(f"Quarantined funds ({len(quarantined)}):")
        lines += [_fund_line(fund) for fund in quarantined[:limit]]
        if len(quarantined) > limit:
            lines.append(f"  … and {len(quarantined) - limit} more in {found.folder / 'validation.json'}")
    return "\n".join(lines)


def _fund_line(fund: dict[str, Any]) -> str:
    code, name = fund["scope_code"] or "(no scope code)", fund["name"] or "(no name)"
    return f"  {code}  {name}: {'; '.join(fund['rules'])}"
