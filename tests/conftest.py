"""Suite-wide set-up: tier markers from the folder a test lives in, and fixtures from tests/fixtures/."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("AIRFLOW_HOME", str(ROOT / ".airflow"))


def _worker_airflow_home(worker: str) -> None:
    """Give a pytest-xdist worker an AIRFLOW_HOME of its own, holding a copy of the migrated metadata DB.

    ``dag.test()`` writes its runs to the SQLite metadata DB; two workers writing one file would lock each
    other out. The copy is taken before this worker imports Airflow, from the DB ``make`` migrated (with the
    ``xpm_api`` pool), so every worker starts from the same state. Airflow writes the worker's own
    airflow.cfg on first import; the shared one names the shared DB, so it is not copied.
    """
    shared = Path(os.environ["AIRFLOW_HOME"])
    home = shared / "xdist" / worker
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    shutil.copy2(shared / "airflow.db", home / "airflow.db")
    if os.environ.get("CLASSXPM_HOME") in (None, str(shared)):
        os.environ["CLASSXPM_HOME"] = str(home)
    os.environ["AIRFLOW_HOME"] = str(home)


if os.environ.get("PYTEST_XDIST_WORKER"):
    _worker_airflow_home(os.environ["PYTEST_XDIST_WORKER"])
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(ROOT / "dags"))
os.environ.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(ROOT / "plugins"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

pytest_plugins = sorted(
    f"fixtures.{path.stem}" for path in (ROOT / "tests" / "fixtures").glob("*.py") if path.stem != "__init__"
)

TIERS = ("unit", "integration", "dags", "browser", "reliability", "cluster")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its tier, taken from the first folder under tests/."""
    for item in items:
        parts = Path(item.fspath).relative_to(ROOT / "tests").parts
        if parts and parts[0] in TIERS:
            item.add_marker(parts[0])
