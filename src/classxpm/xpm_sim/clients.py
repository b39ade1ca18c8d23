"""``client.api``: list, paged list, search, get, add, update, archive and delete (reference §4.1, §12)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from classxpm.xpm_sim import records
from classxpm.xpm_sim.api import CONFLICT, NOT_FOUND, ApiError, Call, xpm_route
from classxpm.xpm_sim.dates import from_stamp, parse_input_date
from classxpm.xpm_sim.paging import page
from classxpm.xpm_sim.render import client_element
from classxpm.xpm_sim.validation import check_client_fields
from classxpm.xpm_sim.xml import child, children, leaf_fields, text_of

CLIENT_NOT_FOUND = "Client not found"
CLIENT_ARCHIVED = "The client is archived"
CLIENT_DELETED = "The client is deleted"


def live_client(call: Call, client_uuid: str | None, include_deleted: bool = False) -> dict[str, Any]:
    """The tenant's client with this UUID.

    Raises:
        ApiError: A 404 for an unknown UUID (or a deleted client unless ``include_deleted``).
    """
    client = records.find(call.sim.store, "clients", call.tenant, client_uuid or "")
    if client is None or (client["IsDeleted"] == "Yes" and not include_deleted):
        raise ApiError(CLIENT_NOT_FOUND, NOT_FOUND)
    return client


def writable_client(call: Call, client_uuid: str | None, *, archived_ok: bool = False) -> dict[str, Any]:
    """The tenant's client with this UUID, as a write to it needs it: neither deleted nor archived.

    Raises:
        ApiError: A 404 for an unknown UUID; a 409 for a deleted client, or an archived one unless
            ``archived_ok`` (XPM lists 409 on update, archive, delete and every contact operation).
    """
    client = live_client(call, client_uuid, include_deleted=True)
    if client["IsDeleted"] == "Yes":
        raise ApiError(CLIENT_DELETED, CONFLICT)
    if client["IsArchived"] == "Yes" and not archived_ok:
        raise ApiError(CLIENT_ARCHIVED, CONFLICT)
    return client


def answer(call: Call, client: dict[str, Any]) -> Response:
    """The one-client answer of get and the writes: the client with its contacts, notes and WebUrl."""
    return call.ok(client_element(call.sim.store, call.sim.config, client, detailed=True))


def _clients_element(
    call: Call, clients: list[dict[str, Any]], *, contacts: bool, detailed: bool
) -> ET.Element:
    element = ET.Element("Clients")
    element.extend(
        client_element(call.sim.store, call.sim.config, client, contacts=contacts, detailed=detailed)
        for client in clients
    )
    return element


def _detailed(call: Call) -> bool:
    return call.flag("detailed") or call.sim.config.list_detailed_by_default


def list_clients(call: Call) -> Response:
    """Every client of the tenant, archived and deleted ones too, each with its contacts.

    ``detailed=true`` adds only Notes, Groups and Relationships. ``modifiedSince`` (any spelling) keeps
    the clients changed since then.
    """
    clients = records.tenant_records(call.sim.store, "clients", call.tenant)
    since_text = call.param("modifiedSince")
    if since_text:
        since = parse_input_date(since_text)
        if since is None:
            raise ApiError("modifiedSince must be yyyy-MM-ddTHH:mm:ss")
        clients = [c for c in clients if from_stamp(c["_modified"]) >= since.replace(tzinfo=UTC)]
    return call.ok(_clients_element(call, clients, contacts=True, detailed=_detailed(call)))


def paged_list(call: Call) -> Response:
    """Base records (no contacts, notes, groups or relationships) of clients neither archived nor deleted."""
    live = [
        client
        for client in records.tenant_records(call.sim.store, "clients", call.tenant)
        if client["IsArchived"] == "No" and client["IsDeleted"] == "No"
    ]
    clients, pagination = page(call, live, "client.api/paged-list")
    return call.ok(_clients_element(call, clients, contacts=False, detailed=False), pagination)


def search(call: Call) -> Response:
    """Live clients whose configured search fields contain the query (case-insensitive)."""
    query = (call.param("query") or "").strip().lower()
    if not query:
        raise ApiError("query is required")
    fields = call.sim.config.search_fields
    found = [
        client
        for client in records.tenant_records(call.sim.store, "clients", call.tenant)
        if client["IsDeleted"] == "No" and any(query in str(client.get(name, "")).lower() for name in fields)
    ]
    return call.ok(_clients_element(call, found, contacts=True, detailed=_detailed(call)))


def get(call: Call) -> Response:
    """One client in full: contacts, notes, groups, relationships and its ``WebUrl``."""
    return answer(call, live_client(call, call.path("uuid"), include_deleted=True))


def _nested_fields(document: ET.Element) -> dict[str, str]:
    criteria = child(document, "AutoBasOptInCriteria")
    return records.auto_bas_fields(leaf_fields(criteria)) if criteria is not None else {}


def add_client(call: Call) -> Response:
    """Create a client, and any new contacts given inline (the last one flagged primary wins)."""
    document = call.document("Client")
    fields = records.client_fields(leaf_fields(document))
    check_client_fields(call.sim.store, call.sim.config, call.tenant, fields, None)
    now = call.sim.now()
    client = records.new_client(call.sim.store, call.tenant, fields, now)
    client["_auto_bas"].update(_nested_fields(document))
    contacts = child(document, "Contacts")
    for given in children(contacts, "Contact") if contacts is not None else []:
        given_fields = leaf_fields(given)
        contact = records.new_contact(call.sim.store, call.tenant, records.contact_fields(given_fields), now)
        records.link_contact(
            client, contact["UUID"], given_fields.get("Position"), given_fields.get("IsPrimary")
        )
    records.touch(call.sim.store, "clients", client, now)
    return answer(call, client)


def update_client(call: Call) -> Response:
    """Change only the fields given (ExportCode too, unless the config says otherwise); never contacts."""
    document = call.document("Client")
    client = writable_client(call, text_of(document, "UUID"))
    fields = records.client_fields(leaf_fields(document))
    if not call.sim.config.update_accepts_export_code:
        fields.pop("ExportCode", None)
    check_client_fields(call.sim.store, call.sim.config, call.tenant, fields, client["UUID"])
    client.update(fields)
    client["_auto_bas"] = {**client.get("_auto_bas", {}), **_nested_fields(document)}
    records.touch(call.sim.store, "clients", client, call.sim.now())
    return answer(call, client)


def archive_client(call: Call) -> Response:
    """Archive a client; it leaves the paged list but stays in list and get. Archiving twice is a 409."""
    client = writable_client(call, text_of(call.document("Client"), "UUID"))
    client["IsArchived"] = "Yes"
    records.touch(call.sim.store, "clients", client, call.sim.now())
    return answer(call, client)


def delete_client(call: Call) -> Response:
    """Delete a client (archived ones too): soft or hard, as configured; the answer is a bare OK."""
    client = writable_client(call, text_of(call.document("Client"), "UUID"), archived_ok=True)
    if call.sim.config.client_delete_mode == "hard":
        call.sim.store.delete("clients", client["UUID"])
    else:
        client["IsDeleted"] = "Yes"
        records.touch(call.sim.store, "clients", client, call.sim.now())
    return call.ok()


ROUTES: list[Route] = [
    xpm_route("GET", "client.api/list", "client", "List", list_clients),
    xpm_route("GET", "client.api/paged-list", "client", "List", paged_list),
    xpm_route("GET", "client.api/search", "client", "Search", search),
    xpm_route("GET", "client.api/get/{uuid}", "client", "Get", get),
    xpm_route("POST", "client.api/add", "client", "Add", add_client),
    xpm_route("PUT", "client.api/update", "client", "Update", update_client),
    xpm_route("PUT", "client.api/archive", "client", "Archive", archive_client),
    xpm_route("POST", "client.api/delete", "client", "Delete", delete_client),
]
