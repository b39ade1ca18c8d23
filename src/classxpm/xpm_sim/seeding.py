"""The default state (one app, user and tenant) and the admin seed of tenants, users, clients and jobs."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Any

from classxpm.errors import Fatal
from classxpm.xpm_sim import records
from classxpm.xpm_sim.config import DEFAULT_TENANT_ID, DEFAULT_TENANT_NAME, DEFAULT_USER_EMAIL, SimConfig
from classxpm.xpm_sim.dates import render_input_date
from classxpm.xpm_sim.store import Store

SIGNING_KEY = "signing_key"
JOB_COUNTER = "job_number"
_STAFF_NAMESPACE = uuid.UUID("0b6d9c1e-6c44-4a55-9a53-5f1f8f0e7a21")


class SeedError(Fatal, ValueError):
    """A seed payload names something unknown or misses a required value."""


def install_defaults(store: Store, config: SimConfig) -> None:
    """Put the default state in an empty store: the app, the demo user and the Demo Practice tenant."""
    store.set_meta(SIGNING_KEY, secrets.token_hex(32))
    store.put("tenants", DEFAULT_TENANT_ID, {"id": DEFAULT_TENANT_ID, "name": DEFAULT_TENANT_NAME})
    add_user(store, DEFAULT_USER_EMAIL, [DEFAULT_TENANT_ID])
    sync_app(store, config)


def sync_app(store: Store, config: SimConfig) -> None:
    """Make the registered app the one the config names (its id, secret and redirect URIs)."""
    for app in store.values("apps"):
        if app["client_id"] != config.client_id:
            store.delete("apps", app["client_id"])
    app = {"client_id": config.client_id, "client_secret": config.client_secret}
    store.put("apps", config.client_id, {**app, "redirect_uris": list(config.redirect_uris)})


def add_user(store: Store, email: str, tenant_ids: list[str]) -> dict[str, Any]:
    """Create a user, or give an existing one access to more tenants."""
    user = next((u for u in store.values("users") if u["email"].lower() == email.lower()), None)
    if user is None:
        user = {"id": str(uuid.uuid4()), "email": email, "tenants": []}
    user["tenants"] += [tenant for tenant in tenant_ids if tenant not in user["tenants"]]
    return store.put("users", user["id"], user)


def resolve_tenant(store: Store, name_or_id: str | None) -> str:
    """Return the id of the tenant named or id'd, the default tenant when None.

    Raises:
        SeedError: When no tenant has that name or id.
    """
    if name_or_id is None:
        return DEFAULT_TENANT_ID
    if store.get("tenants", name_or_id) is not None:
        return name_or_id
    match = next((t for t in store.values("tenants") if t["name"] == name_or_id), None)
    if match is None:
        raise SeedError(f"unknown tenant {name_or_id!r}")
    return match["id"]


def seed(store: Store, payload: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Add the tenants, users, clients (with contacts) and jobs (with tasks) of an admin seed payload.

    Returns:
        The ids created, by kind.

    Raises:
        SeedError: When the payload refers to an unknown tenant or client or misses a required value.
    """
    with store.lock:
        return {
            "tenants": [_seed_tenant(store, item) for item in payload.get("tenants", [])],
            "users": [_seed_user(store, item) for item in payload.get("users", [])],
            "clients": [_seed_client(store, item, now) for item in payload.get("clients", [])],
            "jobs": [_seed_job(store, item) for item in payload.get("jobs", [])],
        }


def _seed_tenant(store: Store, item: dict[str, Any]) -> dict[str, str]:
    if not item.get("name"):
        raise SeedError("a tenant needs a name")
    tenant = {"id": str(item.get("id") or uuid.uuid4()), "name": item["name"]}
    store.put("tenants", tenant["id"], tenant)
    return tenant


