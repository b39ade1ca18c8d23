"""Fund dashboard: find a fund, see its XPM link, last sync, open jobs and tasks, and launch XPM."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.engine import RowMapping

from classxpm.sync.candidates import review_candidates
from classxpm.ui import queries
from classxpm.ui.access import Viewer, ViewerDep
from classxpm.ui.pages import ServicesDep, render
from classxpm.ui.services import UiServices
from classxpm.ui.views.settings import chosen_business
from classxpm.validation.rules import RULES

router = APIRouter()

NOT_LINKED_HINT = (
    "The Launch Xero Practice Manager link shows once the fund has synced. Please check that the fund has "
    "either a valid TFN or no TFN and re-sync the integration."
)
SHOWS_ONCE_SYNCED = "The Launch Xero Practice Manager link shows once the fund has synced."
NO_WEB_URL_YET = (
    "The fund is linked; its launch link appears after the next sync, or after the next XPM jobs snapshot, "
    "reads it from XPM."
)
TFN_RULE = next(rule for rule in RULES if rule.name == "tfn_check_digit")


WHY_NOT_LINKED = {
    "quarantined": "Validation held it back; fix this in Class and re-sync: {reason}",
    "needs_review": "A person must choose its XPM client first: {reason}",
    "failed": "XPM refused it: {reason}",
    "deferred": "The last run left it for the next one: {reason}",
    None: "No sync has sent it yet: the next sync creates or links its XPM client.",
}


def launch_hint(link: Mapping[str, Any], outcome: Mapping[str, Any] | None) -> str:
    """Why a fund has no launch link, in true words: what held it back and what to do about it.

    Args:
        link: The fund's link row.
        outcome: The fund's most recent sync outcome, if any: when XPM refused the fund, its detail is
            XPM's reason.
    """
    status, reason = link["last_status"], link["last_error"] or ""
    if link["client_uuid"]:
        return NO_WEB_URL_YET
    if status == "quarantined" and TFN_RULE.message in reason:
        return f"{NOT_LINKED_HINT} Validation held it back: {reason}"
    if status == "failed":
        reason = (outcome or {}).get("detail") or reason or "no reason was recorded"
    why = WHY_NOT_LINKED.get(status, "Last sync: " + (status or "").replace("_", " ") + ": {reason}")
    return f"{SHOWS_ONCE_SYNCED} {why.format(reason=reason)}"


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
    found = queries.search_funds(services.state, business_id, q, status, page)
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
        found=found,
        launch=queries.launch_urls(services.state, found.rows),
    )


@router.get("/funds/{fund_id}", name="fund")
def fund_detail(
    request: Request, viewer: ViewerDep, services: ServicesDep, fund_id: str, business: str
) -> HTMLResponse:
    """One fund: link status, last sync, reason, jobs and tasks, the launch link, or why it is missing."""
    return fund_page(request, viewer, services, business, fund_id)


def fund_link(services: UiServices, business_id: str, fund_id: str) -> RowMapping:
    """The fund's link row; a 404 when no sync has seen such a fund."""
    link = queries.fund(services.state, business_id, fund_id)
    if link is None:
        raise HTTPException(status_code=404, detail=f"No fund {fund_id} in business {business_id}.")
    return link


def fund_page(
    request: Request,
    viewer: Viewer,
    services: UiServices,
    business_id: str,
    fund_id: str,
    **shown: Any,
) -> HTMLResponse:
    """Render one fund's page; ``shown`` adds what an answer gave (``notice``, ``problem``, ``confirm``)."""
    link = fund_link(services, business_id, fund_id)
    linked = link["client_uuid"] is not None
    launch = queries.launch_urls(services.state, [link]).get(fund_id)
    outcome = None if launch else queries.last_outcome(services.state, business_id, fund_id)
    review = link["last_status"] == "needs_review"
    return render(
        request,
        "fund.html",
        viewer=viewer,
        business_id=business_id,
        link=link,
        linked=linked,
        launch=launch,
        jobs=queries.client_jobs(services.state, business_id, link["client_uuid"]) if linked else [],
        hint="" if launch else launch_hint(link, outcome),
        candidates=review_candidates(services.state, link) if review else [],
        snapshot=queries.snapshot(services.state, business_id),
        **shown,
    )
