"""Integration settings: a business's XPM status and last sync; Authorise, Re-authorise, Unlink, Re-sync."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from classxpm.state.linking import AUTHORISED_MESSAGE, unlink
from classxpm.state.tokens import TokenStore
from classxpm.ui import queries
from classxpm.ui.access import ViewerDep
from classxpm.ui.airflow_api import trigger_sync
from classxpm.ui.pages import DEFAULT_BUSINESS, ServicesDep, airflow_root, callback_url, render
from classxpm.xpm.errors import NOT_AUTHORISED_MESSAGE, REAUTHORISE_MESSAGE

router = APIRouter()
BusinessForm = Annotated[str, Form(min_length=1, max_length=36)]


def integration_status(store: TokenStore, business_id: str, now: datetime) -> dict[str, Any]:
    """The headline the seed prescribes, and the grant behind it."""
    grant = store.get(business_id)
    if grant is None:
        return {"headline": NOT_AUTHORISED_MESSAGE, "grant": None, "expired": False, "days_left": 0}
    days_left = grant.days_left(now)
    expired = grant.invalid_reason is not None or days_left == 0
    headline = REAUTHORISE_MESSAGE if expired else AUTHORISED_MESSAGE
    return {"headline": headline, "grant": grant, "expired": expired, "days_left": days_left}


def business_names(services: ServicesDep) -> dict[str, str]:
    """Every known business, id to the name people know it by (Class's name; the id when Class has none)."""
    named = services.class_businesses()
    known = sorted(set(queries.businesses(services.state)) | set(named))
    return {business_id: named.get(business_id) or business_id for business_id in known}


def chosen_business(services: ServicesDep, business: str | None) -> tuple[str, dict[str, str]]:
    """The business asked for (else the first known, else ``default``) and every known business by name."""
    known = business_names(services)
    return business or next(iter(known), DEFAULT_BUSINESS), known


def settings_page(
    request: Request,
    viewer: ViewerDep,
    services: ServicesDep,
    business: str | None,
    notice: str = "",
    *,
    confirm_unlink: bool = False,
) -> HTMLResponse:
    """Render the settings of one business; ``confirm_unlink`` asks before the Unlink is carried out."""
    business_id, known = chosen_business(services, business)
    return render(
        request,
        "settings.html",
        viewer=viewer,
        business_id=business_id,
        businesses=known,
        status=integration_status(services.store(), business_id, services.clock()),
        last_sync=queries.last_sync(services.state, business_id),
        notice=notice,
        confirm_unlink=confirm_unlink,
    )


@router.get("/settings", name="settings")
def show(
    request: Request, viewer: ViewerDep, services: ServicesDep, business: str | None = None
) -> HTMLResponse:
    """The Integration settings page."""
    return settings_page(request, viewer, services, business)


@router.post("/settings/unlink", name="unlink")
def unlink_business(
    request: Request,
    viewer: ViewerDep,
    services: ServicesDep,
    business: BusinessForm,
    confirmed: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Say what Unlink does and ask; once confirmed, disconnect the account, revoke the grant, forget it."""
    viewer.require_manage("unlink the integration")
    if confirmed != "yes":
        return settings_page(request, viewer, services, business, confirm_unlink=True)
    with services.session(callback_url(request)) as session:
        grant = unlink(session, services.store(), business)
    notice = (
        f"Unlinked {grant.tenant_name or grant.tenant_id}: its connection was removed and the grant revoked."
    )
    return settings_page(request, viewer, services, business, notice)


@router.post("/settings/resync", name="resync")
def resync(
    request: Request, viewer: ViewerDep, services: ServicesDep, business: BusinessForm
) -> HTMLResponse:
    """Queue a run of class_xpm_sync for the business."""
    viewer.require_resync()
    notice = trigger_sync(services.airflow, airflow_root(request), viewer.token, business)
    return settings_page(request, viewer, services, business, notice)


@router.get("/settings/unlink", include_in_schema=False)
@router.get("/settings/resync", include_in_schema=False)
def reloaded(request: Request, viewer: ViewerDep, business: str | None = None) -> RedirectResponse:
    """The settings again when the page an Unlink or Re-sync answered is reloaded.

    Airflow keeps the framed page's address in its own, so a reload asks for it with GET; nothing is done
    again.
    """
    target = request.url_for("settings").include_query_params(**({"business": business} if business else {}))
    return RedirectResponse(target, status_code=303)
