"""The login's callback server: loopback by default, every address when told (a login in a container)."""

from __future__ import annotations

import threading

import httpx
import pytest

from classxpm.xpm.callback import CallbackServer
from classxpm.xpm.errors import ConfigurationError

REDIRECT = "http://127.0.0.1:8765/callback"


@pytest.mark.parametrize(("host", "bound"), [(None, "127.0.0.1"), ("0.0.0.0", "0.0.0.0")])
def test_the_callback_arrives_through_loopback_whichever_address_is_bound(host, bound):
    server = CallbackServer(REDIRECT, 0) if host is None else CallbackServer(REDIRECT, 0, host=host)
    with server:
        assert server.server_address[0] == bound
        url = f"http://127.0.0.1:{server.port}"
        sender = threading.Thread(
            target=lambda: [httpx.get(f"{url}/elsewhere"), httpx.get(f"{url}/callback?code=c&state=s")]
        )
        sender.start()
        received = server.wait_for_callback(10)
        sender.join(10)
    assert received == "/callback?code=c&state=s", "only the redirect URI's path counts"


def test_no_callback_within_the_timeout_is_named():
    with CallbackServer(REDIRECT, 0) as server, pytest.raises(ConfigurationError, match="no authorisation"):
        server.wait_for_callback(0.2)


def test_a_port_in_use_is_named_with_the_fix():
    with CallbackServer(REDIRECT, 0) as taken, pytest.raises(ConfigurationError) as raised:
        CallbackServer(REDIRECT, taken.port)
    message = str(raised.value)
    assert f"127.0.0.1:{taken.port} is in use" in message
    assert "--port" in message
