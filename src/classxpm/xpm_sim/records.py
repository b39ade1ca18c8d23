"""XPM records as the simulator keeps them: clients, contacts and their links, jobs and tasks.

Field names are XPM's element names. ``_tenant``, ``_created``, ``_modified`` and ``_contacts`` (the
client's contact links, each ``{"UUID", "Position", "IsPrimary"}``) are the simulator's bookkeeping;
``_notes`` (the read-only Notes list) and ``_auto_bas`` (AutoBasOptInCriteria) are a client's nested parts.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from classxpm.identifiers import normalise
from classxpm.xpm_sim.dates import stamp
from classxpm.xpm_sim.store import Store

CLIENT_TEXT_FIELDS = (
    "Name", "Title", "Gender", "FirstName", "MiddleName", "LastName", "OtherName", "Email",
    "DateOfBirth", "DateOfDeath", "PlaceOfBirthCity", "PlaceOfBirthCountryCode",
    "Address", "City", "Region", "PostCode", "Country",
    "PostalAddress", "PostalCity", "PostalRegion", "PostalPostCode", "PostalCountry",
    "Phone", "Fax", "Website", "ReferralSource", "ExportCode", "Industry",
    "AccountManagerUUID", "BillingClientUUID", "JobManagerUUID",
    "TaxNumber", "CompanyNumber", "BusinessNumber", "BranchNumber", "BusinessStructure", "BalanceMonth",
    "GSTPeriod", "GSTBasis", "ProvisionalTaxBasis", "ProvisionalTaxRatio",
    "SignedTaxAuthority", "TaxAgent", "AgencyStatus", "ReturnType",
    "BankBSB", "BankAccountName", "BankAccountNumber", "BankName", "ClientCode",
)  # fmt: skip
"""Every text field of a 3.1 client (reference §12). ExportCode and ClientCode are separate fields."""
CLIENT_FLAG_FIELDS = (
    "IsProspect",
    "PrepareGST",
    "GSTRegistered",
    "PrepareActivityStatement",
    "PrepareTaxReturn",
    "ActiveAtoClient",
)
AUTO_BAS_FIELDS = ("Annually", "Monthly", "Quarterly", "Opt-out")
CONTACT_TEXT_FIELDS = ("Name", "Salutation", "Addressee", "Mobile", "Email", "Phone")
IDENTIFIER_FIELDS = ("TaxNumber", "BusinessNumber", "CompanyNumber")
_CLIENT_INPUT_NAMES = {name.lower(): name for name in (*CLIENT_TEXT_FIELDS, *CLIENT_FLAG_FIELDS)}
"""Request element names, matched case-insensitively: the description's ``GstRegistered``,
``AccountManagerUuid`` and ``WebSite`` are the records' ``GSTRegistered``, ``AccountManagerUUID`` and
``Website``."""


def yes_no(value: Any) -> str:
    """Return XPM's ``Yes``/``No`` for a flag given as Yes/No, true/false or a boolean."""
    return "Yes" if str(value).strip().lower() in ("yes", "true", "1") else "No"


def client_fields(given: dict[str, Any]) -> dict[str, str]:
    """Pick the client fields out of request or seed data, under their stored names and forms.

    Elements that are not client fields (``Notes``, a read-only list in 3.1, or anything unknown) are
    ignored, as XPM ignores them.
    """
    fields: dict[str, str] = {}
    for given_name, value in given.items():
        name = _CLIENT_INPUT_NAMES.get(given_name.lower())
        if name in CLIENT_TEXT_FIELDS:
            text = "" if value is None else str(value).strip()
            fields[name] = normalise(text) if name in IDENTIFIER_FIELDS else text
        elif name in CLIENT_FLAG_FIELDS:
            fields[name] = yes_no(value)
    return fields


def auto_bas_fields(given: dict[str, Any]) -> dict[str, str]:
    """The ``AutoBasOptInCriteria`` values given in a request or seed."""
    return {name: str(given[name] or "").strip() for name in AUTO_BAS_FIELDS if name in given}


def contact_fields(given: dict[str, Any]) -> dict[str, str]:
    """Pick the contact fields out of request or seed data."""
    return {name: str(given[name] or "").strip() for name in CONTACT_TEXT_FIELDS if name in given}


def new_client(store: Store, tenant: str, fields: dict[str, str], now: datetime) -> dict[str, Any]:
    """Create and store a client with a new UUID; unset fields are empty, flags ``No``."""
    record: dict[str, Any] = dict.fromkeys(CLIENT_TEXT_FIELDS, "")
    record.update(dict.fromkeys(CLIENT_FLAG_FIELDS, "No"))
    record.update(fields)
    client_uuid = str(uuid.uuid4())
    record.update(UUID=client_uuid, IsArchived="No", IsDeleted="No", _tenant=tenant, _contacts=[])
    record.update(_notes=[], _auto_bas=dict.fromkeys(AUTO_BAS_FIELDS, ""))
    record.update(_created=stamp(now), _modified=stamp(now))
    return store.put("clients", client_uuid, record)


def touch(store: Store, kind: str, record: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Mark a record modified now and store it."""
    record["_modified"] = stamp(now)
    return store.put(kind, record["UUID"], record)


def new_contact(store: Store, tenant: str, fields: dict[str, str], now: datetime) -> dict[str, Any]:
    """Create and store a contact with a new UUID."""
    record: dict[str, Any] = dict.fromkeys(CONTACT_TEXT_FIELDS, "")
    record.update(fields)
    contact_uuid = str(uuid.uuid4())
    record.update(
        UUID=contact_uuid, IsDeleted="No", _tenant=tenant, _created=stamp(now), _modified=stamp(now)
    )
    return store.put("contacts", contact_uuid, record)


def link_contact(
    client: dict[str, Any], contact_uuid: str, position: str | None, primary: str | None
) -> None:
    """Link a contact to a client, or update the link; a new primary contact demotes the others."""
    links = client["_contacts"]
    link = next((item for item in links if item["UUID"] == contact_uuid), None)
    if link is None:
        link = {"UUID": contact_uuid, "Position": "", "IsPrimary": "No"}
        links.append(link)
    if position is not None:
        link["Position"] = position
    if primary is not None:
        link["IsPrimary"] = yes_no(primary)
        if link["IsPrimary"] == "Yes":
            for other in links:
                other["IsPrimary"] = "Yes" if other is link else "No"


def unlink_contact(client: dict[str, Any], contact_uuid: str) -> bool:
    """Remove a contact's link from a client; True when there was one."""
    before = len(client["_contacts"])
    client["_contacts"] = [link for link in client["_contacts"] if link["UUID"] != contact_uuid]
    return len(client["_contacts"]) < before


def tenant_records(store: Store, kind: str, tenant: str) -> list[dict[str, Any]]:
    """Every record of a kind that belongs to ``tenant``, oldest first."""
    return store.tenant_values(kind, tenant)


def find(store: Store, kind: str, tenant: str, key: str) -> dict[str, Any] | None:
    """The tenant's record with this UUID (or job number for jobs), or None."""
    record = store.get(kind, key)
    return record if record is not None and record["_tenant"] == tenant else None


def clients_with_tax_number(store: Store, tenant: str, tax_number: str, other_than: str | None) -> bool:
    """True when another live client of the tenant already has this tax number."""
    return any(
        client["TaxNumber"] == tax_number and client["UUID"] != other_than and client["IsDeleted"] == "No"
        for client in tenant_records(store, "clients", tenant)
    )
