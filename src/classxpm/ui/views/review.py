"""A person's answer to a fund from its page: link it to a candidate XPM client, create a new one, unlink it.

The buttons carry out exactly what ``classxpm link`` does (``sync.choices.answer``), after a confirmation
that says what the answer does; the choice is kept in the state database and every later run follows it.
Like the settings page's Unlink, an answer is a POST that needs an Airflow role that may manage the
``xpm_default`` connection, signed in with Airflow's own ``_token`` cookie (SameSite=Lax, so another site
cannot post it).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from classxpm.sync import choices
from classxpm.ui.access import ViewerDep
from classxpm.ui.pages import ServicesDep
from classxpm.ui.views.funds import fund_link, fund_page
from classxpm.ui.views.settings import BusinessForm

router = APIRouter()
ACTION = "link, unlink or create XPM clients for funds"


@router.post("/funds/{fund_id}/answer", name="fund_answer")
def answer(
    request: Request,
    viewer: ViewerDep,
    services: ServicesDep,
    *,
    fund_id: str,
    business: BusinessForm,
    choice: Annotated[str, Form(pattern="^(link|create|unlink)$")],
    client: Annotated[str, Form(max_length=36)] = "",
    confirmed: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Say what the answer does and ask; once confirmed, carry it out and show what it did."""
    viewer.require_manage(ACTION)
    fund = choices.fund_ref(fund_link(services, business, fund_id))
    if confirmed != "yes":
        confirm = {"choice": choice, "client": client}
        return fund_page(request, viewer, services, business, fund_id, confirm=confirm)
    try:
        done = choices.answer(services.state, fund, choice, services.clock(), client)
    except choices.ChoiceError as exc:
        problem = f"Nothing was changed: {exc}."
        return fund_page(request, viewer, services, business, fund_id, problem=problem)
    return fund_page(request, viewer, services, business, fund_id, notice=done)


@router.get("/funds/{fund_id}/answer", include_in_schema=False)
def reloaded(request: Request, viewer: ViewerDep, fund_id: str, business: str) -> RedirectResponse:
    """The fund page again when an answer's page is reloaded (Airflow keeps the frame's address)."""
    target = request.url_for("fund", fund_id=fund_id).include_query_params(business=business)
    return RedirectResponse(target, status_code=303)
