"""The naive full push the benchmark compares against, written with the same ``XpmApi`` client.

On every run it re-sends every fund: a client add with the members as inline contacts when it has not
sent the fund before, else one client update and one contact update (or add) per member. It reads
nothing from XPM and compares nothing; it only remembers the UUIDs it was given back. It sends the same
funds the sync sends (the ones the validation gate let through), so the two counts are like for like.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from classxpm.source.extract import FundFilter, iter_fund_chunks
from classxpm.sync.desired import map_fund
from classxpm.sync.model import DesiredFund


@dataclass
class NaivePush:
    """A naive integration's memory: the client and contact UUIDs its earlier pushes created."""

    api: Any
    clients: dict[str, str] = field(default_factory=dict)
    contacts: dict[str, str] = field(default_factory=dict)

    def push(self, funds: Iterable[DesiredFund]) -> int:
        """Send every fund in full; returns how many funds were sent."""
        sent = 0
        for fund in funds:
            if fund.fund_id in self.clients:
                self._resend(fund)
            else:
                self._add(fund)
            sent += 1
        return sent

    def _add(self, fund: DesiredFund) -> None:
        client = self.api.add_client(fund.fields, [c.fields for c in fund.contacts])
        self.clients[fund.fund_id] = client.uuid or ""
        pool = list(client.contacts)
        for contact in fund.contacts:
            match = next((c for c in pool if c.name == contact.fields.get("Name")), None)
            if match is not None:
                pool.remove(match)
                self.contacts[contact.member_id] = match.uuid or ""

    def _resend(self, fund: DesiredFund) -> None:
        client_uuid = self.clients[fund.fund_id]
        self.api.update_client(client_uuid, fund.fields)
        for contact in fund.contacts:
            if contact.member_id in self.contacts:
                self.api.update_contact(self.contacts[contact.member_id], contact.fields, client_uuid)
            else:
                self.contacts[contact.member_id] = (
                    self.api.add_contact(client_uuid, contact.fields).uuid or ""
                )


def desired_funds(env: Any, business_id: str, skip_codes: set[str]) -> Iterator[DesiredFund]:
    """Every fund of the business in Class, mapped, except those in ``skip_codes`` (quarantined)."""
    for chunk in iter_fund_chunks(env.source, FundFilter(business_id=business_id)):
        for fund in chunk.funds:
            if fund["scope_code"] in skip_codes:
                continue
            mapped = map_fund(fund, chunk.members.get(fund["fund_id"], []), env.mappings, env.cipher.hash_key)
            if mapped.desired is not None:
                yield mapped.desired
