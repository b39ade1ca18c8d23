"""What every page shares: the templates, the services dependency, and rendering."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from classxpm.ui.services import UiServices, airflow_services

TEMPLATES = Jinja2Templates(directory=Path(__file__).with_name("templates"))
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
    """The API server's own base URL, for calls to Airflow's REST API."""
    base = str(request.base_url).rstrip("/")
    return base.removesuffix(request.scope.get("root_path", "").rstrip("/"))
