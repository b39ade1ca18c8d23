"""``--state FILE``: records, grants, the clock and the call log survive a restart; the CLI serves them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx

from classxpm.demo import free_port
from classxpm.xpm_sim.testing import running_simulator


def test_state_file_survives_a_restart(tmp_path):
    state = tmp_path / "sim.db"
    with running_simulator(state_file=state, auto_approve=True) as sim:
        tokens = sim.authorize()
        with sim.api_client(tokens["access_token"]) as api:
            api.post(
                "client.api/add",
                content=b"<Client><Name>Kept</Name><TaxNumber>123456782</TaxNumber></Client>",
            )
        sim.advance_clock(600)
        clock_before = sim.admin.get("/_sim/clock").json()["now"]

    with running_simulator(state_file=state, auto_approve=True) as sim:
        assert sim.admin.get("/_sim/clock").json()["now"] >= clock_before
        with sim.api_client(tokens["access_token"]) as api:
            listed = ET.fromstring(api.get("client.api/list", params={"detailed": "true"}).content)
        assert [c.findtext("Name") for c in listed.findall("Clients/Client")] == ["Kept"]
        assert listed.findtext("Clients/Client/TaxNumber") == "******782"
        refreshed = httpx.post(
            f"{sim.base_url}/connect/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            auth=(sim.client_id, sim.client_secret),
        )
        assert refreshed.status_code == 200
        assert sim.calls()["by_endpoint"]["POST client.api/add"] == 1


def _serve(port: int, state: Path) -> subprocess.Popen:
    command = [
        str(Path(sys.executable).parent / "classxpm"),
        "xpm-sim",
        "serve",
        "--port",
        str(port),
        "--state",
        str(state),
    ]
    return subprocess.Popen(
        [*command, "--auto-approve", "--minute-limit", "30", "--set", "unknown_uuid_status=404"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _wait_ready(base_url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and process.poll() is None:
        try:
            httpx.get(f"{base_url}/_sim/health", timeout=0.5)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError(f"the CLI simulator did not start: {process.stdout.read().decode()}")


def test_cli_serves_with_flags_and_state(tmp_path):
    port, state = free_port(), tmp_path / "cli.db"
    base_url = f"http://127.0.0.1:{port}"
    for round_number in (1, 2):
        process = _serve(port, state)
        try:
            _wait_ready(base_url, process)
            config = httpx.get(f"{base_url}/_sim/config").json()
            assert (config["minute_limit"], config["unknown_uuid_status"], config["auto_approve"]) == (
                30,
                404,
                True,
            )
            if round_number == 1:
                httpx.post(f"{base_url}/_sim/seed", json={"clients": [{"Name": "From the CLI"}]})
            clients = httpx.get(f"{base_url}/_sim/state").json()["clients"]
            assert [c["Name"] for c in clients] == ["From the CLI"]
        finally:
            process.terminate()
            output = process.communicate(timeout=10)[0].decode()
        assert "client id:     classxpm-demo" in output
        assert "client secret: classxpm-demo-secret" in output
