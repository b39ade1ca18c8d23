"""The pages against the simulator: a migrated state database, Airflow's SimpleAuthManager roles, and
Airflow's REST API played by an httpx MockTransport."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from classxpm.db import make_engine
from classxpm.state.crypto import TokenCipher
from classxpm.state.migrations import upgrade
from classxpm.ui import access, pages
from classxpm.ui.app import create_app
from classxpm.ui.services import UiServices
from fixtures.xpm_auth import sim_config


def _airflow(request: httpx.Request) -> httpx.Response:
    if request.method == "POST":
        return httpx.Response(200, json={"dag_run_id": "manual__1", "state": "queued"})
    return httpx.Response(200, json={"is_paused": False})


def _simple_auth_manager():
    from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

    return SimpleAuthManager()


@pytest.fixture
def ui_services(db_url, fernet_key, xpm_sim, tmp_path: Path) -> UiServices:
    upgrade(db_url)
    engine = make_engine(db_url)
    config = sim_config(xpm_sim)
    yield UiServices(
        state=engine,
        cipher=TokenCipher(fernet_key),
        xpm_config=lambda: config,
        reports_dir=tmp_path / "reports",
        airflow=httpx.Client(transport=httpx.MockTransport(_airflow)),
    )
    engine.dispose()


def _client_as(services: UiServices, username: str, role: str) -> TestClient:
    """The pages signed in as an Airflow user with ``role``, Airflow's SimpleAuthManager deciding."""
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    app = create_app()
    app.dependency_overrides[pages.services] = lambda: services
    app.dependency_overrides[access.auth_manager] = _simple_auth_manager
    user = SimpleAuthManagerUser(username=username, role=role)
    app.dependency_overrides[access.airflow_user] = lambda: user
    return TestClient(app, base_url="http://127.0.0.1:8080", root_path="/classxpm", cookies={"_token": "jwt"})


@pytest.fixture
def admin_client(ui_services) -> TestClient:
    return _client_as(ui_services, "ann", "admin")


@pytest.fixture
def viewer_client(ui_services) -> TestClient:
    """The pages signed in as an Airflow Viewer: they may read, not act."""
    return _client_as(ui_services, "vic", "viewer")
