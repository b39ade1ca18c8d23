"""Fund dashboard: find a fund, see its XPM link, last sync, open jobs and tasks, and launch XPM."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse

from classxpm.ui import queries
from classxpm.ui.access import ViewerDep
from classxpm.ui.pages import ServicesDep, render
from classxpm.ui.views.settings import chosen_business

router = APIRouter()

NOT_LINKED_HINT = (
    "The Launch Xero Practice Manager link shows once the fund has synced. Please check that the fund has "
    "either a valid TFN or no TFN and re-sync the integration."
)
NO_WEB_URL_YET = "The fund is linked; its launch link appears after the next XPM jobs snapshot."


@router.get("/funds", name="funds")
def fund_list(
    request: Request,
    viewer: ViewerDep,
    services: ServicesDep,
    *,
    business: str | None = None,
    q: Annotated[str, Query(max_length=100)] = "",
    status: str = "",
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    """Funds matching a scope code or name, one page at a time."""
    business_id, known = chosen_business(services, business)
    return render(
        request,
        "funds.html",
        viewer=viewer,
        business_id=business_id,
        businesses=known,
        q=q,
        status=status if status in queries.STATUSES else "",
        statuses=queries.STATUSES,
        counts=queries.status_counts(services.state, business_id),
        found=queries.search_funds(services.state, business_id, q, status, page),
    )


@router.get("/funds/{fund_id}", name="fund")
def fund_detail(
    request: Request, viewer: ViewerDep, services: ServicesDep, fund_id: str, business: str
) -> HTMLResponse:
    """One fund: link status, last sync, reason, jobs and tasks, and the launch link."""
    link = queries.fund(services.state, business, fund_id)
    if link is None:
        raise HTTPException(status_code=404, detail=f"No fund {fund_id} in business {business}.")
    linked = link["client_uuid"] is not None
    jobs = queries.client_jobs(services.state, business, link["client_uuid"]) if linked else []
    hint = "" if linked and link["web_url"] else (NO_WEB_URL_YET if linked else NOT_LINKED_HINT)
    return render(
        request,
        "fund.html",
        viewer=viewer,
        business_id=business,
        link=link,
        linked=linked,
        jobs=jobs,
        hint=hint,
        snapshot=queries.snapshot(services.state, business),
    )
