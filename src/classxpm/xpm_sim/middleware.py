"""The outermost layer: correlation id and limit headers on every response, the call log, lost responses.

It also finds the transport of each request, which is what a lost response closes.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from classxpm.xpm_sim.dates import stamp
from classxpm.xpm_sim.runtime import Simulator

ADMIN_PREFIX = "/_sim/"
SCOPE_KEY = "classxpm.xpm_sim"


@dataclass
class RequestInfo:
    """What the routes learn about a request that the call log and the response headers need."""

    correlation_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    endpoint: str | None = None
    tenant: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    transport: Any = None
    lost: bool = False
    response_bytes: int = 0


def request_info(scope: Scope) -> RequestInfo:
    """The :class:`RequestInfo` of the request this scope belongs to."""
    return scope[SCOPE_KEY]


class SimMiddleware:
    """Wraps the whole app; every request outside ``/_sim/`` is logged with its endpoint and status."""

    def __init__(self, app: ASGIApp, sim: Simulator) -> None:
        self.app = app
        self.sim = sim

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the request, decorating its response and logging it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # uvicorn passes its request cycle's bound ``send``; its transport is what a lost response drops.
        info = RequestInfo(transport=getattr(getattr(send, "__self__", None), "transport", None))
        info.tenant = Headers(scope=scope).get("xero-tenant-id")
        scope[SCOPE_KEY] = info
        status: list[int] = []

        async def decorated_send(message: Message) -> None:
            if info.lost:
                return
            if message["type"] == "http.response.body":
                info.response_bytes += len(message.get("body", b""))
            if message["type"] == "http.response.start":
                status.append(message["status"])
                headers = MutableHeaders(scope=message)
                headers["xero-correlation-id"] = info.correlation_id
                for name, value in info.headers.items():
                    headers[name] = value
            await send(message)

        try:
            await self.app(scope, receive, decorated_send)
        finally:
            if not scope["path"].startswith(ADMIN_PREFIX):
                self._log(scope, info, "lost" if info.lost else (status[0] if status else 500))

    def _log(self, scope: Scope, info: RequestInfo, status: int | str) -> None:
        endpoint = info.endpoint or f"{scope['method']} {scope['path']}"
        self.sim.store.log_call(
            {
                "at": stamp(self.sim.now()),
                "method": scope["method"],
                "path": scope["path"],
                "query": scope.get("query_string", b"").decode("latin-1"),
                "endpoint": endpoint,
                "tenant": info.tenant,
                "status": status,
                "bytes": info.response_bytes,
            }
        )


class LostResponse(Response):
    """No response at all: the connection is closed, so the client sees a connection error."""

    def __init__(self) -> None:
        super().__init__(status_code=599)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Close the transport instead of answering."""
        info = request_info(scope)
        if info.transport is None:
            raise RuntimeError("lost responses need uvicorn: no transport was found for this request")
        info.lost = True
        info.transport.close()
        for _ in range(3):
            await asyncio.sleep(0)
