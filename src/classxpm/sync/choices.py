"""A person's answer to a fund that needs review (``classxpm link``), kept so that every later run follows it.

``link`` links the fund to the chosen XPM client at once (its stored link names the client, with no
payload hash, so the next run compares and puts right every mapped field and matches the members to the
client's contacts, like any linked fund). ``create`` makes the next run create a new client for the fund
even though XPM holds candidates. ``unlink`` forgets the link, the members' contact links and the choice:
the next run matches the fund afresh. ``answer`` carries out any of the three as ``classxpm link`` and the
fund page's buttons ask for it, and says what it did.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from classxpm.errors import Fatal
from classxpm.sync.candidates import tenants_holding, xpm_client
from classxpm.sync.tables import contact_links, fund_choices, fund_links

LINK = "link"
CREATE = "create"
UNLINK = "unlink"
ANSWERS = (LINK, CREATE, UNLINK)
CHOSEN = "chosen"
"""The fund's link status until its next run: in ``links.RETRY_STATUSES``, so an incremental run takes it."""


class ChoiceError(Fatal):
    """The choice cannot be made as asked: the message says why and what to do."""


@dataclass(frozen=True)
class FundRef:
    """A fund the sync has seen, as its stored link row names it."""

    business_id: str
    fund_id: str
    tenant_id: str
    scope_code: str
    fund_name: str
    client_uuid: str | None
    last_status: str | None
    last_error: str | None


def find_fund(state: Engine, business_id: str, scope_code: str) -> FundRef:
    """The business's fund with ``scope_code`` (as XPM matches codes: case and spaces aside).

    Raises:
        ChoiceError: No run has synced the business, or none of its runs has seen such a fund.
    """
    code = scope_code.strip().lower()
    mine = fund_links.c.business_id == business_id
    with state.connect() as conn:
        row = conn.execute(
            sa.select(fund_links).where(mine, sa.func.lower(sa.func.trim(fund_links.c.scope_code)) == code)
        ).first()
        known = row is not None or conn.execute(sa.select(fund_links.c.fund_id).where(mine).limit(1)).first()
    if not known:
        raise ChoiceError(f"no run has synced business {business_id}: check --business, or run a sync first")
    if row is None:
        raise ChoiceError(f"no fund {scope_code!r} of business {business_id} has been synced yet: run a sync")
    return fund_ref(row._mapping)


def fund_ref(row: Mapping[str, Any]) -> FundRef:
    """The ``FundRef`` of a ``fund_links`` row."""
    return FundRef(
        row["business_id"],
        row["fund_id"],
        row["tenant_id"],
        row["scope_code"],
        row["fund_name"] or "",
        row["client_uuid"],
        row["last_status"],
        row["last_error"],
    )


def answer(state: Engine, fund: FundRef, choice: str, now: datetime, client_uuid: str = "") -> str:
    """Carry out a person's answer for ``fund`` and say what it did, in the words both CLI and pages show.

    Args:
        state: The state database.
        fund: The fund, as ``find_fund`` returned it.
        choice: ``link`` (to ``client_uuid``), ``create`` or ``unlink``.
        now: When the choice is made.
        client_uuid: The XPM client to link the fund to (``link`` only).

    Raises:
        ChoiceError: The answer cannot be carried out; the message says why and what to do.
    """
    if choice == LINK:
        check_client(state, fund, client_uuid)
        link_by_hand(state, fund, client_uuid, now)
        return f"Fund {fund.scope_code} is linked to client {client_uuid}; the next run updates it."
    if choice == CREATE:
        create_on_purpose(state, fund, now)
        return f"The next run creates a new XPM client for fund {fund.scope_code}."
    if choice == UNLINK:
        unlink(state, fund)
        return f"Fund {fund.scope_code} is unlinked; the next run matches it afresh."
    raise ChoiceError(f"{choice!r} is not an answer: choose one of {', '.join(ANSWERS)}")


def check_client(state: Engine, fund: FundRef, client_uuid: str) -> None:
    """Refuse a client the sync never read in the fund's account, or one a person retired in XPM.

    Raises:
        ChoiceError: The client cannot be chosen; the message says what to do.
    """
    found = xpm_client(state, fund.tenant_id, client_uuid)
    elsewhere = [tenant for tenant in tenants_holding(state, client_uuid) if tenant != fund.tenant_id]
    if found is None and elsewhere:
        raise ChoiceError(
            f"client {client_uuid} is in another XPM account ({', '.join(elsewhere)}), not in business "
            f"{fund.business_id}'s ({fund.tenant_id}): a fund links only to a client of its own account"
        )
    if found is None:
        raise ChoiceError(
            f"the sync has read no client {client_uuid} in the fund's XPM account: check the UUID "
            "(`classxpm link --fund CODE` lists the candidates), or run a full sync first"
        )
    if found.retired:
        raise ChoiceError(f"client {client_uuid} is {found.retired} in XPM: restore it there first")


def link_by_hand(state: Engine, fund: FundRef, client_uuid: str, now: datetime) -> None:
    """Link ``fund`` to ``client_uuid`` and record the choice; the next run updates it like any linked fund.

    Raises:
        ChoiceError: Another fund of the business is linked to that client.
    """
    with state.begin() as conn:
        other = conn.execute(
            sa.select(fund_links.c.scope_code).where(
                fund_links.c.business_id == fund.business_id,
                fund_links.c.client_uuid == client_uuid,
                fund_links.c.fund_id != fund.fund_id,
            )
        ).scalar()
        if other is not None:
            raise ChoiceError(f"client {client_uuid} is linked to fund {other}: unlink that fund first")
        if fund.client_uuid != client_uuid:
            _forget_contacts(conn, fund)
        conn.execute(
            sa.update(fund_links)
            .where(fund_links.c.business_id == fund.business_id, fund_links.c.fund_id == fund.fund_id)
            .values(
                client_uuid=client_uuid,
                payload_hash=None,
                web_url=None,
                last_status=CHOSEN,
                last_error=None,
            )
        )
        _record(conn, fund, LINK, client_uuid, now)


def create_on_purpose(state: Engine, fund: FundRef, now: datetime) -> None:
    """Make the next run create a new client for ``fund`` whatever candidates XPM holds.

    Raises:
        ChoiceError: The fund is linked: unlink it first.
    """
    if fund.client_uuid:
        raise ChoiceError(f"fund {fund.scope_code} is linked to client {fund.client_uuid}: unlink it first")
    with state.begin() as conn:
        conn.execute(
            sa.update(fund_links)
            .where(fund_links.c.business_id == fund.business_id, fund_links.c.fund_id == fund.fund_id)
            .values(last_status=CHOSEN, last_error=None)
        )
        _record(conn, fund, CREATE, None, now)


def unlink(state: Engine, fund: FundRef) -> None:
    """Forget the fund's link, its members' contact links and the choice: the next run matches afresh."""
    with state.begin() as conn:
        _forget_contacts(conn, fund)
        conn.execute(
            sa.update(fund_links)
            .where(fund_links.c.business_id == fund.business_id, fund_links.c.fund_id == fund.fund_id)
            .values(client_uuid=None, payload_hash=None, web_url=None, last_status=None, last_error=None)
        )
        conn.execute(
            sa.delete(fund_choices).where(
                fund_choices.c.business_id == fund.business_id, fund_choices.c.fund_id == fund.fund_id
            )
        )


def to_create(state: Engine, business_id: str, tenant_id: str) -> set[str]:
    """The business's funds a person chose to create a new client for, in ``tenant_id``."""
    with state.connect() as conn:
        return set(
            conn.execute(
                sa.select(fund_choices.c.fund_id).where(
                    fund_choices.c.business_id == business_id,
                    fund_choices.c.tenant_id == tenant_id,
                    fund_choices.c.choice == CREATE,
                )
            ).scalars()
        )


def _forget_contacts(conn: Connection, fund: FundRef) -> None:
    conn.execute(
        sa.delete(contact_links).where(
            contact_links.c.business_id == fund.business_id, contact_links.c.fund_id == fund.fund_id
        )
    )


def _record(conn: Connection, fund: FundRef, choice: str, client_uuid: str | None, now: datetime) -> None:
    key = (fund_choices.c.business_id == fund.business_id) & (fund_choices.c.fund_id == fund.fund_id)
    conn.execute(sa.delete(fund_choices).where(key))
    conn.execute(
        sa.insert(fund_choices).values(
            business_id=fund.business_id,
            fund_id=fund.fund_id,
            tenant_id=fund.tenant_id,
            choice=choice,
            client_uuid=client_uuid,
            chosen_at=now,
        )
    )
