"""Turn staged Class rows into what XPM should hold, through the YAML mappings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from classxpm.mapping import DefaultMappings, RecordProblem
from classxpm.mapping.apply import map_values
from classxpm.mapping.hashing import values_hash
from classxpm.sync.model import DesiredContact, DesiredFund


@dataclass(frozen=True)
class MappedFund:
    """A fund's desired XPM state, or the problems that keep it from being sent."""

    fund_id: str
    scope_code: str
    name: str
    desired: DesiredFund | None
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when nothing stops the fund from being sent."""
        return self.desired is not None


def _describe(table: str, problems: list[RecordProblem]) -> list[str]:
    return [f"{table} {p.record_key} {p.field}: {p.reason}" for p in problems if p.severity == "error"]


def map_fund(
    fund: Mapping[str, Any], members: Sequence[Mapping[str, Any]], mappings: DefaultMappings, secret: bytes
) -> MappedFund:
    """Map one fund and its members; any field error keeps the whole fund back, named in plain words.

    Args:
        fund: The fund's Class row (TFN in clear, in memory only).
        members: The fund's member rows.
        mappings: The client and contact mappings.
        secret: The HMAC key for payload hashes.

    Returns:
        The desired fund, or the problems naming the table, record and field of each.
    """
    # map_values and values_hash give what map_row and payload_hash would, without a record per row.
    fund_id, fields, fund_problems = map_values(mappings.client, fund)
    contacts = [map_values(mappings.contact, member) for member in members]
    problems = _describe("funds", fund_problems) if fund_problems else []
    for _, _, member_problems in contacts:
        if member_problems:
            problems += _describe("members", member_problems)
    scope_code, name = str(fund.get("scope_code") or ""), str(fund.get("scope_description") or "")[:255]
    if problems:
        return MappedFund(str(fund.get("fund_id")), scope_code, name, None, tuple(problems))
    desired = DesiredFund(
        fund_id=fund_id,
        scope_code=scope_code,
        fields=fields,
        payload_hash=values_hash(mappings.client, fields, secret),
        contacts=tuple(
            [
                DesiredContact(member_id, values, values_hash(mappings.contact, values, secret))
                for member_id, values, _ in contacts
            ]
        ),
    )
    return MappedFund(fund_id, scope_code, name, desired)
