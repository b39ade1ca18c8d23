"""The running Class simulator: config, data, issued tokens, the per-client rate window and a call log."""

from __future__ import annotations

import math
import secrets
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from classxpm.class_sim.config import ClassSimConfig
from classxpm.class_sim.data import ClassData

WINDOW_SECONDS = 60.0
CODE_LIFETIME_SECONDS = 300.0


@dataclass(frozen=True)
class Grant:
    """What a token was issued for: the client, one business and the scopes granted."""

    client_id: str
    business_code: str
    scopes: frozenset[str]
    offline: bool


@dataclass
class _Window:
    started: float
    used: int = 0


@dataclass
class Simulator:
    """Everything the routes share. Tokens and codes are opaque random strings, each bound to one grant."""

    config: ClassSimConfig
    data: ClassData = field(default_factory=ClassData)
    monotonic: Callable[[], float] = time.monotonic
    calls: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.initial_config = self.config
        self._lock = threading.Lock()
        self._access: dict[str, tuple[Grant, float]] = {}
        self._refresh: dict[str, Grant] = {}
        self._codes: dict[str, tuple[Grant, str, float]] = {}
        self._windows: dict[str, _Window] = {}

    def issue_code(self, grant: Grant, redirect_uri: str) -> str:
        """A single-use authorization code (a GUID, as Class's are) for ``grant``."""
        code = str(uuid.uuid4())
        with self._lock:
            self._codes[code] = (grant, redirect_uri, self.monotonic() + CODE_LIFETIME_SECONDS)
        return code

    def redeem_code(self, code: str, client_id: str, redirect_uri: str) -> Grant | None:
        """The code's grant, once only; None when unknown, used, expired or not this client's."""
        with self._lock:
            entry = self._codes.pop(code, None)
        if entry is None:
            return None
        grant, issued_to, expires = entry
        ok = grant.client_id == client_id and issued_to == redirect_uri and self.monotonic() < expires
        return grant if ok else None

    def issue_tokens(self, grant: Grant) -> dict[str, str]:
        """A fresh access token, and a refresh token when the grant is offline: the token response's body."""
        access = secrets.token_urlsafe(32)
        lifetime = self.config.access_lifetime_seconds / self.config.time_scale
        body = {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": str(self.config.access_lifetime_seconds),
            "scope": " ".join(sorted(grant.scopes)),
        }
        with self._lock:
            self._access[access] = (grant, self.monotonic() + lifetime)
            if grant.offline:
                body["refresh_token"] = str(uuid.uuid4())
                self._refresh[body["refresh_token"]] = grant
        return body

    def use_refresh_token(self, token: str, client_id: str) -> Grant | None:
        """The refresh token's grant, once only (single-use); None when unknown, used or not this client's."""
        with self._lock:
            grant = self._refresh.pop(token, None)
        return grant if grant is not None and grant.client_id == client_id else None

    def grant_of(self, access_token: str) -> Grant | None:
        """The grant of a live access token; None when unknown or expired."""
        with self._lock:
            entry = self._access.get(access_token)
        if entry is None or self.monotonic() >= entry[1]:
            return None
        return entry[0]

    def expire_access_tokens(self) -> None:
        """Make every access token expired (a test of the client's refresh)."""
        with self._lock:
            self._access = {token: (grant, 0.0) for token, (grant, _) in self._access.items()}

    def take_call(self, client_id: str) -> tuple[bool, int, float]:
        """Count one API call against the client's window: (allowed, remaining, seconds until reset).

        The seconds are real seconds; the window lasts a simulated minute.
        """
        now, length = self.monotonic(), WINDOW_SECONDS / self.config.time_scale
        with self._lock:
            window = self._windows.get(client_id)
            if window is None or now - window.started >= length:
                window = self._windows[client_id] = _Window(now)
            reset_after = max(window.started + length - now, 0.0)
            if window.used >= self.config.minute_limit:
                return False, 0, reset_after
            window.used += 1
            return True, self.config.minute_limit - window.used, reset_after

    def log_call(self, endpoint: str, status: int) -> None:
        """Count a call by endpoint (``GET fund-list`` ...) and by the status it was answered with."""
        with self._lock:
            self.calls[endpoint] += 1
            self.statuses[status] += 1

    def reset(self) -> None:
        """Forget tokens, codes, windows and calls; back to the start-up config."""
        with self._lock:
            self.config = self.initial_config
            self._access.clear()
            self._refresh.clear()
            self._codes.clear()
            self._windows.clear()
            self.calls.clear()
            self.statuses.clear()


def reset_after_header(seconds: float) -> str:
    """``X-RateLimit-ResetAfter``: whole seconds, or milliseconds' precision under a time scale."""
    return str(math.ceil(seconds)) if seconds >= 1 else f"{seconds:.3f}"
