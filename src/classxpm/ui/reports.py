"""Validation reports on disk, as the reports page lists and serves them, TFNs masked on the way out.

Reports are written TFN-free (``classxpm.validation.report``); masking every valid-TFN digit run in the
text files served is a second guard, so a TFN slipping into a report would still not reach a browser.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from classxpm.identifiers import is_valid_tfn, mask_tfn
from classxpm.validation.report import DOCUMENT, safe_name

PAGE_SIZE = 25
TEXT_SUFFIXES = {".html", ".json", ".txt", ".csv"}
_TFN_LIKE = re.compile(r"(?<!\d)\d{3}[ -]?\d{3}[ -]?\d{2,3}(?!\d)")


@dataclass(frozen=True)
class ReportRun:
    """One run's validation report, as listed."""

    business_id: str
    run: str
    document: dict[str, Any]
    has_data_docs: bool

    @property
    def counts(self) -> dict[str, Any]:
        """The run's counts (funds received, quarantined, ...)."""
        return self.document.get("counts") or {}


def list_reports(root: Path, business_id: str | None, page: int = 1) -> tuple[list[ReportRun], bool]:
    """One page of reports, newest first; and whether another page follows."""
    pattern = f"{safe_name(business_id) if business_id else '*'}/*/{DOCUMENT}"
    documents = sorted(root.glob(pattern), key=lambda path: path.stat().st_mtime_ns, reverse=True)
    start = (page - 1) * PAGE_SIZE
    chosen = documents[start : start + PAGE_SIZE]
    return [_run(path) for path in chosen], len(documents) > start + PAGE_SIZE


def _run(document: Path) -> ReportRun:
    folder = document.parent
    content = json.loads(document.read_text(encoding="utf-8"))
    docs = (content.get("files") or {}).get("data_docs")
    return ReportRun(folder.parent.name, folder.name, content, bool(docs))


def report_file(root: Path, business: str, run: str, relative: str) -> Path:
    """The file ``relative`` inside one run's folder.

    Raises:
        FileNotFoundError: No such file, or a path that leaves the run's folder.
    """
    folder = (root / safe_name(business) / safe_name(run)).resolve()
    path = (folder / relative).resolve()
    if not path.is_relative_to(folder) or not path.is_file():
        raise FileNotFoundError(relative)
    return path


def masked(text: str) -> str:
    """Mask every digit run that is a valid TFN, the way XPM shows TFNs (last three digits)."""
    return _TFN_LIKE.sub(lambda found: mask_tfn(found[0]) if is_valid_tfn(found[0]) else found[0], text)