def _seed_user(store: Store, item: dict[str, Any]) -> dict[str, Any]:
    if not item.get("email"):
        raise SeedError("a user needs an email")
    tenants = [resolve_tenant(store, tenant) for tenant in item.get("tenants", [])]
    user = add_user(store, item["email"], tenants)
    return {"id": user["id"], "email": user["email"], "tenants": user["tenants"]}


def _seed_client(store: Store, item: dict[str, Any], now: datetime) -> dict[str, Any]:
    if not item.get("Name"):
        raise SeedError("a client needs a Name")
    tenant = resolve_tenant(store, item.get("tenant"))
    client = records.new_client(store, tenant, records.client_fields(item), now)
    client.update(IsArchived=records.yes_no(item.get("IsArchived", "No")))
    client.update(IsDeleted=records.yes_no(item.get("IsDeleted", "No")))
    client["_notes"] = [dict(note) for note in item.get("Notes", [])]
    client["_auto_bas"].update(records.auto_bas_fields(item.get("AutoBasOptInCriteria", {})))
    for given in item.get("Contacts", []):
        contact = records.new_contact(store, tenant, records.contact_fields(given), now)
        records.link_contact(client, contact["UUID"], given.get("Position", ""), given.get("IsPrimary", "No"))
    store.put("clients", client["UUID"], client)
    contacts = [link["UUID"] for link in client["_contacts"]]
    return {"uuid": client["UUID"], "name": client["Name"], "tenant": tenant, "contacts": contacts}


def staff(name: str | None) -> dict[str, str]:
    """A staff reference ``{"UUID", "Name"}`` with a UUID derived from the name (empty for None)."""
    if not name:
        return {"UUID": "", "Name": ""}
    return {"UUID": str(uuid.uuid5(_STAFF_NAMESPACE, name)), "Name": name}


def _seed_job(store: Store, item: dict[str, Any]) -> dict[str, str]:
    tenant = resolve_tenant(store, item.get("tenant"))
    client = _job_client(store, tenant, item)
    number = item.get("ID") or f"J{store.next_number(JOB_COUNTER):06d}"
    job = {
        "ID": number,
        "UUID": str(uuid.uuid4()),
        "Name": item.get("Name", ""),
        "Description": item.get("Description", ""),
        "State": item.get("State", "Planned"),
        "ClientOrderNumber": item.get("ClientOrderNumber", ""),
        "Budget": str(item.get("Budget", "")),
        "Type": item.get("Type", ""),
        **{
            key: render_input_date(str(item.get(key, "")))
            for key in ("StartDate", "DueDate", "CompletedDate")
        },
        "Manager": staff(item.get("Manager")),
        "Partner": staff(item.get("Partner")),
        "Tasks": [_task(task) for task in item.get("Tasks", [])],
        "_tenant": tenant,
        "_client": client["UUID"],
    }
    store.put("jobs", number, job)
    return {"id": number, "uuid": job["UUID"]}


def _job_client(store: Store, tenant: str, item: dict[str, Any]) -> dict[str, Any]:
    if item.get("client_uuid"):
        client = records.find(store, "clients", tenant, item["client_uuid"])
    else:
        code = item.get("client_export_code")
        matches = [
            c for c in records.tenant_records(store, "clients", tenant) if code and c["ExportCode"] == code
        ]
        client = matches[0] if matches else None
    if client is None:
        raise SeedError("a job needs the client_uuid or client_export_code of a client of its tenant")
    return client


def _task(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "UUID": str(uuid.uuid4()),
        "TaskUUID": str(uuid.uuid4()),
        "Name": item.get("Name", ""),
        "Description": item.get("Description", ""),
        "EstimatedMinutes": str(item.get("EstimatedMinutes", 0)),
        "ActualMinutes": str(item.get("ActualMinutes", 0)),
        "Completed": bool(item.get("Completed", False)),
        "Billable": bool(item.get("Billable", True)),
        "Folder": item.get("Folder", ""),
        **{key: render_input_date(str(item.get(key, ""))) for key in ("StartDate", "DueDate")},
    }
