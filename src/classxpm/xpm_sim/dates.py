"""The date forms XPM and Xero identity use on the wire, and a tolerant reader for input dates."""

from __future__ import annotations

from datetime import UTC, datetime

_INPUT_FORMATS = ("%Y%m%d", "%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y%m%dT%H%M%S")


def stamp(moment: datetime) -> str:
    """Return an aware UTC time as the ISO string records keep (microseconds, offset)."""
    return moment.astimezone(UTC).isoformat()


def from_stamp(text: str) -> datetime:
    """Return a time stored with :func:`stamp`."""
    return datetime.fromisoformat(text)


def xpm_datetime(moment: datetime) -> str:
    """Return the XPM response form ``2007-09-15T00:00:00`` (UTC, no zone)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def connection_datetime(moment: datetime) -> str:
    """Return the /connections form ``2019-12-07T18:46:19.5165400`` (UTC, seven decimals, no zone)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0"


def parse_input_date(text: str) -> datetime | None:
    """Read ``yyyyMMdd``, ``yyyy-MM-dd`` or ``yyyy-MM-ddTHH:mm:ss`` as naive UTC; None when unreadable."""
    cleaned = text.strip().removesuffix("Z")
    for form in _INPUT_FORMATS:
        try:
            return datetime.strptime(cleaned, form)
        except ValueError:
            continue
    return None


def render_input_date(text: str) -> str:
    """Return an input date in the XPM response form, or the text unchanged when it is not a date."""
    parsed = parse_input_date(text) if text else None
    return parsed.strftime("%Y-%m-%dT%H:%M:%S") if parsed else text
