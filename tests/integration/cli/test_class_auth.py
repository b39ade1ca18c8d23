"""``classxpm class-auth``: login (both flows), status and unlink against the Class simulator."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from classxpm.airflow.connections import database_connection
from classxpm.state.migrations import upgrade
from fixtures.class_api import class_api_connection

CLASSXPM = str(Path(sys.executable).with_name("classxpm"))


@pytest.fixture
def env(class_sim, sqlite_url, fernet_key) -> dict[str, str]:
    upgrade(sqlite_url)
    return {
        **os.environ,
        "AIRFLOW_CONN_CLASSXPM_STATE": database_connection(sqlite_url),
        "AIRFLOW_CONN_CLASS_API": class_api_connection(class_sim),
    }


def classxpm(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    # Nothing here waits on a clock: pytest-timeout is the guard.
    return subprocess.run([CLASSXPM, *args], env=env, capture_output=True, text=True, check=False)


def test_password_login_then_status_then_unlink(env, class_sim):
    login = classxpm(env, "class-auth", "login")
    assert login.returncode == 0, login.stderr
    assert login.stdout.startswith("Class API authorised for Harbour & Co Accountants (HARBOURCO)")
    status = classxpm(env, "class-auth", "status")
    assert status.returncode == 0
    assert "HARBOURCO" in status.stdout
    assert "refresh token: held (single-use, rotated)" in status.stdout
    unlink = classxpm(env, "class-auth", "unlink", "--business", "HARBOURCO")
    assert unlink.returncode == 0
    assert "Partner Application Access" in unlink.stdout
    assert _grant(env, "HARBOURCO") is None
    printed = login.stdout + login.stderr + status.stdout + unlink.stdout
    assert class_sim.config.password not in printed
    assert class_sim.config.client_secret not in printed


def _grant(env: dict[str, str], business: str):
    from classxpm.db import make_engine
    from classxpm.state.class_grants import ClassGrantStore
    from classxpm.state.crypto import TokenCipher

    url = json.loads(env["AIRFLOW_CONN_CLASSXPM_STATE"])["extra"]["sqlalchemy_url"]
    engine = make_engine(url)
    try:
        return ClassGrantStore(engine, TokenCipher(env["CLASSXPM_FERNET_KEY"])).get(business)
    finally:
        engine.dispose()


def test_authorization_code_login_for_a_named_business(env, class_sim):
    env["AIRFLOW_CONN_CLASS_API"] = class_api_connection(class_sim, flow="authorization_code")
    command = [CLASSXPM, "class-auth", "login", "--no-browser", "--port", "0", "--business", "practice"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    first = process.stdout.readline()
    url = re.search(r"https?://\S+", first).group(0)
    assert "target%3Ab" in url
    assert "state=" in url
    httpx.get(url, follow_redirects=True, timeout=None)
    rest = process.stdout.read()
    assert process.wait() == 0, rest
    assert "business id in this pipeline: practice" in rest
    grant = _grant(env, "practice")
    assert grant.tokens.business_code == "HARBOURCO"
    assert grant.flow == "authorization_code"
