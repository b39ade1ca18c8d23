"""What every page shares: the templates, the services dependency, and rendering."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from classxpm.ui.clock import local_time, zone_label
from classxpm.ui.services import UiServices, airflow_services

TEMPLATES = Jinja2Templates(directory=Path(__file__).with_name("templates"))
TEMPLATES.env.filters["local_time"] = local_time
TEMPLATES.env.globals["zone_label"] = zone_label
DEFAULT_BUSINESS = "default"


def services() -> UiServices:
    """The API server's services (tests override this dependency with their own)."""
    return airflow_services()


ServicesDep = Annotated[UiServices, Depends(services)]


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render a page template with ``context``."""
    return TEMPLATES.TemplateResponse(request, template, context, status_code=status_code)


def mount_path(request: Request) -> str:
    """Where Airflow mounted the app (``/classxpm``): cookie paths are scoped to it."""
    return request.scope.get("root_path", "") or "/"


def airflow_root(request: Request) -> str:
    """The API server's own base URL, for calls to Airflow's REST API (and the user's token with them).

    Airflow's ``[api] base_url`` when set, so a forged Host header cannot send the token elsewhere; else
    the URL the request reached.
    """
    base = str(request.base_url).rstrip("/")
    return _configured_base() or base.removesuffix(request.scope.get("root_path", "").rstrip("/"))


def callback_url(request: Request) -> str:
    """The OAuth redirect URI of the pages: under Airflow's ``[api] base_url`` when set (see airflow_root)."""
    reached = str(request.url_for("authorise_callback"))
    configured = _configured_base()
    return configured + urlsplit(reached).path if configured else reached


def _configured_base() -> str:
    from airflow.configuration import conf

    return (conf.get("api", "base_url", fallback="") or "").rstrip("/")
