"""A sync run's identity and parameters, and the resources its steps share.

``RunRef`` is all that passes between tasks (through XCom): ids and flags, never rows or secrets.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from classxpm.identifiers import code_key
from classxpm.mapping import DefaultMappings
from classxpm.settings import positive_setting
from classxpm.state.crypto import TokenCipher
from classxpm.sync.lease import LeaseSettings
from classxpm.sync.model import RunMode, SyncMode
from classxpm.xpm.api import XpmApi
from classxpm.xpm.auth import utcnow
from classxpm.xpm.config import DEFAULT_DAY_LIMIT, DEFAULT_MINUTE_LIMIT, DEFAULT_RESERVE_SHARE
from classxpm.xpm.errors import ConfigurationError


def _codes(value: object) -> tuple[str, ...]:
    if value in (None, ""):
        return ()
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    if not isinstance(value, list | tuple):
        raise ConfigurationError("fund_codes must be a list of scope codes")
    # One code per match key, as first spelt: ``FUND1`` and ``fund1`` ask for the same fund.
    codes = [str(code).strip() for code in value if str(code).strip()]
    unique = {code_key(code): code for code in reversed(codes)}
    return tuple(sorted(unique.values(), key=code_key))


def _batch_size(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError("batch_size must be a whole number of funds, at least 1")
    return value


def _choice(kind: type, name: str, value: object) -> Any:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise ConfigurationError(f"{name} must be one of {allowed}, not {value!r}") from None


@dataclass(frozen=True)
class RunRequest:
    """What a person (trigger form) or the schedule asked for."""

    mode: RunMode = RunMode.FULL
    sync_mode: SyncMode = SyncMode.UPSERT
    dry_run: bool = False
    fund_codes: tuple[str, ...] = ()
    business_id: str | None = None
    batch_size: int = 500
    gone_from_class: str | None = None
    rolled_out_members: str | None = None
    businesses: frozenset[str] | None = None
    """The businesses a run the Class watcher started is limited to (its events name them); None: all."""

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> RunRequest:
        """Validate DAG params into a request.

        Raises:
            ConfigurationError: A param has a value the sync does not know.
        """
        dry_run = False if params.get("dry_run") is None else params["dry_run"]
        if not isinstance(dry_run, bool):
            raise ConfigurationError("dry_run must be true or false")
        return cls(
            mode=_choice(RunMode, "mode", params.get("mode") or RunMode.FULL),
            sync_mode=_choice(SyncMode, "sync_mode", params.get("sync_mode") or SyncMode.UPSERT),
            dry_run=dry_run,
            fund_codes=_codes(params.get("fund_codes")),
            business_id=(params.get("business_id") or None),
            batch_size=_batch_size(500 if params.get("batch_size") is None else params["batch_size"]),
            gone_from_class=params.get("gone_from_class") or None,
            rolled_out_members=params.get("rolled_out_members") or None,
        )


@dataclass(frozen=True)
class RunRef:
    """A run in progress, as passed between tasks."""

    run_id: str
    business_id: str
    tenant_id: str
    mode: RunMode
    sync_mode: SyncMode
    dry_run: bool
    fund_codes: tuple[str, ...] = ()
    gone_policy: str = "report"
    members_policy: str = "report"
    """What full runs do with rolled-out members' contacts: ``report``, ``detach`` or ``position:<text>``."""

    def to_xcom(self) -> dict[str, Any]:
        """A JSON-safe dict for XCom."""
        return {**asdict(self), "mode": self.mode.value, "sync_mode": self.sync_mode.value}

    @classmethod
    def from_xcom(cls, data: Mapping[str, Any]) -> RunRef:
        """Rebuild a reference from its XCom dict."""
        return cls(
            run_id=data["run_id"],
            business_id=data["business_id"],
            tenant_id=data["tenant_id"],
            mode=RunMode(data["mode"]),
            sync_mode=SyncMode(data["sync_mode"]),
            dry_run=bool(data["dry_run"]),
            fund_codes=tuple(data.get("fund_codes") or ()),
            gone_policy=str(data.get("gone_policy") or "report"),
            members_policy=str(data.get("members_policy") or "report"),
        )


class CallCounter:
    """Counts the HTTP requests one task sends to Xero (retries included)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, _request: object) -> None:
        """Count one request (an httpx request event hook)."""
        self.count += 1


DEAD_RUN_VARIABLE = "CLASSXPM_DEAD_RUN_HOURS"
DEFAULT_DEAD_RUN_AGE = timedelta(hours=24)


def dead_run_age(environ: Mapping[str, str] = os.environ) -> timedelta:
    """``CLASSXPM_DEAD_RUN_HOURS`` (default 24): when a run still ``running`` counts as dead.

    A run that old is ended as failed by the next run to start, and the staged data of any run that old
    and ended is removed. Keep it above the longest real run (a first backfill within the daily quota).

    Raises:
        ConfigurationError: The value is not a number of hours above 0.
    """
    hours = positive_setting(environ, DEAD_RUN_VARIABLE, "hours")
    return DEFAULT_DEAD_RUN_AGE if hours is None else timedelta(hours=hours)


@dataclass
class SyncEnv:
    """The resources a sync step uses: databases, cipher, mappings and a way to reach XPM.

    The limits come from the ``xpm_default`` connection's settings (``XpmConfig``), as the XPM client's do.
    """

    source: Engine | None
    """The Class database; None when the deployment reads the Class API (``class_api``) instead."""
    state: Engine
    cipher: TokenCipher
    mappings: DefaultMappings
    open_api: Callable[[str], XpmApi]
    reports_dir: Path
    calls: CallCounter = field(default_factory=CallCounter)
    clock: Callable[[], datetime] = utcnow
    day_limit: int = DEFAULT_DAY_LIMIT
    reserve_fraction: float = DEFAULT_RESERVE_SHARE
    calls_per_minute: int = DEFAULT_MINUTE_LIMIT
    lease: LeaseSettings = field(default_factory=LeaseSettings.from_env)
    dead_run_age: timedelta = field(default_factory=dead_run_age)
    gone_from_class: Any = None
    """The ``xpm_default`` connection's ``gone_from_class`` extra (a policy, or policies by business id)."""
    rolled_out_members: Any = None
    """The ``xpm_default`` connection's ``rolled_out_members`` extra, read like ``gone_from_class``."""
    class_api: Any = None
    """The Class API source (``classxpm.source.class_api.source.ClassApiSource``) when chosen, else None."""

    def business_names(self) -> dict[str, str]:
        """The Class businesses the source knows: id to name (the API source: those with a Class grant)."""
        if self.class_api is not None:
            from classxpm.state.class_grants import ClassGrantStore

            return ClassGrantStore(self.state, self.cipher).business_names()
        from classxpm.source.businesses import business_names

        return business_names(self.source)

    @property
    def reserve(self) -> int:
        """Daily calls left for people using XPM: the sync never spends them."""
        return int(self.day_limit * self.reserve_fraction)
