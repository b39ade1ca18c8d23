"""The XPM 3.1 response shapes of clients, contacts, jobs and tasks, as Xero's description of 3.1 has them.

Element names are the description's, in XPM's XML spelling (``UUID``, ``GSTRegistered``); every record
carries every field of its type, empty when unset, as XPM does.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from classxpm.identifiers import mask_tfn
from classxpm.xpm_sim.config import SimConfig
from classxpm.xpm_sim.dates import render_input_date
from classxpm.xpm_sim.records import AUTO_BAS_FIELDS
from classxpm.xpm_sim.store import Store
from classxpm.xpm_sim.xml import add, add_ref

_PERSON_FIELDS = (
    "Name", "Title", "Gender", "FirstName", "MiddleName", "LastName", "OtherName", "Email",
    "DateOfBirth", "DateOfDeath", "PlaceOfBirthCity", "PlaceOfBirthCountryCode",
    "Address", "City", "Region", "PostCode", "Country",
    "PostalAddress", "PostalCity", "PostalRegion", "PostalPostCode", "PostalCountry",
    "Phone", "Fax", "Website", "ReferralSource", "ExportCode", "Industry",
    "IsProspect", "IsArchived", "IsDeleted",
)  # fmt: skip
_PRACTICE_FIELDS = (
    "CompanyNumber", "BusinessNumber", "BusinessStructure", "BalanceMonth",
    "PrepareGST", "GSTRegistered", "GSTPeriod", "GSTBasis", "ProvisionalTaxBasis", "ProvisionalTaxRatio",
    "SignedTaxAuthority", "TaxAgent", "AgencyStatus", "ReturnType", "PrepareActivityStatement",
    "PrepareTaxReturn", "BranchNumber", "BankBSB", "BankAccountName", "BankAccountNumber", "BankName",
    "ActiveAtoClient", "ClientCode",
)  # fmt: skip
_DATES = ("DateOfBirth", "DateOfDeath")
_CONTACT_FIELDS = ("Name", "Salutation", "Addressee", "Mobile", "Email", "Phone", "IsDeleted")
_NOTE_FIELDS = ("Title", "Text", "Folder", "Date", "CreatedBy", "Tags")
_JOB_FIELDS = ("Name", "Description")
_JOB_DETAIL_FIELDS = ("ClientOrderNumber", "Budget", "State", "Type", "StartDate", "DueDate", "CompletedDate")
_TASK_FIELDS = ("Name", "Description")
_TASK_MINUTES = ("EstimatedMinutes", "ActualMinutes")


def client_element(
    store: Store, config: SimConfig, client: dict[str, Any], *, contacts: bool = True, detailed: bool = False
) -> ET.Element:
    """``<Client>`` as Xero's 3.1 description has it, ``WebUrl`` included.

    The base record (``paged-list``) holds every scalar field, TaxNumber always masked; ``contacts`` adds
    ``<Contacts>`` (list, get and the writes); ``detailed`` adds Notes, Groups and Relationships.
    """
    element = ET.Element("Client")
    add(element, "UUID", client["UUID"])
    for name in _PERSON_FIELDS:
        value = client.get(name, "")
        add(element, name, _date(config, value) if name in _DATES else value)
    add_ref(element, "AccountManager", _staff_ref(client.get("AccountManagerUUID", "")))
    add_ref(element, "JobManager", _staff_ref(client.get("JobManagerUUID", "")))
    _add_type(element)
    add_ref(element, "BillingClient", _billing_ref(store, client.get("BillingClientUUID", "")))
    add(element, "TaxNumber", mask_tfn(client.get("TaxNumber", "")))
    for name in _PRACTICE_FIELDS:
        add(element, name, client.get(name, ""))
    _add_auto_bas(element, client.get("_auto_bas", {}))
    add(element, "WebUrl", web_url(config, client))
    if contacts:
        _add_contacts(element, store, client)
    if detailed:
        _add_notes(element, client.get("_notes", []))
        ET.SubElement(element, "Groups")
        ET.SubElement(element, "Relationships")
    return element


def _date(config: SimConfig, text: str) -> str:
    rendered = render_input_date(text)
    return rendered[:10] if config.date_of_birth_form == "date" else rendered


def _staff_ref(staff_uuid: str) -> dict[str, str]:
    return {"UUID": staff_uuid, "Name": ""}


def _billing_ref(store: Store, billing_uuid: str) -> dict[str, str]:
    billing = store.get("clients", billing_uuid) if billing_uuid else None
    return {"UUID": billing_uuid, "Name": billing["Name"] if billing else ""}


def _add_type(parent: ET.Element) -> None:
    billing_type = ET.SubElement(parent, "Type")
    for name in ("Name", "CostMarkup", "PaymentTerm", "PaymentDay"):
        add(billing_type, name)


def _add_auto_bas(parent: ET.Element, criteria: dict[str, str]) -> None:
    element = ET.SubElement(parent, "AutoBasOptInCriteria")
    for name in AUTO_BAS_FIELDS:
        add(element, name, criteria.get(name, ""))


def _add_notes(parent: ET.Element, notes: list[dict[str, str]]) -> None:
    element = ET.SubElement(parent, "Notes")
    for note in notes:
        item = ET.SubElement(element, "Note")
        for name in _NOTE_FIELDS:
            add(item, name, note.get(name, ""))


def _add_contacts(parent: ET.Element, store: Store, client: dict[str, Any]) -> None:
    contacts = ET.SubElement(parent, "Contacts")
    for link in client["_contacts"]:
        contact = store.get("contacts", link["UUID"])
        if contact is not None and contact["IsDeleted"] == "No":
            contacts.append(contact_element(contact, link))


def contact_element(
    contact: dict[str, Any], link: dict[str, str] | None, *, linkable: bool = True
) -> ET.Element:
    """``<Contact>``; ``IsPrimary`` and ``Position`` are its link's (empty when read without a client).

    ``linkable`` False gives the shape of a deleted contact's echo, which has neither.
    """
    element = ET.Element("Contact")
    add(element, "UUID", contact["UUID"])
    for name in _CONTACT_FIELDS:
        add(element, name, contact[name])
    if linkable:
        live_link = link if link is not None and contact["IsDeleted"] == "No" else {}
        add(element, "IsPrimary", live_link.get("IsPrimary", ""))
        add(element, "Position", live_link.get("Position", ""))
    return element


def linked_contacts_element(client: dict[str, Any], contact_uuids: list[str]) -> ET.Element:
    """The ``<Client>`` answer to linking contacts: its UUID and each linked contact's link."""
    element = ET.Element("Client")
    add(element, "UUID", client["UUID"])
    contacts = ET.SubElement(element, "Contacts")
    for link in (link for link in client["_contacts"] if link["UUID"] in contact_uuids):
        item = ET.SubElement(contacts, "Contact")
        for name in ("UUID", "Position", "IsPrimary"):
            add(item, name, link[name])
    return element


