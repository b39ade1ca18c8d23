"""Airflow plugin: the Class XPM pages, served by the API server under /classxpm, with menu entries."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from classxpm.ui.app import create_app

URL_PREFIX = "/classxpm"
CATEGORY = "Class XPM"


def _menu(name: str, page: str) -> dict[str, str]:
    return {
        "name": name,
        "href": f"{URL_PREFIX}/{page}",
        "category": CATEGORY,
        "destination": "nav",
        "url_route": f"classxpm-{page}",
    }


class ClassXpmPlugin(AirflowPlugin):
    """Integration settings, the fund dashboard with XPM jobs and tasks, and validation reports."""

    name = "classxpm"
    fastapi_apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "Class XPM"}]
    external_views = [
        _menu("Integration settings", "settings"),
        _menu("Fund dashboard", "funds"),
        _menu("Validation reports", "reports"),
    ]
