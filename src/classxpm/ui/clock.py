"""The practice's time zone: every time the pages show is in it, with the zone named.

The zone comes from ``CLASSXPM_TIMEZONE`` (an IANA name; default ``Australia/Sydney``, where most practices
that run Class are). Stored times are UTC; only the pages convert them.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from classxpm.xpm.errors import ConfigurationError

TIMEZONE_ENV = "CLASSXPM_TIMEZONE"
DEFAULT_TIMEZONE = "Australia/Sydney"


@cache
def practice_zone(name: str | None = None) -> ZoneInfo:
    """The configured zone (``name``, else ``CLASSXPM_TIMEZONE``, else Australia/Sydney).

    Raises:
        ConfigurationError: The name is not an IANA time zone.
    """
    wanted = name or os.environ.get(TIMEZONE_ENV) or DEFAULT_TIMEZONE
    try:
        return ZoneInfo(wanted)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(
            f"{TIMEZONE_ENV}={wanted!r} is not a time zone name such as {DEFAULT_TIMEZONE}"
        ) from None


def local_time(moment: datetime | str | None, empty: str = "") -> str:
    """``moment`` in the practice's zone as ``2026-12-01 10:53 AEDT``; a naive time is taken as UTC.

    ``moment`` may be an ISO 8601 text, as the reports' JSON holds it.
    """
    if not moment:
        return empty
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(practice_zone()).strftime("%Y-%m-%d %H:%M %Z")


def zone_label() -> str:
    """The zone's IANA name, for the pages' footer."""
    return str(practice_zone())
