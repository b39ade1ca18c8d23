"""``client.api``: list, paged list, search, get, add, update, archive and delete (reference §4.1)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from classxpm.xpm_sim import records
from classxpm.xpm_sim.api import ApiError, Call, xpm_route
from classxpm.xpm_sim.dates import from_stamp, parse_input_date
from classxpm.xpm_sim.paging import page
from classxpm.xpm_sim.render import client_element, web_url
from classxpm.xpm_sim.validation import check_client_fields
from classxpm.xpm_sim.xml import child, children, leaf_fields, text_of

CLIENT_NOT_FOUND = "Client not found"


def live_client(call: Call, client_uuid: str | None, include_deleted: bool = False) -> dict[str, Any]:
    """The tenant's client with this UUID.

    Raises:
        ApiError: A not-found error for an unknown UUID (or a deleted client unless ``include_deleted``).
    """
    client = records.find(call.sim.store, "clients", call.tenant, client_uuid or "")
    if client is None or (client["IsDeleted"] == "Yes" and not include_deleted):
        raise ApiError(CLIENT_NOT_FOUND, not_found=True)
    return client


def _clients_element(call: Call, clients: list[dict[str, Any]], detailed: bool) -> ET.Element:
    element = ET.Element("Clients")
    element.extend(client_element(call.sim.store, call.sim.config, client, detailed) for client in clients)
    return element


def _detailed(call: Call) -> bool:
    return call.flag("detailed") or call.sim.config.list_detailed_by_default


def list_clients(call: Call) -> Response:
    """Every client of the tenant (archived and soft-deleted ones too), optionally modified since a time."""
    clients = records.tenant_records(call.sim.store, "clients", call.tenant)
    since_text = call.param("modifiedsince")
    if since_text:
        since = parse_input_date(since_text)
        if since is None:
            raise ApiError("modifiedsince must be yyyy-MM-ddTHH:mm:ss")
        clients = [c for c in clients if from_stamp(c["_modified"]) >= since.replace(tzinfo=UTC)]
    return call.ok(_clients_element(call, clients, _detailed(call)))


def paged_list(call: Call) -> Response:
    """The tenant's clients that are neither archived nor deleted, one page at a time."""
    live = [
        client
        for client in records.tenant_records(call.sim.store, "clients", call.tenant)
        if client["IsArchived"] == "No" and client["IsDeleted"] == "No"
    ]
    clients, pagination = page(call, live, "client.api/paged-list")
    return call.ok(_clients_element(call, clients, _detailed(call)), pagination)


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
    return call.ok(_clients_element(call, found, _detailed(call)))


def get(call: Call) -> Response:
    """One client in full, with its ``WebUrl``."""
    client = live_client(call, call.path("uuid"), include_deleted=True)
    url = ET.Element("WebUrl")
    url.text = web_url(call.sim.config, client)
    return call.ok(url, client_element(call.sim.store, call.sim.config, client, detailed=True))


def add_client(call: Call) -> Response:
    """Create a client, and any new contacts given inline (the last one flagged primary wins)."""
    document = call.document("Client")
    fields = records.client_fields(leaf_fields(document))
    check_client_fields(call.sim.store, call.sim.config, call.tenant, fields, None)
    now = call.sim.now()
    client = records.new_client(call.sim.store, call.tenant, fields, now)
    contacts = child(document, "Contacts")
    for given in children(contacts, "Contact") if contacts is not None else []:
        given_fields = leaf_fields(given)
        contact = records.new_contact(call.sim.store, call.tenant, records.contact_fields(given_fields), now)
        records.link_contact(
            client, contact["UUID"], given_fields.get("Position"), given_fields.get("IsPrimary")
        )
    records.touch(call.sim.store, "clients", client, now)
    return call.ok(client_element(call.sim.store, call.sim.config, client, detailed=True))


def update_client(call: Call) -> Response:
    """Change the fields given; ExportCode only when the config says update accepts it."""
    document = call.document("Client")
    client = live_client(call, text_of(document, "UUID"))
    fields = records.client_fields(leaf_fields(document))
    if not call.sim.config.update_accepts_export_code:
        fields.pop("ExportCode", None)
    check_client_fields(call.sim.store, call.sim.config, call.tenant, fields, client["UUID"])
    client.update(fields)
    records.touch(call.sim.store, "clients", client, call.sim.now())
    return call.ok(client_element(call.sim.store, call.sim.config, client, detailed=True))


def archive_client(call: Call) -> Response:
    """Archive a client; it leaves the paged list but stays in list and get."""
    client = live_client(call, text_of(call.document("Client"), "UUID"))
    client["IsArchived"] = "Yes"
    records.touch(call.sim.store, "clients", client, call.sim.now())
    return call.ok(client_element(call.sim.store, call.sim.config, client, detailed=True))


def delete_client(call: Call) -> Response:
    """Delete a client: soft (``IsDeleted`` Yes) or hard, as configured; the answer is a bare OK."""
    client = live_client(call, text_of(call.document("Client"), "UUID"))
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
