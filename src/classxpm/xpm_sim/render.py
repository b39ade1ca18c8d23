"""The XPM 3.1 response shapes of clients, contacts, jobs and tasks (reference §5.2, §5.3, §4.3)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from classxpm.identifiers import mask_tfn
from classxpm.xpm_sim.config import SimConfig
from classxpm.xpm_sim.dates import render_input_date
from classxpm.xpm_sim.store import Store
from classxpm.xpm_sim.xml import add, add_ref

_SUMMARY_FIELDS = (
    "Name", "Email", "DateOfBirth", "Address", "City", "Region", "PostCode", "Country",
    "PostalAddress", "PostalCity", "PostalRegion", "PostalPostCode", "PostalCountry",
    "Phone", "Fax", "Website", "ReferralSource", "ExportCode", "IsProspect", "IsArchived", "IsDeleted",
)  # fmt: skip
_PRACTICE_FIELDS = (
    "CompanyNumber", "BusinessNumber", "BusinessStructure", "BalanceMonth",
    "PrepareGST", "GSTRegistered", "GSTPeriod", "GSTBasis", "ProvisionalTaxBasis", "ProvisionalTaxRatio",
    "PrepareActivityStatement", "PrepareTaxReturn",
)  # fmt: skip
_NAME_PARTS = ("FirstName", "LastName", "OtherName")
_JOB_FIELDS = ("Name", "Description", "State", "ClientOrderNumber", "Budget", "Type")
_TASK_FIELDS = ("Name", "Description", "EstimatedMinutes", "ActualMinutes")


def client_element(store: Store, config: SimConfig, client: dict[str, Any], detailed: bool) -> ET.Element:
    """``<Client>``: the summary fields and contacts, plus every practice field when ``detailed``.

    The TaxNumber is always masked, as XPM does.
    """
    element = ET.Element("Client")
    add(element, "UUID", client["UUID"])
    for name in _SUMMARY_FIELDS:
        add(element, name, _date_of_birth(config, client[name]) if name == "DateOfBirth" else client[name])
        if name == "Name":
            for part in (part for part in _NAME_PARTS if client.get(part)):
                add(element, part, client[part])
    if detailed:
        add_ref(element, "AccountManager", _staff_ref(client["AccountManagerUUID"]))
        _add_type(element)
    _add_contacts(element, store, client)
    if detailed:
        _add_practice_fields(element, store, client)
    return element


def _date_of_birth(config: SimConfig, text: str) -> str:
    rendered = render_input_date(text)
    return rendered[:10] if config.date_of_birth_form == "date" else rendered


def _staff_ref(staff_uuid: str) -> dict[str, str]:
    return {"UUID": staff_uuid, "Name": ""}


def _add_type(parent: ET.Element) -> None:
    billing_type = ET.SubElement(parent, "Type")
    for name in ("Name", "CostMarkup", "PaymentTerm", "PaymentDay"):
        add(billing_type, name)


def _add_contacts(parent: ET.Element, store: Store, client: dict[str, Any]) -> None:
    contacts = ET.SubElement(parent, "Contacts")
    for link in client["_contacts"]:
        contact = store.get("contacts", link["UUID"])
        if contact is not None and contact["IsDeleted"] == "No":
            contacts.append(contact_element(contact, link))


def _add_practice_fields(parent: ET.Element, store: Store, client: dict[str, Any]) -> None:
    add(parent, "Notes", client["Notes"])
    billing = store.get("clients", client["BillingClientUUID"]) if client["BillingClientUUID"] else None
    add_ref(
        parent,
        "BillingClient",
        {"UUID": client["BillingClientUUID"], "Name": billing["Name"] if billing else ""},
    )
    add_ref(parent, "JobManager", _staff_ref(client["JobManagerUUID"]))
    add(parent, "TaxNumber", mask_tfn(client["TaxNumber"]))
    for name in _PRACTICE_FIELDS:
        add(parent, name, client[name])
    ET.SubElement(parent, "Groups")
    ET.SubElement(parent, "Relationships")


def contact_element(contact: dict[str, Any], link: dict[str, str] | None) -> ET.Element:
    """``<Contact>``; ``IsPrimary`` and ``Position`` only for a live contact seen through a client link."""
    element = ET.Element("Contact")
    add(element, "UUID", contact["UUID"])
    for name in ("Name", "Salutation", "Addressee", "Mobile", "Email", "Phone", "IsDeleted"):
        add(element, name, contact[name])
    if link is not None and contact["IsDeleted"] == "No":
        add(element, "IsPrimary", link["IsPrimary"])
        add(element, "Position", link["Position"])
    return element


def job_element(store: Store, job: dict[str, Any], detailed: bool) -> ET.Element:
    """``<Job>``; with ``detailed``, its ``<Tasks>``, ``<Milestones>`` and ``<Notes>`` too."""
    element = ET.Element("Job")
    add(element, "ID", job["ID"])
    add(element, "UUID", job["UUID"])
    for name in _JOB_FIELDS:
        add(element, name, job[name])
    for name in ("StartDate", "DueDate", "CompletedDate"):
        add(element, name, job[name])
    client = store.get("clients", job["_client"]) or {"UUID": job["_client"], "Name": ""}
    add_ref(element, "Client", client)
    add_ref(element, "Contact", {})
    add_ref(element, "Manager", job["Manager"])
    add_ref(element, "Partner", job["Partner"])
    ET.SubElement(element, "Assigned")
    if detailed:
        tasks = ET.SubElement(element, "Tasks")
        tasks.extend(task_element(task) for task in job["Tasks"])
        ET.SubElement(element, "Milestones")
        ET.SubElement(element, "Notes")
    return element


def task_element(task: dict[str, Any]) -> ET.Element:
    """``<Task>``, its flags as ``true``/``false`` as XPM writes job and task flags."""
    element = ET.Element("Task")
    add(element, "UUID", task["UUID"])
    add(element, "TaskUUID", task["TaskUUID"])
    for name in _TASK_FIELDS:
        add(element, name, task[name])
    add(element, "Completed", "true" if task["Completed"] else "false")
    add(element, "Billable", "true" if task["Billable"] else "false")
    add(element, "Folder", task["Folder"])
    for name in ("StartDate", "DueDate"):
        if task[name]:
            add(element, name, task[name])
    return element


def web_url(config: SimConfig, client: dict[str, Any]) -> str:
    """The client's page in the XPM web app."""
    return f"{config.web_url_base}/Client/{client['UUID']}/Detail"
