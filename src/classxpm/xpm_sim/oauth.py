"""The Xero identity endpoints: authorize (with a consent page or auto-approve), token and revocation."""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from classxpm.errors import Fatal
from classxpm.xpm_sim import grants
from classxpm.xpm_sim.config import DEFAULT_USER_EMAIL
from classxpm.xpm_sim.identity_routes import identity_route
from classxpm.xpm_sim.runtime import Simulator

AUTHORIZE_PATH = "/identity/connect/authorize"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_AREAS = ("client", "job", "staff", "time")
KNOWN_SCOPES = frozenset(
    {"offline_access", "openid", "profile", "email", "practicemanager", "practicemanager.read"}
    | {f"practicemanager.{area}{suffix}" for area in _AREAS for suffix in ("", ".read")}
)
_REQUEST_PARAMS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "login_hint",
)


class AuthorizeRefused(Fatal):
    """An authorize request refused on the page itself, because it cannot safely be redirected."""


def _redirect(redirect_uri: str, params: dict[str, str | None]) -> Response:
    query = urlencode({key: value for key, value in params.items() if value is not None})
    separator = "&" if "?" in redirect_uri else "?"
    return RedirectResponse(f"{redirect_uri}{separator}{query}", status_code=302)


def _checked_app(sim: Simulator, params: dict[str, str]) -> dict[str, Any]:
    app = sim.store.get("apps", params.get("client_id", ""))
    if app is None:
        raise AuthorizeRefused("unauthorized_client: unknown client_id")
    if not grants.redirect_allowed(app, params.get("redirect_uri", "")):
        raise AuthorizeRefused("invalid_request: redirect_uri is not registered for this app")
    return app


def _request_error(params: dict[str, str]) -> tuple[str, str] | None:
    if params.get("response_type") != "code":
        return "unsupported_response_type", "response_type must be code"
    scopes = params.get("scope", "").split()
    if not scopes or not set(scopes) <= KNOWN_SCOPES:
        return "invalid_scope", "scope is missing or names an unknown scope"
    if params.get("code_challenge") and params.get("code_challenge_method") != "S256":
        return "invalid_request", "code_challenge_method must be S256"
    return None


def _user(sim: Simulator, params: dict[str, str]) -> dict[str, Any]:
    email = (params.get("login_hint") or DEFAULT_USER_EMAIL).lower()
    user = next((u for u in sim.store.values("users") if u["email"].lower() == email), None)
    if user is None:
        raise AuthorizeRefused("login_required: no user has that login_hint")
    return user


def _tenants(sim: Simulator, user: dict[str, Any]) -> list[dict[str, Any]]:
    return [tenant for t in user["tenants"] if (tenant := sim.store.get("tenants", t)) is not None]


def _chosen(tenants: list[dict[str, Any]], hint: str | None) -> dict[str, Any] | None:
    if not hint:
        return tenants[0] if tenants else None
    return next((t for t in tenants if hint in (t["id"], t["name"])), None)


async def authorize(request: Request, sim: Simulator) -> Response:
    """Show the consent page, or with auto-approve redirect straight back with a code."""
    params = dict(request.query_params)
    try:
        app = _checked_app(sim, params)
        error = _request_error(params)
        if error is not None:
            return _redirect(
                params["redirect_uri"],
                {"error": error[0], "error_description": error[1], "state": params.get("state")},
            )
        user = _user(sim, params)
    except AuthorizeRefused as exc:
        return HTMLResponse(_page("Authorization failed", f"<p>{html.escape(str(exc))}</p>"), status_code=400)
    if sim.config.auto_approve:
        return _approve(sim, app, user, params, params.get("tenant"))
    return HTMLResponse(_consent_page(params, user, _tenants(sim, user)))


async def consent(request: Request, sim: Simulator) -> Response:
    """Take the consent form's answer and redirect back with a code or ``access_denied``."""
    form = {key: str(value) for key, value in (await request.form()).items()}
    try:
        app = _checked_app(sim, form)
        user = _user(sim, form)
    except AuthorizeRefused as exc:
        return HTMLResponse(_page("Authorization failed", f"<p>{html.escape(str(exc))}</p>"), status_code=400)
    if form.get("decision") != "allow" or _request_error(form) is not None:
        return _redirect(form["redirect_uri"], {"error": "access_denied", "state": form.get("state")})
    return _approve(sim, app, user, form, form.get("tenant"))


def _approve(
    sim: Simulator, app: dict[str, Any], user: dict[str, Any], params: dict[str, str], hint: str | None
) -> Response:
    tenant = _chosen(_tenants(sim, user), hint)
    if tenant is None:
        return _redirect(params["redirect_uri"], {"error": "access_denied", "state": params.get("state")})
    code = grants.issue_code(sim, app, user, tenant["id"], params)
    return _redirect(
        params["redirect_uri"], {"code": code, "scope": params["scope"], "state": params.get("state")}
    )


def _page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html><head><title>{title}</title></head><body><h1>{title}</h1>{body}</body></html>"
    )


def _consent_page(params: dict[str, str], user: dict[str, Any], tenants: list[dict[str, Any]]) -> str:
    hidden = "".join(
        f'<input type="hidden" name="{name}" value="{html.escape(params[name])}">'
        for name in _REQUEST_PARAMS
        if params.get(name)
    )
    hidden += f'<input type="hidden" name="login_hint" value="{html.escape(user["email"])}">'
    choices = "".join(
        f'<p><label><input type="radio" name="tenant" value="{html.escape(t["id"])}"'
        f"{' checked' if i == 0 else ''}> {html.escape(t['name'])}</label></p>"
        for i, t in enumerate(tenants)
    )
    form = (
        f'<form method="post" action="{AUTHORIZE_PATH}">{hidden}'
        f"<p>{html.escape(user['email'])}: select the Xero Practice Manager account to connect.</p>{choices}"
        '<button type="submit" name="decision" value="allow">Allow access</button> '
        '<button type="submit" name="decision" value="deny">Cancel</button></form>'
    )
    return _page("Connect to Xero Practice Manager", form)


async def token(request: Request, sim: Simulator) -> Response:
    """Exchange a code or a refresh token for a token set; Xero's error bodies on failure."""
    form = {key: str(value) for key, value in (await request.form()).items()}
    try:
        app = grants.authenticate_client(sim, request.headers.get("authorization"), form)
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            body = grants.exchange_code(sim, app, form)
        elif grant_type == "refresh_token":
            body = grants.refresh(sim, app, form)
        else:
            raise grants.OAuthError("unsupported_grant_type")
    except grants.OAuthError as exc:
        return JSONResponse(exc.body(), status_code=exc.status, headers=NO_STORE)
    return JSONResponse(body, headers=NO_STORE)


async def revocation(request: Request, sim: Simulator) -> Response:
    """Revoke a refresh token's whole grant; unknown tokens succeed too (RFC 7009)."""
    form = {key: str(value) for key, value in (await request.form()).items()}
    try:
        app = grants.authenticate_client(sim, request.headers.get("authorization"), form)
    except grants.OAuthError as exc:
        return JSONResponse(exc.body(), status_code=exc.status, headers=NO_STORE)
    grants.revoke(sim, app, form.get("token", ""))
    return Response(b"", status_code=200)


ROUTES: list[Route] = [
    identity_route("GET", AUTHORIZE_PATH, authorize),
    identity_route("POST", AUTHORIZE_PATH, consent),
    identity_route("POST", "/connect/token", token),
    identity_route("POST", "/connect/revocation", revocation),
]
