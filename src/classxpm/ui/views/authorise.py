"""Authorise: to Xero and back to the callback, which stores the grant for the business.

The login runs in the browser window itself, outside Airflow's menu frame (Xero's login refuses to be
framed); the page it ends on leads back into Airflow.

When the login connected several Practice Manager accounts, the user picks one on a page of ours; the
token set waits for that choice in a sealed cookie.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from classxpm.state.linking import AUTHORISED_MESSAGE, LinkResult, complete_login, pick_tenant
from classxpm.state.tokens import TokenStore
from classxpm.sync.links import linked_to
from classxpm.ui.access import Viewer, ViewerDep
from classxpm.ui.airflow_api import TriggerFailed, trigger_sync
from classxpm.ui.login import (
    CHOICE_COOKIE,
    LIFETIME,
    LOGIN_COOKIE,
    PendingChoice,
    PendingLogin,
    candidates,
    open_choice,
    open_login,
    seal_choice,
    seal_login,
)
from classxpm.ui.menu import in_airflow
from classxpm.ui.pages import ServicesDep, airflow_root, callback_url, mount_path, render
from classxpm.ui.services import UiServices
from classxpm.xpm.api import XeroConnection
from classxpm.xpm.auth import TokenSet, authorization_request, code_from_callback
from classxpm.xpm.errors import ConfigurationError
from classxpm.xpm.session import XpmSession

router = APIRouter()
ACTION = "authorise the integration"


@router.get("/authorise/start", name="authorise_start")
def start(request: Request, viewer: ViewerDep, services: ServicesDep, business: str) -> Response:
    """Send the browser to Xero's login, remembering the request in a sealed cookie."""
    viewer.require_manage(ACTION)
    callback = callback_url(request)
    login = authorization_request(replace(services.xpm_config(), redirect_uri=callback))
    response = RedirectResponse(login.url, status_code=303)
    sealed = seal_login(services.cipher, PendingLogin(business, login, services.clock()))
    _set_cookie(request, response, LOGIN_COOKIE, sealed)
    return response


@router.get("/authorise/callback", name="authorise_callback")
def callback(request: Request, viewer: ViewerDep, services: ServicesDep) -> Response:
    """Exchange the code; link the account, or ask which one when the login connected several."""
    viewer.require_manage(ACTION)
    login = open_login(services.cipher, request.cookies.get(LOGIN_COOKIE), services.clock())
    code = code_from_callback(login.request, str(request.url))
    with services.session(login.request.redirect_uri) as session:
        tokens = session.identity.exchange_code(login.request, code)
        choices = candidates(session.api_for_tokens(tokens).connections(), tokens)
        current = services.store().get(login.business_id)
        replacing = current is not None and any(c.tenant_id != current.tenant_id for c in choices)
        if len(choices) > 1 or replacing:
            return _ask(
                request, services, PendingChoice(login.business_id, tokens, services.clock()), choices
            )
        wanted = choices[0].tenant_id if choices else None
        result = _link(session, services.store(), login.business_id, tokens, wanted)
    response = _finished(request, viewer, services, login.business_id, result)
    response.delete_cookie(LOGIN_COOKIE, path=_cookie_path(request))
    return response


@router.post("/authorise/choose", name="authorise_choose")
def choose(
    request: Request,
    viewer: ViewerDep,
    services: ServicesDep,
    tenant_id: Annotated[str, Form()],
    replace_account: Annotated[str, Form()] = "",
) -> Response:
    """Link the XPM account the user picked; replacing the business's account needs the page's consent."""
    viewer.require_manage(ACTION)
    pending = open_choice(services.cipher, request.cookies.get(CHOICE_COOKIE), services.clock())
    with services.session(callback_url(request)) as session:
        result = _link(
            session,
            services.store(),
            pending.business_id,
            pending.tokens,
            tenant_id,
            replace_account=replace_account == "yes",
        )
        if result.declined:
            choices = candidates(session.api_for_tokens(pending.tokens).connections(), pending.tokens)
            return _ask(request, services, pending, choices)
    response = _finished(request, viewer, services, pending.business_id, result)
    response.delete_cookie(CHOICE_COOKIE, path=_cookie_path(request))
    return response


def _ask(
    request: Request, services: UiServices, pending: PendingChoice, choices: Sequence[XeroConnection]
) -> Response:
    current = services.store().get(pending.business_id)
    linked = linked_to(services.state, current.business_id, current.tenant_id) if current else 0
    response = render(
        request,
        "choose_tenant.html",
        business_id=pending.business_id,
        settings_in_airflow=_settings_in_airflow(request, pending.business_id),
        choices=choices,
        current=current,
        linked=linked,
    )
    _set_cookie(request, response, CHOICE_COOKIE, seal_choice(services.cipher, pending))
    response.delete_cookie(LOGIN_COOKIE, path=_cookie_path(request))
    return response


def _link(
    session: XpmSession,
    store: TokenStore,
    business_id: str,
    tokens: TokenSet,
    tenant_id: str | None,
    *,
    replace_account: bool = False,
) -> LinkResult:
    return complete_login(
        session,
        store,
        business_id,
        tokens,
        lambda found: pick_tenant(found, tenant_id, _refuse),
        confirm=lambda _previous, _chosen: replace_account,
    )


def _refuse(_found: Sequence[XeroConnection]) -> XeroConnection:
    raise ConfigurationError("several Practice Manager accounts are connected: pick one and start again")


def _finished(
    request: Request, viewer: Viewer, services: UiServices, business_id: str, result: LinkResult
) -> HTMLResponse:
    try:
        sync = trigger_sync(services.airflow, airflow_root(request), viewer.token, business_id)
    except TriggerFailed as exc:
        sync = f"The first sync was not started: {exc} Use Re-sync on the settings page."
    return render(
        request,
        "authorised.html",
        viewer=viewer,
        settings_in_airflow=_settings_in_airflow(request, business_id),
        headline=AUTHORISED_MESSAGE,
        business_id=business_id,
        result=result,
        sync=sync if viewer.can_resync else "",
    )


def _settings_in_airflow(request: Request, business_id: str) -> str:
    """Where the login comes back to: the settings page inside Airflow's menu (it ran outside the frame)."""
    page = f"{request.url_for('settings').path}?{urlencode({'business': business_id})}"
    return in_airflow(airflow_root(request), page)


def _cookie_path(request: Request) -> str:
    return mount_path(request).rstrip("/") + "/authorise"


def _set_cookie(request: Request, response: Response, name: str, value: str) -> None:
    secure = request.url.scheme == "https"
    max_age = int(LIFETIME.total_seconds())
    path = _cookie_path(request)
    response.set_cookie(name, value, max_age=max_age, path=path, httponly=True, samesite="lax", secure=secure)
