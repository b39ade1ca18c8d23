"""Contacts under ``client.api``: get, add and attach, update, delete or detach, link, paged list (§4.2)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from classxpm.xpm_sim import records
from classxpm.xpm_sim.api import CONFLICT, NOT_FOUND, ApiError, Call, xpm_route
from classxpm.xpm_sim.clients import live_client, writable_client
from classxpm.xpm_sim.paging import page
from classxpm.xpm_sim.render import contact_element, linked_contacts_element
from classxpm.xpm_sim.xml import child, children, leaf_fields, text_of

CONTACT_NOT_FOUND = "Contact not found"
CONTACT_DELETED = "The contact is deleted"


def _contact(call: Call, contact_uuid: str | None) -> dict[str, Any]:
    contact = records.find(call.sim.store, "contacts", call.tenant, contact_uuid or "")
    if contact is None:
        raise ApiError(CONTACT_NOT_FOUND, NOT_FOUND)
    return contact


def _live_contact(call: Call, contact_uuid: str | None) -> dict[str, Any]:
    contact = _contact(call, contact_uuid)
    if contact["IsDeleted"] == "Yes":
        raise ApiError(CONTACT_DELETED, CONFLICT)
    return contact


def _link(client: dict[str, Any] | None, contact_uuid: str) -> dict[str, str] | None:
    if client is None:
        return None
    return next((link for link in client["_contacts"] if link["UUID"] == contact_uuid), None)


def _client_param(call: Call) -> dict[str, Any] | None:
    client_uuid = call.param("clientUuid")
    return live_client(call, client_uuid) if client_uuid else None


def get_contact(call: Call) -> Response:
    """One contact; with ``clientUuid`` its ``IsPrimary`` and ``Position`` for that client."""
    contact = _contact(call, call.path("uuid"))
    return call.ok(contact_element(contact, _link(_client_param(call), contact["UUID"])))


def add_contact(call: Call) -> Response:
    """Create a contact and attach it to the client named in ``<Client><UUID>`` (required, writable)."""
    document = call.document("Contact")
    client_ref = child(document, "Client")
    client_uuid = text_of(client_ref, "UUID") if client_ref is not None else None
    if not client_uuid:
        raise ApiError("Contact must include <Client><UUID> of the client to attach it to")
    client = writable_client(call, client_uuid)
    fields = leaf_fields(document)
    if not fields.get("Name"):
        raise ApiError("Contact Name is required")
    now = call.sim.now()
    contact = records.new_contact(call.sim.store, call.tenant, records.contact_fields(fields), now)
    records.link_contact(client, contact["UUID"], fields.get("Position", ""), fields.get("IsPrimary", "No"))
    records.touch(call.sim.store, "clients", client, now)
    return call.ok(contact_element(contact, _link(client, contact["UUID"])))


def update_contact(call: Call) -> Response:
    """Change a contact; ``Position`` and ``IsPrimary`` only when ``<Client><UUID>`` is included."""
    contact = _live_contact(call, call.path("uuid"))
    document = call.document("Contact")
    client_ref = child(document, "Client")
    client = writable_client(call, text_of(client_ref, "UUID")) if client_ref is not None else None
    fields = leaf_fields(document)
    contact.update(records.contact_fields(fields))
    now = call.sim.now()
    records.touch(call.sim.store, "contacts", contact, now)
    if client is not None:
        records.link_contact(client, contact["UUID"], fields.get("Position"), fields.get("IsPrimary"))
        records.touch(call.sim.store, "clients", client, now)
    return call.ok(contact_element(contact, _link(client, contact["UUID"])))


def delete_contact(call: Call) -> Response:
    """With ``clientUuid`` detach the contact from that client; without, mark it deleted. Echoes it."""
    contact = _live_contact(call, call.path("uuid"))
    client_uuid = call.param("clientUuid")
    client = writable_client(call, client_uuid) if client_uuid else None
    now = call.sim.now()
    if client is not None:
        if not records.unlink_contact(client, contact["UUID"]):
            raise ApiError("The contact is not linked to that client", NOT_FOUND)
        records.touch(call.sim.store, "clients", client, now)
    else:
        contact["IsDeleted"] = "Yes"
        records.touch(call.sim.store, "contacts", contact, now)
    return call.ok(contact_element(contact, None, linkable=False))


def link_contacts(call: Call) -> Response:
    """Link existing contacts to a client, at most ``max_link_contacts`` (10) per request.

    A bad count is a 400, an unknown client or contact a 404, a deleted contact or an archived client a 409.
    """
    client = writable_client(call, call.path("uuid"))
    holder = child(call.document("Client"), "Contacts")
    given = children(holder, "Contact") if holder is not None else []
    limit = call.sim.config.max_link_contacts
    if not given or len(given) > limit:
        raise ApiError(f"Between 1 and {limit} contacts can be linked in one request")
    wanted = [(_live_contact(call, text_of(item, "UUID")), leaf_fields(item)) for item in given]
    for contact, fields in wanted:
        records.link_contact(client, contact["UUID"], fields.get("Position"), fields.get("IsPrimary"))
    records.touch(call.sim.store, "clients", client, call.sim.now())
    return call.ok(linked_contacts_element(client, [contact["UUID"] for contact, _ in wanted]))


def list_contacts(call: Call) -> Response:
    """The tenant's contacts that are not deleted, one page at a time, with no reference to their clients."""
    live = [
        c for c in records.tenant_records(call.sim.store, "contacts", call.tenant) if c["IsDeleted"] == "No"
    ]
    contacts, pagination = page(call, live, "client.api/contacts")
    element = ET.Element("Contacts")
    element.extend(contact_element(contact, None) for contact in contacts)
    return call.ok(element, pagination)


ROUTES: list[Route] = [
    xpm_route("GET", "client.api/contact/{uuid}", "client", "Get", get_contact),
    xpm_route("PUT", "client.api/contact/{uuid}", "client", "Contact", update_contact),
    xpm_route("DELETE", "client.api/contact/{uuid}", "client", "Contact", delete_contact),
    xpm_route("POST", "client.api/contact", "client", "Contact", add_contact),
    xpm_route("POST", "client.api/client/{uuid}/contacts", "client", "Contact", link_contacts),
    xpm_route("GET", "client.api/contacts", "client", "List", list_contacts),
]
