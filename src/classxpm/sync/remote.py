"""What XPM holds: read in bulk on full runs, by ``modifiedSince`` on incremental runs, cached in state.

Both reads are ``client.api/list``: one call that returns every client, archived and deleted ones too,
each with its contacts and WebUrl (reference §12). ``paged-list`` is never used for this: its base records
carry no contacts, so matching members against them would create duplicates, and it leaves out archived
clients, so a fund whose client a person archived would be created again. ``bench/RESULTS.md`` has the
calls and bytes of both paths.

The cache lets an incremental run match a new fund against clients created by hand in XPM with one list
call, instead of one search per fund. It holds TaxNumber only in XPM's masked form.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from classxpm.db import bulk_insert
from classxpm.sync.links import upsert
from classxpm.sync.model import RemoteClient, RemoteContact
from classxpm.sync.plan import RemoteIndex
from classxpm.sync.tables import remote_clients, remote_reads
from classxpm.xpm import xml
from classxpm.xpm.api import XpmApi

MODIFIED_OVERLAP = timedelta(minutes=5)
"""Read a little before the last read, so a client written while we read is never missed."""
DELETE_SLICE = 10_000
"""Clients deleted from the cache per statement."""

CONTACT_FIELDS = ("Name", "Salutation", "Addressee", "Mobile", "Email", "Phone", "Position")


def contact_fields(contact: xml.Contact) -> dict[str, str | None]:
    """The mapped fields of an XPM contact, by XPM element name."""
    values = (
        contact.name,
        contact.salutation,
        contact.addressee,
        contact.mobile,
        contact.email,
        contact.phone,
    )
    return dict(zip(CONTACT_FIELDS, (*values, contact.position), strict=True))


def remote_from(client: xml.Client) -> RemoteClient:
    """Turn a parsed XPM client into the planner's view of it (its live contacts only)."""
    contacts = tuple(
        RemoteContact(c.uuid, contact_fields(c)) for c in client.contacts if c.uuid and not c.is_deleted
    )
    return RemoteClient(client.uuid or "", dict(client.fields), contacts, client.has_contacts)


def _row(tenant_id: str, client: RemoteClient, read_at: datetime) -> dict:
    return {
        "tenant_id": tenant_id,
        "client_uuid": client.uuid,
        "export_code": client.export_code or None,
        "name": client.name[:255],
        "business_number": client.business_number or None,
        "fields": dict(client.fields),
        "contacts": [{"uuid": c.uuid, "fields": c.fields} for c in client.contacts],
        "read_at": read_at,
    }


def _client(row: sa.Row) -> RemoteClient:
    """A cached client, with its contacts."""
    contacts = tuple(RemoteContact(c["uuid"], c["fields"]) for c in row.contacts)
    return RemoteClient(row.client_uuid, row.fields, contacts)


class RemoteState:
    """The cached XPM clients of one tenant."""

    def __init__(self, state: Engine, tenant_id: str) -> None:
        self.state, self.tenant_id = state, tenant_id

    def last_read(self) -> datetime | None:
        """When the cache was last brought up to date, full or by ``modifiedSince``; None when never."""
        with self.state.connect() as conn:
            row = conn.execute(
                sa.select(remote_reads).where(remote_reads.c.tenant_id == self.tenant_id)
            ).first()
        if row is None or row.full_read_at is None:
            return None
        return max(stamp for stamp in (row.full_read_at, row.modified_read_at) if stamp is not None)

    def read_full(self, api: XpmApi) -> list[RemoteClient]:
        """Read every client from XPM, archived and deleted ones included, with contacts (one call)."""
        return [remote_from(client) for client in api.list_clients()]

    def replace(self, clients: list[RemoteClient], read_at: datetime) -> None:
        """Replace the cache with a full read."""
        with self.state.begin() as conn:
            conn.execute(sa.delete(remote_clients).where(remote_clients.c.tenant_id == self.tenant_id))
            bulk_insert(conn, remote_clients, [_row(self.tenant_id, c, read_at) for c in clients])
            upsert(
                conn,
                remote_reads,
                {"tenant_id": self.tenant_id, "full_read_at": read_at, "modified_read_at": None},
            )

    def read_modified(self, api: XpmApi, since: datetime) -> list[RemoteClient]:
        """Read the clients changed since ``since``, archived and deleted ones included (one call)."""
        return [remote_from(c) for c in api.list_clients(modified_since=since - MODIFIED_OVERLAP)]

    def web_url(self, client_uuid: str) -> str | None:
        """The cached client's launch link, or None when the cache does not hold it."""
        with self.state.connect() as conn:
            fields = conn.execute(
                sa.select(remote_clients.c.fields).where(
                    remote_clients.c.tenant_id == self.tenant_id, remote_clients.c.client_uuid == client_uuid
                )
            ).scalar()
        return RemoteClient(client_uuid, fields or {}).web_url

    def merge(self, changed: list[RemoteClient], read_at: datetime) -> None:
        """Merge a ``modifiedSince`` read into the cache (archived and deleted clients stay, marked so)."""
        with self.state.begin() as conn:
            doomed = [c.uuid for c in changed]
            # In slices: the first read after a large backfill returns more clients than PostgreSQL takes
            # bound parameters in one statement (65,535).
            for start in range(0, len(doomed), DELETE_SLICE):
                conn.execute(
                    sa.delete(remote_clients).where(
                        remote_clients.c.tenant_id == self.tenant_id,
                        remote_clients.c.client_uuid.in_(doomed[start : start + DELETE_SLICE]),
                    )
                )
            bulk_insert(conn, remote_clients, [_row(self.tenant_id, c, read_at) for c in changed])
            upsert(conn, remote_reads, {"tenant_id": self.tenant_id, "modified_read_at": read_at})

    def index(self) -> RemoteIndex:
        """Build the matching index from the cache."""
        with self.state.connect() as conn:
            rows = conn.execute(
                sa.select(
                    remote_clients.c.client_uuid, remote_clients.c.fields, remote_clients.c.contacts
                ).where(remote_clients.c.tenant_id == self.tenant_id)
            ).all()
        return RemoteIndex(_client(row) for row in rows)

    def held(self, client_uuids: set[str]) -> dict[str, RemoteClient]:
        """The cached clients among ``client_uuids``, with their contacts, by UUID."""
        with self.state.connect() as conn:
            rows = conn.execute(
                sa.select(
                    remote_clients.c.client_uuid, remote_clients.c.fields, remote_clients.c.contacts
                ).where(
                    remote_clients.c.tenant_id == self.tenant_id,
                    remote_clients.c.client_uuid.in_(client_uuids),
                )
            ).all()
        return {row.client_uuid: _client(row) for row in rows}

    def store(self, client: RemoteClient, read_at: datetime) -> None:
        """Put one client, as XPM returned it after a write or a get, into the cache."""
        with self.state.begin() as conn:
            self.put(conn, client, read_at)

    def put(self, conn: Connection, client: RemoteClient, read_at: datetime) -> None:
        """``store``, in the caller's transaction (with the write's link and outcome)."""
        upsert(conn, remote_clients, _row(self.tenant_id, client, read_at))
