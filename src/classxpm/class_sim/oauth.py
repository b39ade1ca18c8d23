"""Class's identity endpoints: authorize (approved at once, as a consenting user would) and token.

Clients authenticate with HTTP Basic (``client_id:client_secret``). A token is for one business: the
``target:b/<BusinessCode>`` scope names it, or, with a bare ``target:b``, the user picks it (``business``
query parameter, else the simulator's one business). Refresh tokens are single-use.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from classxpm.class_sim.runtime import Grant, Simulator

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
TARGET = "target:b"


def _error(error: str, description: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status, headers=NO_STORE)


def _business_of(sim: Simulator, scopes: list[str], picked: str | None) -> str | None:
    """The business a grant is for: ``target:b/<code>``, else the user's pick, else the only business."""
    for scope in scopes:
        if scope.startswith(f"{TARGET}/"):
            business = sim.data.business(scope.removeprefix(f"{TARGET}/"))
            return business.code if business else None
    if TARGET not in scopes:
        return None
    if picked:
        business = sim.data.business(picked)
        return business.code if business else None
    codes = list(sim.data.businesses)
    return codes[0] if len(codes) == 1 else None


def _grant(sim: Simulator, client_id: str, scopes: list[str], business: str) -> Grant:
    granted = frozenset(scope for scope in scopes if not scope.startswith(TARGET)) | {f"{TARGET}/{business}"}
    return Grant(client_id, business, granted, "offline_access" in scopes)


async def authorize(request: Request) -> Response:
    """GET /connect/authorize: redirect back with a code (the user consents), or with an error."""
    sim: Simulator = request.app.state.sim
    params = dict(request.query_params)
    redirect_uri = params.get("redirect_uri", "")
    if params.get("client_id") != sim.config.client_id or not redirect_uri:
        return _error("unauthorized_client", "unknown client_id or no redirect_uri")
    scopes = params.get("scope", "").split()
    business = _business_of(sim, scopes, params.get("business"))
    back: dict[str, str] = {"state": params.get("state", "")}
    if params.get("response_type") != "code":
        back["error"] = "unsupported_response_type"
    elif business is None:
        back["error"] = "invalid_scope"
    else:
        back["code"] = sim.issue_code(_grant(sim, sim.config.client_id, scopes, business), redirect_uri)
    separator = "&" if "?" in redirect_uri else "?"
    return RedirectResponse(f"{redirect_uri}{separator}{urlencode(back)}", status_code=302)


def _client(request: Request, sim: Simulator) -> str | None:
    """The client id when the Basic header (case-sensitive, as Class's is) holds the right secret."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return None
    try:
        client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    ok = client_id == sim.config.client_id and secret == sim.config.client_secret
    return client_id if ok else None


async def token(request: Request) -> Response:
    """POST /connect/token: the authorization_code, refresh_token and password grants."""
    sim: Simulator = request.app.state.sim
    client_id = _client(request, sim)
    if client_id is None:
        return _error("invalid_client", "Client authentication failed")
    form = dict(await request.form())
    kind = form.get("grant_type")
    if kind == "authorization_code":
        grant = sim.redeem_code(str(form.get("code", "")), client_id, str(form.get("redirect_uri", "")))
    elif kind == "refresh_token":
        grant = sim.use_refresh_token(str(form.get("refresh_token", "")), client_id)
    elif kind == "password":
        return _password(sim, client_id, form)
    else:
        return _error("unsupported_grant_type", f"grant_type {kind!r} is not supported")
    if grant is None:
        return _error("invalid_grant", "the code or refresh token is unknown, used or expired")
    return _tokens(sim, grant)


def _password(sim: Simulator, client_id: str, form: dict[str, object]) -> Response:
    if form.get("username") != sim.config.username or form.get("password") != sim.config.password:
        return _error("invalid_grant", "invalid username or password")
    scopes = str(form.get("scope", "")).split()
    business = _business_of(sim, scopes, None)
    if business is None or not any(scope.startswith(f"{TARGET}/") for scope in scopes):
        return _error("invalid_scope", "the password flow needs target:b/<BusinessCode>")
    grant = _grant(sim, client_id, scopes, business)
    if not sim.config.password_refresh:
        grant = Grant(grant.client_id, grant.business_code, grant.scopes, offline=False)
    return _tokens(sim, grant)


def _tokens(sim: Simulator, grant: Grant) -> Response:
    business = sim.data.business(grant.business_code)
    body = {
        **sim.issue_tokens(grant),
        "BusinessName": business.name if business else "",
        "BusinessCode": grant.business_code,
    }
    return JSONResponse(body, headers=NO_STORE)


ROUTES = [
    Route("/connect/authorize", authorize, methods=["GET"]),
    Route("/connect/token", token, methods=["POST"]),
]
