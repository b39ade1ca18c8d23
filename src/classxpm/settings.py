"""Numbers the deployment sets through environment variables, read one way everywhere.

Light on purpose: DAG files read these at parse time, so nothing here imports more than the error taxonomy.
"""

from __future__ import annotations

from collections.abc import Mapping

from classxpm.xpm.errors import ConfigurationError


def positive_setting(environ: Mapping[str, str], name: str, unit: str = "seconds") -> float | None:
    """The positive number environment variable ``name`` holds (in ``unit``), or None when it is unset.

    Raises:
        ConfigurationError: The value is not a number above 0.
    """
    raw = environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number of {unit}, not {raw!r}") from None
    if value <= 0:
        raise ConfigurationError(f"{name} must be more than 0 {unit}, not {raw!r}")
    return value
