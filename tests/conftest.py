"""Suite-wide set-up: tier markers from the folder a test lives in, and fixtures from tests/fixtures/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("AIRFLOW_HOME", str(ROOT / ".airflow"))
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
