"""A one-shot HTTP server that receives the OAuth redirect of a local login (on 127.0.0.1 by default)."""

from __future__ import annotations

import errno
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import urlsplit

from classxpm.xpm.errors import ConfigurationError

_PAGE = b"<html><body><p>Authorisation received. You can close this window.</p></body></html>"


def _port_taken(redirect_uri: str, host: str, port: int) -> str:
    return (
        f"the login's callback port {host}:{port} is in use by another program (the XPM simulator listens "
        f"on 8765 by default, the port of the redirect URI {redirect_uri}). Stop that program, or pass "
        "--port with a free port whose redirect URI is registered with the app (the simulator accepts "
        "any port: --port 0)"
    )


class _Handler(BaseHTTPRequestHandler):
    server: CallbackServer

    def do_GET(self) -> None:
        if urlsplit(self.path).path != self.server.callback_path:
            self.send_error(404)
            return
        self.server.received = self.path
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(_PAGE)

    def log_message(self, format: str, *args: object) -> None:
        """Log nothing: the request line carries the authorization code."""


class CallbackServer(HTTPServer):
    """Listens on the redirect URI's path; ``port`` 0 picks a free port.

    ``host`` is 127.0.0.1 unless the login runs in a container: there it listens on 0.0.0.0 and the
    container's port is published on the host's 127.0.0.1, where the browser's redirect arrives.
    """

    def __init__(self, redirect_uri: str, port: int, host: str = "127.0.0.1") -> None:
        self.callback_path = urlsplit(redirect_uri).path or "/"
        self.received: str | None = None
        try:
            super().__init__((host, port), _Handler)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            raise ConfigurationError(_port_taken(redirect_uri, host, port)) from None

    @property
    def port(self) -> int:
        """The port actually bound."""
        return self.server_address[1]

    def wait_for_callback(self, timeout_seconds: float) -> str:
        """Serve until the redirect arrives; return its path and query.

        Raises:
            ConfigurationError: No redirect arrived within ``timeout_seconds``.
        """
        deadline = time.monotonic() + timeout_seconds
        while self.received is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ConfigurationError(f"no authorisation callback arrived within {timeout_seconds:.0f} s")
            self.timeout = min(remaining, 1.0)
            self.handle_request()
        return self.received
