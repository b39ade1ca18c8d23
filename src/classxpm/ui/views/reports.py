"""Validation reports: the runs with their counts; a run's summary and Data Docs, TFNs masked."""

from __future__ import annotations

import mimetypes
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from classxpm.ui.access import ViewerDep
from classxpm.ui.pages import ServicesDep, render
from classxpm.ui.reports import TEXT_SUFFIXES, list_reports, masked, report_file
from classxpm.ui.views.settings import business_names

router = APIRouter()


@router.get("/reports", name="reports")
def report_list(
    request: Request,
    viewer: ViewerDep,
    services: ServicesDep,
    business: str | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    """Every run's report, newest first, one page at a time."""
    runs, has_next = list_reports(services.reports_dir, business, page)
    return render(
        request,
        "reports.html",
        viewer=viewer,
        business=business,
        businesses=business_names(services),
        runs=runs,
        page=page,
        has_next=has_next,
    )


@router.get("/reports/{business}/{run}/{relative:path}", name="report_file")
def open_report(viewer: ViewerDep, services: ServicesDep, business: str, run: str, relative: str) -> Response:
    """A file of one run's report (summary.html, Data Docs pages and their assets)."""
    try:
        path = report_file(services.reports_dir, business, run, relative)
    except FileNotFoundError:
        raise HTTPException(status_code=404, detail="No such report file.") from None
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if path.suffix in TEXT_SUFFIXES:
        return Response(masked(path.read_text(encoding="utf-8")), media_type=kind)
    return Response(path.read_bytes(), media_type=kind)
