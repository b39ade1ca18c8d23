"""XPM's paged lists: ``pageSize`` 1-500 (default 50), an opaque ``pageToken``, and ``<Pagination>`` links."""

from __future__ import annotations

import base64
import binascii
import json
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import urlencode

from classxpm.xpm_sim.api import API_ROOT, NOT_FOUND, ApiError, Call
from classxpm.xpm_sim.xml import add


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def _offset(token: str) -> int:
    try:
        offset = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))["o"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise ApiError("Invalid pageToken") from None
    if not isinstance(offset, int) or offset < 0:
        raise ApiError("Invalid pageToken")
    return offset


def page(call: Call, items: list[Any], template: str) -> tuple[list[Any], ET.Element]:
    """The page of ``items`` the call asks for and its ``<Pagination>`` element (``Next`` while more remain).

    Raises:
        ApiError: A 400 for a page size out of range or a page token this list did not issue; a 404 for a
            token past the end of the list (the list shrank since the token was issued).
    """
    size = _page_size(call)
    token = call.param("pageToken")
    start = _offset(token) if token else 0
    if start and start >= len(items):
        raise ApiError("The page asked for does not exist", NOT_FOUND)
    url = f"{str(call.request.base_url).rstrip('/')}{API_ROOT}{template}"
    pagination = ET.Element("Pagination")
    links = ET.SubElement(pagination, "Links")
    add(links, "First", f"{url}?{urlencode({'pageSize': size})}")
    if start + size < len(items):
        add(links, "Next", f"{url}?{urlencode({'pageToken': _token(start + size), 'pageSize': size})}")
    return items[start : start + size], pagination


def _page_size(call: Call) -> int:
    config = call.sim.config
    given = call.param("pageSize")
    if given is None:
        return config.default_page_size
    if not given.isdigit() or not 1 <= int(given) <= config.max_page_size:
        raise ApiError(f"pageSize must be a whole number from 1 to {config.max_page_size}")
    return int(given)
