"""Where Airflow shows the pages: the plugin's menu entries and run tab, and addresses inside Airflow.

Airflow 3.3's UI shows an ``external_views`` entry that has a ``url_route`` inside its own page, in an
``<iframe sandbox="allow-scripts allow-same-origin allow-forms allow-downloads">``: under
``/plugin/<url_route>`` for a menu entry (``destination: nav``), and as a tab of every DAG run's page for
``destination: dag_run`` (its ``href`` templated with ``{DAG_ID}`` and ``{RUN_ID}``). Without
``allow-popups`` or ``allow-top-navigation`` a link in that frame can neither open a tab nor replace
Airflow's page (``target="_blank"`` and ``target="_top"`` are refused; only the browser console says so).
So the pages navigate in place, and the few links that must leave the frame (Xero's login, which refuses to
be framed, and XPM itself) are followed by Airflow's own page through ``static/frame.js``.

While a menu frame navigates, Airflow mirrors its path in its own address
(``/plugin/<url_route>/classxpm/...``), so such an address opens the page inside Airflow, menu and all.
"""

from __future__ import annotations

from typing import Any

MOUNT = "/classxpm"
CATEGORY = "Class XPM"
SETTINGS_ROUTE = "classxpm-settings"
RUN_TAB = "Class XPM sync"
MENU = (("Integration settings", "settings"), ("Fund dashboard", "funds"), ("Validation reports", "reports"))


def external_views() -> list[dict[str, Any]]:
    """The plugin's ``external_views``: the menu entries, and the sync tab on every DAG run's page."""
    entries: list[dict[str, Any]] = [
        {
            "name": name,
            "href": f"{MOUNT}/{page}",
            "category": CATEGORY,
            "destination": "nav",
            "url_route": f"classxpm-{page}",
        }
        for name, page in MENU
    ]
    entries.append(
        {
            "name": RUN_TAB,
            "href": f"{MOUNT}/airflow-runs/{{DAG_ID}}/{{RUN_ID}}",
            "destination": "dag_run",
            "url_route": "classxpm-sync-run",
        }
    )
    return entries


def in_airflow(airflow_root: str, page_path: str) -> str:
    """The address of one of the pages (``page_path``: its path and query) inside Airflow's menu frame."""
    return f"{airflow_root.rstrip('/')}/plugin/{SETTINGS_ROUTE}{page_path}"
