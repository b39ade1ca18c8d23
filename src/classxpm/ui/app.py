"""The FastAPI app the Airflow plugin mounts on the API server: routes, static files, error pages.

Errors are turned into pages here, once: XPM's (with their own plain-words messages), a refused role,
Airflow refusing the sync, and HTTP errors (not signed in, not found).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from classxpm.errors import ClassXpmError, NotAuthorised, Reauthorise, Retriable
from classxpm.ui.access import Refused
from classxpm.ui.airflow_api import TriggerFailed
from classxpm.ui.pages import render
from classxpm.ui.views import authorise, funds, reports, review, runs, settings
from classxpm.validation import data_docs
from classxpm.xpm.errors import XpmError

VENDOR = Path(data_docs.__file__).with_name(data_docs.ASSETS)
"""The JavaScript libraries vendored for the offline Data Docs; the run page draws its charts with Vega."""
TITLES = {401: "Please sign in to Airflow", 403: "Not allowed", 404: "Not found"}


def create_app() -> FastAPI:
    """Build the app (cheap: nothing is looked up until the first request)."""
    app = FastAPI(title="Class XPM", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=Path(__file__).with_name("static")), name="static")
    app.mount("/vendor", StaticFiles(directory=VENDOR), name="vendor")
    for module in (settings, authorise, funds, review, reports, runs):
        app.include_router(module.router)
    app.add_exception_handler(ClassXpmError, _project_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_api_route("/", _home, include_in_schema=False)
    return app


def _home(request: Request) -> RedirectResponse:
    return RedirectResponse(request.url_for("settings"), status_code=303)


def _project_error(request: Request, exc: Exception) -> HTMLResponse:
    """One page for every error of the taxonomy: the status follows its root, the title who refused."""
    return _error(request, _status(exc), _title(exc), str(exc))


def _status(exc: Exception) -> int:
    if isinstance(exc, Refused):
        return 403
    if isinstance(exc, Retriable):
        return 502
    if isinstance(exc, NotAuthorised | Reauthorise):
        return 409
    return 400


def _title(exc: Exception) -> str:
    if isinstance(exc, Refused):
        return TITLES[403]
    if isinstance(exc, TriggerFailed):
        return "The sync was not started"
    if isinstance(exc, XpmError):
        return "Xero Practice Manager"
    return "Something went wrong"


def _http_error(request: Request, exc: Exception) -> HTMLResponse:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else ""
    return _error(request, status, TITLES.get(status, "Something went wrong"), str(detail))


def _error(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    return render(request, "error.html", status_code=status, title=title, message=message)
