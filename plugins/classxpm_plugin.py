"""Airflow plugin: the Class XPM pages under /classxpm, with menu entries and a tab on each DAG run's page.

``classxpm.ui.menu`` says how Airflow 3.3 frames them.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from classxpm.ui.app import create_app
from classxpm.ui.menu import CATEGORY, MOUNT, external_views


class ClassXpmPlugin(AirflowPlugin):
    """Integration settings, the fund dashboard with XPM jobs and tasks, validation reports and sync runs."""

    name = "classxpm"
    fastapi_apps = [{"app": create_app(), "url_prefix": MOUNT, "name": CATEGORY}]
    external_views = external_views()
