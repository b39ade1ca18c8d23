"""Sync runs: a page per run, reached from the reports, the settings page and the DAG run's own tab.

It shows counts and trend as charts, API calls and quota, a dry run's diff and every problem row with what
to do.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from classxpm.ui import runs
from classxpm.ui.access import ViewerDep
from classxpm.ui.charts import VENDORED, counts_chart, trend_chart
from classxpm.ui.pages import ServicesDep, airflow_root, render
from classxpm.validation.report import safe_name
from classxpm.xpm.errors import ConfigurationError

router = APIRouter()


@router.get("/runs/{run_id:path}", name="sync_run")
def run_page(
    request: Request,
    viewer: ViewerDep,
    services: ServicesDep,
    run_id: str,
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    """One sync run; its problem rows (or a dry run's diff) one page at a time."""
    view = runs.sync_run(services.state, services.reports_dir, run_id)
    if view is None:
        raise HTTPException(status_code=404, detail=f"No sync run {run_id}.")
    run = view.run
    until = run["finished_at"] or services.clock()
    points = runs.trend(services.state, run["business_id"], run["started_at"])
    return render(
        request,
        "run.html",
        viewer=viewer,
        business_id=run["business_id"],
        view=view,
        counts_spec=counts_chart(view.counts),
        trend=points,
        trend_spec=trend_chart(points),
        vendored=VENDORED,
        report_folder=safe_name(run["run_id"]),
        airflow_run_path=_airflow_run_path(request, run["run_id"], run["dag_id"], run["business_id"]),
        day_limit=_day_limit(services),
        tenant_calls=runs.tenant_calls(services.state, run["tenant_id"], until),
        problems=runs.problem_rows(services.state, view, page),
        diff=runs.diff_rows(view, page) if run["dry_run"] else None,
        page=page,
    )


@router.get("/airflow-runs/{dag_id}/{airflow_run_id:path}", name="airflow_run")
def airflow_run_tab(
    request: Request, viewer: ViewerDep, services: ServicesDep, dag_id: str, airflow_run_id: str
) -> Response:
    """The tab on a DAG run's page in Airflow: its sync run, or a choice when it synced several businesses."""
    found = runs.runs_of_airflow_run(services.state, dag_id, airflow_run_id)
    if len(found) == 1:
        return RedirectResponse(request.url_for("sync_run", run_id=found[0]["run_id"]), status_code=303)
    return render(
        request, "airflow_run.html", viewer=viewer, dag_id=dag_id, airflow_run_id=airflow_run_id, found=found
    )


def _airflow_run_path(request: Request, run_id: str, dag_id: str, business_id: str) -> str:
    """The DAG run's page in Airflow (a sync run's id is ``<dag id>/<Airflow run id>/<business>``)."""
    airflow_run_id = run_id.removeprefix(f"{dag_id}/").removesuffix(f"/{business_id}")
    if airflow_run_id == run_id:
        return ""
    return f"{airflow_root(request)}/dags/{quote(dag_id, safe='')}/runs/{quote(airflow_run_id, safe='')}"


def _day_limit(services: ServicesDep) -> int | None:
    try:
        return services.xpm_config().day_limit
    except ConfigurationError:
        return None
