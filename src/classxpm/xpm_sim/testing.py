"""Run the simulator inside a test process: uvicorn on a free loopback port, in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from classxpm.errors import Fatal
from classxpm.xpm_sim.config import DEFAULT_TENANT_ID, SimConfig

DEFAULT_SCOPE = "offline_access practicemanager.client practicemanager.job.read"
DEFAULT_REDIRECT_URI = "http://127.0.0.1:8765/callback"
STARTUP_TIMEOUT_SECONDS = 10.0


class SimulatorStartError(Fatal):
    """The simulator did not start answering in time."""


@dataclass
class SimulatorHandle:
    """A running simulator: where it is, the demo app's credentials, and an admin client."""

    base_url: str
    client_id: str
    client_secret: str
    tenant_id: str
    admin: httpx.Client

    def _json(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.admin.request(method, path, json=body)
        response.raise_for_status()
        return response.json()

    def reset(self, default_config: bool = True) -> None:
        """Back to the default state (and the start-up config unless ``default_config`` is False)."""
        self._json("POST", "/_sim/reset", {"config": "default"} if default_config else {})

    def seed(self, payload: dict[str, Any]) -> dict[str, Any]:
        """POST /_sim/seed; returns the ids created."""
        return self._json("POST", "/_sim/seed", payload)

    def state(self) -> dict[str, Any]:
        """GET /_sim/state."""
        return self._json("GET", "/_sim/state")

    def calls(self) -> dict[str, Any]:
        """GET /_sim/calls."""
        return self._json("GET", "/_sim/calls")

    def advance_clock(self, seconds: float) -> dict[str, Any]:
        """Move the simulated time forward."""
        return self._json("POST", "/_sim/clock", {"advance_seconds": seconds})

    def set_faults(self, rules: list[dict[str, Any]], seed: int = 0) -> dict[str, Any]:
        """PUT /_sim/faults."""
        return self._json("PUT", "/_sim/faults", {"seed": seed, "rules": rules})

    def patch_config(self, **fields: Any) -> dict[str, Any]:
        """PATCH /_sim/config."""
        return self._json("PATCH", "/_sim/config", fields)

    def authorize(
        self, scope: str = DEFAULT_SCOPE, tenant: str | None = None, login_hint: str | None = None
    ) -> dict[str, Any]:
        """Run the authorization-code flow over HTTP (approving the consent) and return the token set."""
        params = {"response_type": "code", "client_id": self.client_id, "redirect_uri": DEFAULT_REDIRECT_URI}
        params.update(scope=scope, state="handle", **({"login_hint": login_hint} if login_hint else {}))
        with httpx.Client(base_url=self.base_url, follow_redirects=False) as http:
            answer = http.get(
                "/identity/connect/authorize", params={**params, **({"tenant": tenant} if tenant else {})}
            )
            if answer.status_code == 200:
                consent = {**params, "decision": "allow", **({"tenant": tenant} if tenant else {})}
                answer = http.post("/identity/connect/authorize", data=consent)
            code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
            form = {"grant_type": "authorization_code", "code": code, "redirect_uri": DEFAULT_REDIRECT_URI}
            tokens = http.post("/connect/token", data=form, auth=(self.client_id, self.client_secret))
        tokens.raise_for_status()
        return tokens.json()

    def api_client(self, access_token: str | None = None, tenant_id: str | None = None) -> httpx.Client:
        """An httpx client for the XPM API: a fresh token and the default tenant unless given."""
        token = access_token or self.authorize()["access_token"]
        headers = {"Authorization": f"Bearer {token}", "xero-tenant-id": tenant_id or self.tenant_id}
        return httpx.Client(base_url=f"{self.base_url}/practicemanager/3.1/", headers=headers, timeout=10.0)


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def running_simulator(
    state_file: str | Path | None = None, **config_overrides: Any
) -> Iterator[SimulatorHandle]:
    """Start the simulator on a free loopback port for the duration of the block.

    Args:
        state_file: A SQLite file to persist to (as ``--state``); in memory when None.
        **config_overrides: SimConfig fields to start with (e.g. ``auto_approve=True``).

    Yields:
        The handle of the running simulator.

    Raises:
        SimulatorStartError: When it does not answer within ten seconds.
    """
    from classxpm.xpm_sim.app import create_app
    from classxpm.xpm_sim.persistence import SqliteState
    from classxpm.xpm_sim.store import Store

    config = SimConfig().patched(config_overrides)
    store = Store(SqliteState(state_file)) if state_file else Store()
    try:
        with serving(create_app(config, store), "xpm-sim") as base_url:
            admin = httpx.Client(base_url=base_url, timeout=10.0)
            try:
                yield SimulatorHandle(
                    base_url, config.client_id, config.client_secret, DEFAULT_TENANT_ID, admin
                )
            finally:
                admin.close()
    finally:
        store.close()


@contextmanager
def serving(app: Any, name: str) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free loopback port, in a background thread; yields its URL.

    Raises:
        SimulatorStartError: When it does not answer within ten seconds.
    """
    import uvicorn

    sock = _free_socket()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name=name)
    thread.start()
    try:
        _wait_until_started(server, thread)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _wait_until_started(server: Any, thread: threading.Thread) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise SimulatorStartError(f"the simulator ({thread.name}) did not start")
        time.sleep(0.01)
