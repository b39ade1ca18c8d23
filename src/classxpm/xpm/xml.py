"""Client-side XPM XML: request bodies built with exact escaping, responses parsed safely into typed records.

Parsing goes through defusedxml with DTDs, entities and external references forbidden, so an entity bomb or
an external entity is refused before anything expands. Readers look children up by tag, so element order,
self-closing tags and unknown elements do not matter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree as SafeElementTree

from classxpm.identifiers import Tfn
from classxpm.xpm.errors import ResponseFormatError

if TYPE_CHECKING:
    import httpx

XmlValue = Union[str, Tfn, None, Mapping[str, "XmlValue"], Sequence[Mapping[str, "XmlValue"]]]  # noqa: UP007

_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;"}
_ESCAPE_PATTERN = re.compile("[&<>\"']")
_NOT_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_TAG = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\Z")
_ENVELOPE = "classxpm.envelope"
"""Where ``envelope_of`` keeps a parsed answer, in the response's own ``extensions``."""


def escape(text: str) -> str:
    """Escape ``&``, ``<``, ``>`` and both quotes; non-ASCII text is kept and encoded as UTF-8 by build().

    Raises:
        ValueError: The text holds a character XML 1.0 cannot carry (a control character).
    """
    if _NOT_XML_CHARS.search(text):
        raise ValueError("text holds a control character that XML 1.0 cannot carry")
    return _ESCAPE_PATTERN.sub(lambda match: _ESCAPES[match.group()], text)


def build(root: str, fields: Mapping[str, XmlValue]) -> bytes:
    """Build a UTF-8 request body ``<root>…</root>`` from element names and values.

    A str value becomes the element's text ("" gives an empty element), None leaves the element out, a
    mapping nests elements, and a sequence of mappings repeats the element once per item. A :class:`Tfn`
    is revealed here and nowhere else on the way to XPM: the request body is the one place it is sent.

    Raises:
        ValueError: An element name is not a valid XML name, or a value holds a control character.
    """
    body = _element(root, fields)
    return ('<?xml version="1.0" encoding="utf-8"?>' + body).encode("utf-8")


def _element(tag: str, value: XmlValue) -> str:
    if not _TAG.match(tag):
        raise ValueError(f"not an XML element name: {tag!r}")
    if value is None:
        return ""
    if isinstance(value, str):
        return f"<{tag}>{escape(value)}</{tag}>"
    if isinstance(value, Tfn):
        return f"<{tag}>{escape(value.reveal())}</{tag}>"
    if isinstance(value, Mapping):
        return f"<{tag}>{''.join(_element(name, child) for name, child in value.items())}</{tag}>"
    return "".join(_element(tag, item) for item in value)


def yes_no(flag: bool) -> str:
    """Return XPM's client and contact boolean form, ``Yes`` or ``No``."""
    return "Yes" if flag else "No"


