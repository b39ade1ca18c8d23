"""The XPM clients a person chooses from for a fund that needs review, as the sync last read XPM.

One function serves the run's report, the fund page and ``classxpm link --fund``: each shows the same
clients, read from the cache a run's full or ``modifiedSince`` read of XPM keeps (``sync/remote.py``). The
cache holds TaxNumber only masked, and these records carry none of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, RowMapping

from classxpm.sync.model import RemoteClient
from classxpm.sync.tables import fund_links, remote_clients

LIMIT = 50
"""At most this many candidates per fund: more than a person can weigh; the report says it was cut."""


@dataclass(frozen=True)
class XpmClient:
    """An XPM client as the sync last read it, as a person needs to see it to pick one."""

    uuid: str
    name: str
    export_code: str
    business_number: str
    retired: str
    """``archived`` or ``deleted`` when a person retired it in XPM, else empty."""
    web_url: str | None
    read_at: datetime

    def to_report(self) -> dict[str, str | None]:
        """The report's entry: UUID, name, ExportCode, ABN, state (live, archived, deleted), launch link."""
        return {
            "uuid": self.uuid,
            "name": self.name,
            "export_code": self.export_code,
            "abn": self.business_number,
            "state": self.retired or "live",
            "web_url": self.web_url,
        }


def _xpm_client(row: RowMapping) -> XpmClient:
    client = RemoteClient(row["client_uuid"], row["fields"] or {})
    return XpmClient(
        uuid=client.uuid,
        name=client.name,
        export_code=client.export_code,
        business_number=client.business_number,
        retired=client.retired,
        web_url=client.web_url,
        read_at=row["read_at"],
    )


def review_candidates(state: Engine, link: Mapping[str, Any], limit: int = LIMIT) -> list[XpmClient]:
    """The clients of the fund's XPM account holding its scope code or its name, by name.

    ``link`` is the fund's link row (``scope_code``, ``fund_name``, ``tenant_id``). The scope code matches
    ExportCode as XPM matches it (case and surrounding spaces aside); archived and deleted clients are
    included, so a person sees why none was taken.
    """
    code = link["scope_code"].strip().lower()
    matches = [sa.func.lower(sa.func.trim(remote_clients.c.export_code)) == code]
    if link["fund_name"]:
        matches.append(sa.func.lower(remote_clients.c.name) == link["fund_name"].strip().lower())
    query = (
        sa.select(remote_clients.c.client_uuid, remote_clients.c.fields, remote_clients.c.read_at)
        .where(remote_clients.c.tenant_id == link["tenant_id"], sa.or_(*matches))
        .order_by(remote_clients.c.name, remote_clients.c.client_uuid)
        .limit(limit)
    )
    with state.connect() as conn:
        return [_xpm_client(row) for row in conn.execute(query).mappings()]


def xpm_client(state: Engine, tenant_id: str, client_uuid: str) -> XpmClient | None:
    """One client of ``tenant_id`` as the sync last read XPM, or None when it read no such client."""
    query = sa.select(remote_clients.c.client_uuid, remote_clients.c.fields, remote_clients.c.read_at).where(
        remote_clients.c.tenant_id == tenant_id, remote_clients.c.client_uuid == client_uuid
    )
    with state.connect() as conn:
        row = conn.execute(query).mappings().first()
    return _xpm_client(row) if row else None


def tenants_holding(state: Engine, client_uuid: str) -> list[str]:
    """The XPM accounts (tenant ids) in which the sync has read a client with ``client_uuid``."""
    query = sa.select(remote_clients.c.tenant_id).where(remote_clients.c.client_uuid == client_uuid)
    with state.connect() as conn:
        return sorted(conn.execute(query.distinct()).scalars())


def for_review(state: Engine, business_id: str, fund_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Fund id → its candidates as the report shows them, for the business's funds ``fund_ids``."""
    if not fund_ids:
        return {}
    query = sa.select(
        fund_links.c.fund_id, fund_links.c.scope_code, fund_links.c.fund_name, fund_links.c.tenant_id
    ).where(fund_links.c.business_id == business_id, fund_links.c.fund_id.in_(fund_ids))
    with state.connect() as conn:
        links = list(conn.execute(query).mappings())
    return {link["fund_id"]: [c.to_report() for c in review_candidates(state, link)] for link in links}
