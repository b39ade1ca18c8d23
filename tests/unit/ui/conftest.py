"""The pages under FastAPI's TestClient: an in-memory state database, Airflow's real SimpleAuthManager
deciding the roles, and Airflow's REST API played by an httpx MockTransport that records what it got."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlalchemy.pool import StaticPool

import classxpm.jobs.tables
import classxpm.sync.tables  # noqa: F401  (registers the sync tables on the state metadata)
from classxpm.state.crypto import TokenCipher
from classxpm.state.tables import metadata
from classxpm.state.tokens import TokenStore
from classxpm.ui import access, pages
from classxpm.ui.app import create_app
from classxpm.ui.services import UiServices
from classxpm.xpm.auth import TokenSet
from classxpm.xpm.config import XpmConfig

NOW = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
BUSINESS = "biz-1"


class AirflowApi:
    """Airflow's REST API as seen by the trigger: records requests, answers as Airflow 3.3 does."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.status = 200
        self.paused = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.status != 200:
            return httpx.Response(self.status, json={"detail": "refused"})
        if request.method == "POST":
            return httpx.Response(200, json={"dag_run_id": "manual__2026-05-01T09:00:00", "state": "queued"})
        return httpx.Response(200, json={"dag_id": "class_xpm_sync", "is_paused": self.paused})

    def posted(self) -> list[dict]:
        return [json.loads(request.content) for request in self.requests if request.method == "POST"]


@pytest.fixture
def state():
    engine = sa.create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def airflow_api() -> AirflowApi:
    return AirflowApi()


@pytest.fixture
def services(state, airflow_api) -> UiServices:
    config = XpmConfig(client_id="classxpm-app", client_secret="not-a-real-secret")
    return UiServices(
        state=state,
        cipher=TokenCipher(Fernet.generate_key().decode()),
        xpm_config=lambda: config,
        reports_dir=Path("/nonexistent-reports"),
        airflow=httpx.Client(transport=httpx.MockTransport(airflow_api)),
        clock=lambda: NOW,
    )


def _simple_auth_manager():
    from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

    return SimpleAuthManager()


def _client_as(services: UiServices, role: str | None) -> TestClient:
    """A test client signed in as an Airflow user with ``role`` (None: not signed in at all)."""
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    app = create_app()
    app.dependency_overrides[pages.services] = lambda: services
    app.dependency_overrides[access.auth_manager] = _simple_auth_manager
    if role is not None:
        user = SimpleAuthManagerUser(username=f"{role}-user", role=role)
        app.dependency_overrides[access.airflow_user] = lambda: user
    cookies = {"_token": "the-users-airflow-jwt"} if role else {}
    return TestClient(app, root_path="/classxpm", cookies=cookies)


@pytest.fixture
def as_role():
    """Make a test client signed in with an Airflow role (None: not signed in) on given services."""
    return _client_as


@pytest.fixture
def admin(services) -> TestClient:
    return _client_as(services, "admin")


@pytest.fixture
def viewer(services) -> TestClient:
    return _client_as(services, "viewer")


@pytest.fixture
def grant(services):
    """Store a grant for a business (by default biz-1 on Demo Practice), authorised at NOW."""

    def save(business_id: str = BUSINESS, tenant: str = "Demo Practice") -> None:
        tokens = TokenSet(
            "access", "refresh", NOW + timedelta(minutes=30), "offline_access", None, "tenant-1"
        )
        TokenStore(services.state, services.cipher, lambda: NOW).save(business_id, tokens, tenant, "conn-1")

    return save
