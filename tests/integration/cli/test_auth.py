from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
from urllib.parse import urlencode

import httpx
import pytest

from classxpm.state.migrations import upgrade
from fixtures.xpm_auth import sim_config

URL_PREFIX = "Open this URL to authorise: "


@pytest.fixture
def cli_env(xpm_sim, sqlite_url, fernet_key):
    upgrade(sqlite_url)
    config = sim_config(xpm_sim)
    extras = {
        name: getattr(config, name)
        for name in ("authorize_url", "token_url", "revocation_url", "connections_url", "redirect_uri")
    }
    connection = {
        "conn_type": "xpm",
        "login": config.client_id,
        "password": config.client_secret,
        "host": config.api_base_url,
        "extra": {**extras, "attempts": 2},
    }
    return {
        **os.environ,
        "AIRFLOW_CONN_XPM_DEFAULT": json.dumps(connection),
        "AIRFLOW_CONN_CLASSXPM_STATE": json.dumps({"conn_type": "sqlite", "host": sqlite_url[10:]}),
        "CLASSXPM_FERNET_KEY": fernet_key,
    }


BUSINESS = "b-practice"
CLASSXPM = os.path.join(os.path.dirname(sys.executable), "classxpm")


def classxpm(env, *args):
    return subprocess.run([CLASSXPM, *args], env=env, capture_output=True, text=True, check=False)


def login(env, *args, sim_tenant=None, pick=None, answers=()):
    command = [CLASSXPM, "auth", "login", "--no-browser", "--port", "0", "--business", BUSINESS, *args]
    # stderr goes to a file and stdout is only ever read through process.stdout: communicate() reads the raw
    # pipe and would lose what readline() has already buffered (the prompt, when it arrives with the list).
    # Nothing here waits on a clock: each step waits for what the CLI prints (pytest-timeout is the guard).
    with tempfile.TemporaryFile("w+") as errors:
        process = subprocess.Popen(
            command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, text=True
        )
        line = process.stdout.readline()
        assert line.startswith(URL_PREFIX), line + _rest(process, errors)[1]
        query = f"&{urlencode({'tenant': sim_tenant})}" if sim_tenant else ""
        callback = httpx.get(line[len(URL_PREFIX) :].strip() + query, follow_redirects=True, timeout=None)
        assert callback.status_code == 200
        listed = ""
        if pick is not None:
            listed = process.stdout.readline() + process.stdout.readline()
            number = next(row.split(".")[0].strip() for row in listed.splitlines() if f"{pick} (" in row)
            process.stdin.write(f"{number}\n")
        process.stdin.write("".join(f"{answer}\n" for answer in answers))
        process.stdin.flush()
        out, err = _rest(process, errors)
    return process.returncode, line + listed + out, err


def _rest(process: subprocess.Popen, errors) -> tuple[str, str]:
    """Everything the CLI prints until it exits: stdout through its buffered reader, then stderr."""
    process.stdin.close()
    out = process.stdout.read()
    process.wait()
    errors.seek(0)
    return out, errors.read()


SECOND_TENANT = {
    "tenants": [{"name": "Second Practice"}],
    "users": [{"email": "demo@practice.example", "tenants": ["Second Practice"]}],
}


def second_tenant_id(xpm_sim) -> str:
    return next(item["id"] for item in xpm_sim.state()["tenants"] if item["name"] == "Second Practice")


def test_headless_login_then_status_then_unlink(cli_env, xpm_sim):
    code, out, err = login(cli_env)
    assert code == 0, err
    assert out.strip().endswith("Xero Integration Authorised (Demo Practice)")
    status = classxpm(cli_env, "auth", "status", "--business", BUSINESS)
    assert status.returncode == 0, status.stderr
    assert status.stdout.splitlines()[0] == "Xero Integration Authorised"
    assert "Demo Practice" in status.stdout
    assert "Days left before the 60-day idle expiry: 59" in status.stdout or "expiry: 60" in status.stdout
    unlink = classxpm(cli_env, "auth", "unlink", "--business", BUSINESS)
    assert unlink.returncode == 0, unlink.stderr
    assert xpm_sim.state()["connections"] == []
    after = classxpm(cli_env, "auth", "status", "--business", BUSINESS)
    assert (after.returncode, after.stdout.strip()) == (1, "Xero Integration not Authorised")


def test_choosing_among_several_tenants_asks_and_replaces_the_first(cli_env, xpm_sim):
    xpm_sim.seed(SECOND_TENANT)
    assert login(cli_env, sim_tenant="Demo Practice")[0] == 0
    code, out, err = login(cli_env, sim_tenant="Second Practice", pick="Second Practice", answers=["y"])
    assert code == 0, err
    assert "Which Practice Manager account?" in out, repr(out)
    assert "Connect Second Practice instead of Demo Practice? [y/N]" in out
    assert "Replaced Demo Practice: its connection was deleted and its grant discarded." in out
    assert out.strip().endswith("Xero Integration Authorised (Second Practice)")
    assert [item["tenantId"] for item in xpm_sim.state()["connections"]] == [second_tenant_id(xpm_sim)]


def test_tenant_option_picks_without_asking_and_says_what_it_replaced(cli_env, xpm_sim):
    xpm_sim.seed(SECOND_TENANT)
    assert login(cli_env, sim_tenant="Demo Practice")[0] == 0
    code, out, err = login(cli_env, "--tenant", "second practice", "--yes", sim_tenant="Second Practice")
    assert code == 0, err
    assert "instead of" not in out, "--yes does not ask"
    assert "Replaced Demo Practice: its connection was deleted and its grant discarded." in out
    assert out.strip().endswith("Xero Integration Authorised (Second Practice)")
    status = classxpm(cli_env, "auth", "status", "--business", BUSINESS)
    assert "Second Practice" in status.stdout


def test_declining_another_account_keeps_the_one_the_business_has(cli_env, xpm_sim):
    xpm_sim.seed(SECOND_TENANT)
    assert login(cli_env, sim_tenant="Demo Practice")[0] == 0
    first = xpm_sim.state()["connections"]
    code, out, err = login(
        cli_env, "--tenant", "Second Practice", sim_tenant="Second Practice", answers=["n"]
    )
    assert code == 1
    assert "is connected to Demo Practice, where 0 funds are linked" in out
    assert "the next sync resets those links and links or creates every fund in Second Practice" in out
    assert f"Nothing changed: business {BUSINESS} stays connected to Demo Practice" in err
    status = classxpm(cli_env, "auth", "status", "--business", BUSINESS)
    assert "Tenant: Demo Practice" in status.stdout
    assert first[0]["id"] in {item["id"] for item in xpm_sim.state()["connections"]}


def test_a_login_whose_callback_port_is_taken_says_so_without_a_traceback(cli_env, xpm_sim):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        connection = json.loads(cli_env["AIRFLOW_CONN_XPM_DEFAULT"])
        connection["extra"]["redirect_uri"] = f"http://127.0.0.1:{port}/callback"
        env = {**cli_env, "AIRFLOW_CONN_XPM_DEFAULT": json.dumps(connection)}
        result = classxpm(env, "auth", "login", "--no-browser", "--business", BUSINESS)
    assert result.returncode == 1
    assert f"callback port 127.0.0.1:{port} is in use" in result.stderr
    assert "--port" in result.stderr
    assert "Traceback" not in result.stderr


def test_db_upgrade_command(tmp_path, cli_env):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    result = classxpm(cli_env, "db", "upgrade", "--url", url)
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout
