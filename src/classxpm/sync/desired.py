"""Turn staged Class rows into what XPM should hold, through the YAML mappings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from classxpm.mapping import DefaultMappings, MappedRecord, map_row, payload_hash
from classxpm.sync.model import DesiredContact, DesiredFund
from classxpm.validation.rules import member_label

HELD_BACK = "has no name in Class, so it is not sent to XPM; enter the member's first or last name in Class"


@dataclass(frozen=True)
class MappedFund:
    """A fund's desired XPM state, or the problems that keep it from being sent."""

    fund_id: str
    scope_code: str
    name: str
    desired: DesiredFund | None
    problems: tuple[str, ...] = ()
    held_back: dict[str, str] = field(default_factory=dict)
    """Members not sent because they have no name: member id to how people know them (never the TFN)."""

    @property
    def ok(self) -> bool:
        """True when nothing stops the fund from being sent."""
        return self.desired is not None


def _describe(table: str, record: MappedRecord) -> list[str]:
    return [f"{table} {p.record_key} {p.field}: {p.reason}" for p in record.errors]


def map_fund(
    fund: Mapping[str, Any], members: Sequence[Mapping[str, Any]], mappings: DefaultMappings, secret: bytes
) -> MappedFund:
    """Map one fund and its members; any field error keeps the whole fund back, named in plain words.

    A member with no name keeps back that member only: XPM needs a contact's name, and the rest of the fund
    is sent. Its contact, if it has one already, stays linked and untouched.

    Args:
        fund: The fund's Class row (TFN in clear, in memory only).
        members: The fund's member rows.
        mappings: The client and contact mappings.
        secret: The HMAC key for payload hashes.

    Returns:
        The desired fund, or the problems naming the table, record and field of each.
    """
    client = map_row(mappings.client, fund)
    contacts, held_back = [], {}
    for member in members:
        contact = map_row(mappings.contact, member)
        if str(contact.values.get("Name") or "").strip():
            contacts.append(contact)
        else:
            held_back[contact.key] = member_label(member)
    problems = _describe("funds", client) if client.problems else []
    for contact in contacts:
        if contact.problems:
            problems += _describe("members", contact)
    scope_code, name = str(fund.get("scope_code") or ""), str(fund.get("scope_description") or "")[:255]
    if problems:
        return MappedFund(str(fund.get("fund_id")), scope_code, name, None, tuple(problems), held_back)
    desired = DesiredFund(
        fund_id=client.key,
        scope_code=scope_code,
        fields=dict(client.values),
        payload_hash=payload_hash(client, secret),
        contacts=tuple([DesiredContact(c.key, dict(c.values), payload_hash(c, secret)) for c in contacts]),
    )
    return MappedFund(client.key, scope_code, name, desired, held_back=held_back)
