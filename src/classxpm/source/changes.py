"""Whether Class changed, per business, told from aggregates alone: the watcher's fingerprint and debounce.

A business's mark is its fund and member counts and the newest ``updated_at`` of each: an edit moves a
newest time, an insert or a delete moves a count. One grouped statement reads every business's mark (the
counts and maxima, never a row). ``Debounce`` turns a stream of fingerprints into few events: it fires
once the fingerprint has stood still for ``quiet_seconds``, or ``max_wait_seconds`` after the first
change of a burst that never pauses, so a bulk import of 500 funds starts one sync run, or a few.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from classxpm.source.schema import funds, members

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

Mark = tuple[int, int, str | None, str | None]
"""One business: (funds, members, newest fund ``updated_at``, newest member ``updated_at``)."""

Fingerprint = dict[str, Mark]
"""Every business's mark, by business id (a business with no funds has none)."""


def fingerprint_statement() -> sa.CompoundSelect:
    """The one statement a poll costs: counts and newest ``updated_at`` of funds and members, by business."""
    fund_marks = sa.select(
        sa.literal("funds").label("kind"),
        funds.c.business_id,
        sa.func.count().label("rows"),
        sa.func.max(funds.c.updated_at).label("newest"),
    ).group_by(funds.c.business_id)
    member_marks = (
        sa.select(
            sa.literal("members").label("kind"),
            funds.c.business_id,
            sa.func.count().label("rows"),
            sa.func.max(members.c.updated_at).label("newest"),
        )
        .select_from(members.join(funds, members.c.fund_id == funds.c.fund_id))
        .group_by(funds.c.business_id)
    )
    return sa.union_all(fund_marks, member_marks)


def read_fingerprint(conn: Connection) -> Fingerprint:
    """Every business's mark, from one statement."""
    counts: dict[str, dict[str, tuple[int, str | None]]] = {}
    for kind, business_id, rows, newest in conn.execute(fingerprint_statement()):
        counts.setdefault(business_id, {})[kind] = (int(rows), None if newest is None else str(newest))
    return {business_id: _mark(kinds) for business_id, kinds in counts.items()}


def _mark(kinds: dict[str, tuple[int, str | None]]) -> Mark:
    fund_rows, newest_fund = kinds.get("funds", (0, None))
    member_rows, newest_member = kinds.get("members", (0, None))
    return (fund_rows, member_rows, newest_fund, newest_member)


def changed_businesses(before: Fingerprint, after: Fingerprint) -> list[str]:
    """The businesses whose mark differs (appeared, moved or disappeared), in id order."""
    return sorted(b for b in before.keys() | after.keys() if before.get(b) != after.get(b))


def to_json(fingerprint: Fingerprint) -> dict[str, list[Any]]:
    """A fingerprint as JSON (the triggerer keeps the last fired one in the asset's state store)."""
    return {business_id: list(mark) for business_id, mark in fingerprint.items()}


def from_json(stored: Any) -> Fingerprint | None:
    """The fingerprint ``to_json`` stored, or None when nothing (or something else) was stored."""
    if not isinstance(stored, dict):
        return None
    return {str(b): tuple(mark) for b, mark in stored.items() if isinstance(mark, list) and len(mark) == 4}


@dataclass
class Debounce:
    """Decides, poll by poll, when a change in the fingerprint becomes an event.

    Args:
        quiet_seconds: Fire once the fingerprint has not moved for this long.
        max_wait_seconds: Fire at the latest this long after the first change, even mid-burst.
        baseline: The fingerprint last fired (or first seen): changes are counted against it.
    """

    quiet_seconds: float
    max_wait_seconds: float
    baseline: Fingerprint | None = None
    _seen: Fingerprint | None = field(default=None, init=False)
    _first_change: float | None = field(default=None, init=False)
    _last_change: float = field(default=0.0, init=False)

    @property
    def pending(self) -> bool:
        """A change was seen and not fired yet."""
        return self._first_change is not None

    def observe(self, fingerprint: Fingerprint, now: float) -> list[str]:
        """Feed one poll's fingerprint at monotonic time ``now``; the changed businesses when it is time.

        The first fingerprint with no baseline only sets the baseline. A burst that ends where it started
        (a fund added and removed again) fires nothing.
        """
        if self.baseline is None:
            self.baseline = self._seen = fingerprint
            return []
        if fingerprint != (self._seen if self._seen is not None else self.baseline):
            self._seen, self._last_change = fingerprint, now
            if self._first_change is None:
                self._first_change = now
        first = self._first_change
        if first is None:
            return []
        if now - self._last_change < self.quiet_seconds and now - first < self.max_wait_seconds:
            return []
        changed = changed_businesses(self.baseline, fingerprint)
        self.baseline, self._first_change = fingerprint, None
        return changed
