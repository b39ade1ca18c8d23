"""Class businesses by name: listing them, and resolving what a person typed to one business id."""

from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from classxpm.source.schema import businesses
from classxpm.xpm.errors import ConfigurationError


def business_names(engine: Engine) -> dict[str, str]:
    """Every business in the Class database: id to name, in id order."""
    query = sa.select(businesses.c.business_id, businesses.c.name).order_by(businesses.c.business_id)
    with engine.connect() as conn:
        return dict(conn.execute(query).tuples().all())


def resolve_business(wanted: str, names: Mapping[str, str]) -> str:
    """The id of the one business whose id is ``wanted``, else whose name is (whatever the case).

    Args:
        wanted: A business id or name, as typed in the trigger form.
        names: The Class businesses, id to name.

    Raises:
        ConfigurationError: No business, or more than one, goes by ``wanted``; the message names the choices.
    """
    text = wanted.strip()
    if text in names:
        return text
    matches = [bid for bid, name in names.items() if name.strip().casefold() == text.casefold()]
    if len(matches) == 1:
        return matches[0]
    if matches:
        ids = ", ".join(matches)
        raise ConfigurationError(f"{len(matches)} Class businesses are named {text!r}: give the id ({ids})")
    choices = "; ".join(f"{name} ({bid})" for bid, name in names.items()) or "none"
    raise ConfigurationError(f"no Class business is named {text!r} or has that id; the businesses: {choices}")
