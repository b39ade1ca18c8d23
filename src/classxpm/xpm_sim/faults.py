"""Injected faults, set through the admin API: errors, latency, forced 429 bursts and lost responses.

A rule names one endpoint key (``"POST client.api/add"``, ``"POST /connect/token"``) or ``"*"`` for
every XPM API endpoint. The RNG is seeded, so a run with the same seed and calls fails the same way.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from classxpm.errors import Fatal

ALL_API = "*"


class FaultSpecError(Fatal, ValueError):
    """A fault specification from the admin API is malformed."""


@dataclass
class FaultRule:
    """One rule; rates are probabilities per matching call, ``burst_429`` a count of calls to refuse."""

    endpoint: str = ALL_API
    error_rate: float = 0.0
    statuses: list[int] = field(default_factory=lambda: [500, 503])
    latency_ms: int = 0
    latency_rate: float = 1.0
    lost_response_rate: float = 0.0
    burst_429: int = 0

    def matches(self, endpoint: str) -> bool:
        """True when the rule applies to ``endpoint`` (``*`` covers XPM API endpoints, not identity ones)."""
        if self.endpoint == ALL_API:
            return " /" not in endpoint
        return self.endpoint == endpoint


@dataclass(frozen=True)
class FaultPlan:
    """What to do to one call: wait, refuse with 429, fail with a status, or apply and drop the reply."""

    latency_seconds: float = 0.0
    force_429: bool = False
    status: int | None = None
    lose_response: bool = False


class Faults:
    """The current fault rules and their seeded random source."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seed = 0
        self._rules: list[FaultRule] = []
        self._rng = random.Random(0)

    def set(self, spec: dict[str, Any]) -> None:
        """Replace every rule from an admin spec ``{"seed": int, "rules": [...]}``.

        Raises:
            FaultSpecError: When a rule has unknown keys or impossible values.
        """
        rules = [_rule(item) for item in spec.get("rules", [])]
        seed = spec.get("seed", 0)
        if not isinstance(seed, int):
            raise FaultSpecError("seed must be an integer")
        with self._lock:
            self._seed, self._rules, self._rng = seed, rules, random.Random(seed)

    def clear(self) -> None:
        """Remove every rule."""
        self.set({})

    def to_dict(self) -> dict[str, Any]:
        """Return the seed and rules as the admin API shows them (bursts show what is left)."""
        with self._lock:
            return {"seed": self._seed, "rules": [asdict(rule) for rule in self._rules]}

    def plan(self, endpoint: str) -> FaultPlan:
        """Draw what happens to one call of ``endpoint``; each matching rule adds its effects."""
        latency, force_429, status, lose = 0.0, False, None, False
        with self._lock:
            for rule in (rule for rule in self._rules if rule.matches(endpoint)):
                if rule.latency_ms and self._rng.random() < rule.latency_rate:
                    latency += rule.latency_ms / 1000
                if rule.burst_429 > 0 and not force_429:
                    rule.burst_429 -= 1
                    force_429 = True
                if status is None and rule.error_rate and self._rng.random() < rule.error_rate:
                    status = self._rng.choice(rule.statuses)
                if rule.lost_response_rate and self._rng.random() < rule.lost_response_rate:
                    lose = True
        return FaultPlan(latency, force_429, status, lose)


def _rule(item: Any) -> FaultRule:
    if not isinstance(item, dict):
        raise FaultSpecError("each rule must be an object")
    unknown = set(item) - set(FaultRule.__dataclass_fields__)
    if unknown:
        raise FaultSpecError(f"unknown rule keys: {sorted(unknown)}")
    rule = FaultRule(**item)
    rates = (rule.error_rate, rule.latency_rate, rule.lost_response_rate)
    if not all(isinstance(rate, int | float) and 0 <= rate <= 1 for rate in rates):
        raise FaultSpecError("rates must be numbers between 0 and 1")
    if not rule.statuses or not all(status in (500, 502, 503, 504) for status in rule.statuses):
        raise FaultSpecError("statuses must be a non-empty list of 500, 502, 503 or 504")
    if not isinstance(rule.burst_429, int) or rule.burst_429 < 0:
        raise FaultSpecError("burst_429 must be a non-negative integer")
    if not isinstance(rule.latency_ms, int) or rule.latency_ms < 0:
        raise FaultSpecError("latency_ms must be a non-negative integer")
    return rule
