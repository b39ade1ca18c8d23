"""The members of a run's funds that are not contacts in XPM when the run ends, each with the reason.

A member counts as a contact when the state database links it to one. Members are named by their Class
name and member id, never by anything else they hold (the TFN is the fund's, and never shown).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from classxpm.state.crypto import TokenCipher
from classxpm.sync.run import RunRef
from classxpm.sync.staging import iter_staged
from classxpm.sync.tables import contact_links

NOT_RUN = "its fund has no outcome in this run (the upsert did not reach it)"


def member_label(member: dict[str, Any]) -> str:
    """A member's name as Class holds it (first and last name), or its member id when it has none."""
    parts = (str(member.get(name) or "").strip() for name in ("first_name", "last_name"))
    return " ".join(part for part in parts if part) or f"member {member['member_id']}"


def _reason(outcome: Any | None) -> str:
    if outcome is None:
        return NOT_RUN
    status = outcome.status.replace("_", " ")
    return f"its fund is {status}: {outcome.detail}" if outcome.detail else f"its fund is {status}"


def members_not_in_xpm(
    state: Engine,
    cipher: TokenCipher,
    ref: RunRef,
    outcomes: Iterable[Any],
    held_back: Mapping[str, str] | None = None,
) -> list[dict[str, str]]:
    """Every staged member of the run with no link to an XPM contact, with its fund and the reason.

    Args:
        state: The state database (the run's staging is still there).
        cipher: The pipeline's cipher, to read the staging.
        ref: The run.
        outcomes: The run's outcome rows (``fund_id``, ``scope_code``, ``status``, ``detail``).
        held_back: Members the run did not send, to the reason (they have no name in Class).
    """
    held_back = held_back or {}
    by_fund = {row.fund_id: row for row in outcomes}
    with state.connect() as conn:
        linked = set(
            conn.execute(
                sa.select(contact_links.c.member_id).where(contact_links.c.business_id == ref.business_id)
            ).scalars()
        )
    missing = []
    for chunk in iter_staged(state, ref.run_id, cipher):
        for fund in chunk.funds:
            outcome = by_fund.get(fund["fund_id"])
            for member in chunk.members.get(fund["fund_id"], []):
                if member["member_id"] not in linked:
                    missing.append(
                        {
                            "scope_code": fund["scope_code"],
                            "member": member_label(member),
                            "member_id": member["member_id"],
                            "reason": held_back.get(member["member_id"]) or _reason(outcome),
                        }
                    )
    return missing