def job_element(store: Store, config: SimConfig, job: dict[str, Any], detailed: bool) -> ET.Element:
    """``<Job>``; with ``detailed``, its ``<Tasks>``, ``<Milestones>`` and ``<Notes>`` too."""
    element = ET.Element("Job")
    add(element, "ID", job["ID"])
    add(element, "UUID", job["UUID"])
    for name in _JOB_FIELDS:
        add(element, name, job[name])
    client = store.get("clients", job["_client"]) or {"UUID": job["_client"], "Name": ""}
    add_ref(element, "Client", client)
    for name in _JOB_DETAIL_FIELDS:
        add(element, name, job[name])
    add_ref(element, "Contact", {})
    add(element, "InternalID", job.get("InternalID", ""))
    add_ref(element, "Manager", job["Manager"])
    add_ref(element, "Partner", job["Partner"])
    ET.SubElement(element, "Assigned")
    if detailed:
        tasks = ET.SubElement(element, "Tasks")
        tasks.extend(task_element(task) for task in job["Tasks"])
        ET.SubElement(element, "Milestones")
        ET.SubElement(element, "Notes")
    add(element, "WebUrl", f"{config.web_url_base}/Job/{job['ID']}")
    return element


def task_element(task: dict[str, Any]) -> ET.Element:
    """``<Task>``, its flags as ``true``/``false`` as XPM writes job and task flags."""
    element = ET.Element("Task")
    add(element, "UUID", task["UUID"])
    for name in _TASK_FIELDS:
        add(element, name, task[name])
    add(element, "TaskUUID", task["TaskUUID"])
    add(element, "TaskID", task.get("TaskID", ""))
    for name in _TASK_MINUTES:
        add(element, name, task[name])
    add(element, "Completed", "true" if task["Completed"] else "false")
    add(element, "Billable", "true" if task["Billable"] else "false")
    add(element, "Folder", task["Folder"])
    for name in ("StartDate", "DueDate"):
        add(element, name, task[name])
    ET.SubElement(element, "Assigned")
    return element


def web_url(config: SimConfig, client: dict[str, Any]) -> str:
    """The client's page in the XPM web app."""
    return f"{config.web_url_base}/Client/{client['UUID']}/Detail"