def parse(content: bytes) -> Element:
    """Parse an XML document safely.

    Raises:
        ResponseFormatError: The body declares a DTD, entities or external references, or is not XML.
    """
    try:
        return SafeElementTree.fromstring(
            content, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except defusedxml.DefusedXmlException as exc:
        raise ResponseFormatError(f"refused an XPM response that declares {type(exc).__name__}") from None
    except ParseError as exc:
        raise ResponseFormatError(f"XPM sent malformed XML ({exc})") from None


def text(element: Element | None, tag: str) -> str | None:
    """Return the stripped text of the first child ``tag``; None when missing or empty (``<Fax />``)."""
    child = None if element is None else element.find(tag)
    if child is None or child.text is None:
        return None
    return child.text.strip() or None


def flag(element: Element | None, tag: str) -> bool | None:
    """Read a boolean child written as Yes/No or true/false; None when missing or empty."""
    value = text(element, tag)
    return None if value is None else value.lower() in {"yes", "true"}


@dataclass(frozen=True)
class Envelope:
    """The ``<Response>`` wrapper: its status, error text and root element."""

    ok: bool
    error_description: str
    root: Element = field(repr=False)


def envelope_of(response: httpx.Response) -> Envelope:
    """The answer's ``<Response>`` envelope, parsed once however many readers ask (kept on the response).

    Raises:
        ResponseFormatError: As ``parse_envelope``.
    """
    envelope = response.extensions.get(_ENVELOPE)
    if envelope is None:
        envelope = parse_envelope(response.content)
        response.extensions[_ENVELOPE] = envelope
    return envelope


def parse_envelope(content: bytes) -> Envelope:
    """Parse a ``<Response>`` document and read its Status.

    Raises:
        ResponseFormatError: The body is unsafe, malformed or has no Response/Status.
    """
    root = parse(content)
    status = text(root, "Status")
    if root.tag != "Response" or status is None:
        raise ResponseFormatError("XPM response has no <Response><Status> envelope")
    return Envelope(status.upper() == "OK", text(root, "ErrorDescription") or "no description", root)


@dataclass(frozen=True)
class Contact:
    """An XPM contact as returned inside a client or by the contact endpoints."""

    uuid: str | None
    name: str | None
    salutation: str | None = None
    addressee: str | None = None
    email: str | None = None
    phone: str | None = None
    mobile: str | None = None
    position: str | None = None
    is_primary: bool | None = None
    is_deleted: bool | None = None


def contact_from(element: Element) -> Contact:
    """Read a ``<Contact>`` element."""
    return Contact(
        uuid=text(element, "UUID"),
        name=text(element, "Name"),
        salutation=text(element, "Salutation"),
        addressee=text(element, "Addressee"),
        email=text(element, "Email"),
        phone=text(element, "Phone"),
        mobile=text(element, "Mobile"),
        position=text(element, "Position"),
        is_primary=flag(element, "IsPrimary"),
        is_deleted=flag(element, "IsDeleted"),
    )


@dataclass(frozen=True)
class Client:
    """An XPM client. ``fields`` holds every simple child element by tag, for change detection.

    ``has_contacts`` says whether the record carried ``<Contacts>`` at all: ``paged-list`` base records do
    not, so their empty ``contacts`` means "not read", never "none".
    """

    uuid: str | None
    name: str | None
    export_code: str | None
    business_number: str | None
    tax_number_masked: str | None
    is_archived: bool | None
    is_deleted: bool | None
    contacts: tuple[Contact, ...] = ()
    fields: Mapping[str, str] = field(default_factory=dict, repr=False)
    web_url: str | None = None
    has_contacts: bool = False


def client_from(element: Element) -> Client:
    """Read a ``<Client>`` element; 3.1 puts ``WebUrl`` inside every client record."""
    return Client(
        uuid=text(element, "UUID"),
        name=text(element, "Name"),
        export_code=text(element, "ExportCode"),
        business_number=text(element, "BusinessNumber"),
        tax_number_masked=text(element, "TaxNumber"),
        is_archived=flag(element, "IsArchived"),
        is_deleted=flag(element, "IsDeleted"),
        contacts=tuple(contact_from(item) for item in element.iterfind("Contacts/Contact")),
        fields={child.tag: (child.text or "").strip() for child in element if len(child) == 0},
        web_url=text(element, "WebUrl"),
        has_contacts=element.find("Contacts") is not None,
    )


@dataclass(frozen=True)
class Task:
    """A task inside a job's detail."""

    uuid: str | None
    name: str | None
    completed: bool | None
    start_date: str | None = None
    due_date: str | None = None
    estimated_minutes: str | None = None
    actual_minutes: str | None = None


def task_from(element: Element) -> Task:
    """Read a ``<Task>`` element."""
    return Task(
        uuid=text(element, "UUID"),
        name=text(element, "Name"),
        completed=flag(element, "Completed"),
        start_date=text(element, "StartDate"),
        due_date=text(element, "DueDate"),
        estimated_minutes=text(element, "EstimatedMinutes"),
        actual_minutes=text(element, "ActualMinutes"),
    )


@dataclass(frozen=True)
class Job:
    """An XPM job; ``tasks`` is filled only from the job detail (``job.api/get``)."""

    id: str | None
    uuid: str | None
    name: str | None
    state: str | None
    client_uuid: str | None
    client_name: str | None
    start_date: str | None = None
    due_date: str | None = None
    completed_date: str | None = None
    manager_name: str | None = None
    tasks: tuple[Task, ...] = ()


def job_from(element: Element) -> Job:
    """Read a ``<Job>`` element."""
    return Job(
        id=text(element, "ID"),
        uuid=text(element, "UUID"),
        name=text(element, "Name"),
        state=text(element, "State"),
        client_uuid=text(element.find("Client"), "UUID"),
        client_name=text(element.find("Client"), "Name"),
        start_date=text(element, "StartDate"),
        due_date=text(element, "DueDate"),
        completed_date=text(element, "CompletedDate"),
        manager_name=text(element.find("Manager"), "Name"),
        tasks=tuple(task_from(item) for item in element.iterfind("Tasks/Task")),
    )


@dataclass(frozen=True)
class ClientPage:
    """One page of ``client.api/paged-list``; ``next_url`` is None on the last page."""

    clients: tuple[Client, ...]
    next_url: str | None


def client_page_from(root: Element) -> ClientPage:
    """Read a paged-list ``<Response>``."""
    clients = tuple(client_from(item) for item in root.iterfind("Clients/Client"))
    return ClientPage(clients, text(root.find("Pagination/Links"), "Next"))
