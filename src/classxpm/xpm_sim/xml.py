"""Server-side XML: safe, tolerant reading of request bodies and the ``<Response>`` envelope.

Reading ignores element order, unknown elements and namespaces, and treats ``<Fax/>`` and
``<Fax></Fax>`` alike. Building uses the standard library; only parsing untrusted input needs defusedxml.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from classxpm.errors import Fatal

XML_MEDIA_TYPE = "text/xml; charset=utf-8"
_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n'


class XmlInputError(Fatal, ValueError):
    """A request body that is not the XML document the endpoint expects."""


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_document(body: bytes, root: str) -> ET.Element:
    """Parse a request body whose root element must be ``root``.

    Raises:
        XmlInputError: For an empty, malformed or unsafe body (DTDs, entities) or another root element.
    """
    text = body.decode("utf-8-sig", errors="replace").strip()
    if not text:
        raise XmlInputError(f"The request body must be a <{root}> XML document")
    try:
        element = fromstring(text)
    except (ET.ParseError, DefusedXmlException) as exc:
        raise XmlInputError(f"The request body is not well-formed XML ({type(exc).__name__})") from None
    if _local(element.tag) != root:
        raise XmlInputError(f"The request body must be a <{root}> XML document, not <{_local(element.tag)}>")
    return element


def child(element: ET.Element, name: str) -> ET.Element | None:
    """The first direct child called ``name``, wherever it sits among its siblings."""
    return next((item for item in element if _local(item.tag) == name), None)


def children(element: ET.Element, name: str) -> list[ET.Element]:
    """Every direct child called ``name``."""
    return [item for item in element if _local(item.tag) == name]


def text_of(element: ET.Element, name: str) -> str | None:
    """The stripped text of child ``name``: None when absent, ``""`` when empty or self-closing."""
    found = child(element, name)
    return None if found is None else (found.text or "").strip()


def leaf_fields(element: ET.Element) -> dict[str, str]:
    """Every direct child that holds text only, by name, stripped (the last one wins on repeats)."""
    return {_local(item.tag): (item.text or "").strip() for item in element if len(item) == 0}


def add(parent: ET.Element, name: str, text: str | None = "") -> ET.Element:
    """Append a child element holding ``text`` (empty text serialises as ``<Name />``)."""
    element = ET.SubElement(parent, name)
    element.text = text or None
    return element


def add_ref(parent: ET.Element, name: str, ref: dict[str, str]) -> ET.Element:
    """Append ``<Name><UUID/><Name/></Name>`` for a reference to another record."""
    element = ET.SubElement(parent, name)
    add(element, "UUID", ref.get("UUID", ""))
    add(element, "Name", ref.get("Name", ""))
    return element


def envelope(api_method: str | None, *items: ET.Element, ok: bool = True) -> bytes:
    """The ``<Response api-method=...><Status>...`` document around ``items``, as UTF-8 bytes."""
    root = ET.Element("Response", {"api-method": api_method} if api_method else {})
    add(root, "Status", "OK" if ok else "ERROR")
    root.extend(items)
    return (_DECLARATION + ET.tostring(root, encoding="unicode")).encode("utf-8")


def error_document(api_method: str | None, description: str) -> bytes:
    """An ERROR envelope with its ``<ErrorDescription>``."""
    description_element = ET.Element("ErrorDescription")
    description_element.text = description
    return envelope(api_method, description_element, ok=False)
