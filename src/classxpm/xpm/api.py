"""XpmApi: every XPM endpoint the pipeline and the dashboard use, with XML encode and decode.

Each method is one call (or one page per call for the paged iterator) through the transport, so retries,
rate limits and classification are the transport's business, not the endpoints'.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from classxpm.xpm import xml
from classxpm.xpm.errors import NotFound, ResponseFormatError
from classxpm.xpm.transport import Transport

PAGE_SIZE = 500
LIST_TIMEOUT_SECONDS = 600.0
"""How long the whole-practice ``client.api/list`` may take: minutes for a large practice (reference §12)."""
PRACTICE_MANAGER = "PRACTICEMANAGER"

Fields = Mapping[str, xml.XmlValue]
"""XPM element names to values, in the order they are to be written (see ``xml.build``)."""


@dataclass(frozen=True)
class XeroConnection:
    """One tenant connection of the grant, from ``GET /connections``."""

    id: str
    tenant_id: str
    tenant_type: str
    tenant_name: str | None
    auth_event_id: str | None

    @property
    def label(self) -> str:
        """The tenant name, or its id when Xero gives no name (XPM may not)."""
        return self.tenant_name or self.tenant_id


def connection_from(item: Mapping[str, Any]) -> XeroConnection:
    """Read one element of the ``/connections`` JSON array."""
    return XeroConnection(
        id=item["id"],
        tenant_id=item["tenantId"],
        tenant_type=item.get("tenantType") or "",
        tenant_name=item.get("tenantName"),
        auth_event_id=item.get("authEventId"),
    )


class XpmApi:
    """The endpoints of XPM 3.1 and of Xero's connections API."""

    def __init__(self, transport: Transport, connections_url: str) -> None:
        self.transport = transport
        self._connections_url = connections_url

    def remaining_daily_quota(self) -> int | None:
        """Calls left today for this tenant, as XPM last reported; None before the first call."""
        return self.transport.governor.remaining_daily()

    def connections(self) -> list[XeroConnection]:
        """List the grant's tenant connections (all types)."""
        response = self.transport.request("GET", self._connections_url, tenant=False)
        try:
            return [connection_from(item) for item in response.json()]
        except (ValueError, KeyError, TypeError):
            raise ResponseFormatError("the connections response is not the documented JSON array") from None

    def delete_connection(self, connection_id: str) -> bool:
        """Disconnect one tenant; False when the connection was already gone."""
        try:
            url = f"{self._connections_url.rstrip('/')}/{connection_id}"
            self.transport.request("DELETE", url, tenant=False)
        except NotFound:
            return False
        return True

    def list_clients(
        self, *, detailed: bool = False, modified_since: datetime | None = None
    ) -> list[xml.Client]:
        """Every client, archived and deleted ones too, each with its contacts (one call, not paged).

        Contacts, the masked TaxNumber, BusinessNumber and WebUrl come without ``detailed``, which adds only
        Notes, Groups and Relationships (reference §12). ``modified_since`` (UTC) keeps the clients changed
        since then.
        """
        params = {"detailed": _bool(detailed)}
        if modified_since is not None:
            params["modifiedSince"] = modified_since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        response = self.transport.request(
            "GET", "client.api/list", params=params, timeout=LIST_TIMEOUT_SECONDS
        )
        return _clients_in(xml.envelope_of(response).root)

    def iter_clients(self, page_size: int = PAGE_SIZE) -> Iterator[xml.Client]:
        """Base records of the clients neither archived nor deleted, one page per call: no contacts."""
        url, params = "client.api/paged-list", {"pageSize": str(page_size)}
        while url:
            page = xml.client_page_from(self._get(url, params).root)
            yield from page.clients
            url, params = page.next_url, None

    def search_clients(self, query: str, *, detailed: bool = False) -> list[xml.Client]:
        """Clients whose name matches ``query``."""
        return self._clients("client.api/search", {"query": query, "detailed": _bool(detailed)})

    def get_client(self, client_uuid: str) -> xml.Client:
        """One client in full, with its contacts and WebUrl (the link into XPM)."""
        return xml.client_from(_one(self._get(f"client.api/get/{client_uuid}").root, "Client"))

    def add_client(self, fields: Fields, contacts: Sequence[Fields] = ()) -> xml.Client:
        """Create a client; ``contacts`` are created with it in the same call."""
        body = {**fields, "Contacts": {"Contact": list(contacts)} if contacts else None}
        return xml.client_from(_one(self._send("POST", "client.api/add", "Client", body), "Client"))

    def update_client(self, client_uuid: str, fields: Fields) -> xml.Client:
        """Update a client's fields (UUID first, as XPM documents)."""
        body = {"UUID": client_uuid, **fields}
        return xml.client_from(_one(self._send("PUT", "client.api/update", "Client", body), "Client"))

    def archive_client(self, client_uuid: str) -> xml.Client:
        """Archive a client (XPM's archive is a PUT)."""
        root = self._send("PUT", "client.api/archive", "Client", {"UUID": client_uuid})
        return xml.client_from(_one(root, "Client"))

    def get_contact(self, contact_uuid: str, client_uuid: str) -> xml.Contact:
        """One contact, as linked to ``client_uuid`` (so Position and IsPrimary come back)."""
        root = self._get(f"client.api/contact/{contact_uuid}", {"clientUuid": client_uuid}).root
        return xml.contact_from(_one(root, "Contact"))

    def add_contact(self, client_uuid: str, fields: Fields) -> xml.Contact:
        """Create a contact and attach it to a client."""
        body = {"Client": {"UUID": client_uuid}, **fields}
        return xml.contact_from(_one(self._send("POST", "client.api/contact", "Contact", body), "Contact"))

    def update_contact(
        self, contact_uuid: str, fields: Fields, client_uuid: str | None = None
    ) -> xml.Contact:
        """Update a contact; pass ``client_uuid`` to change its Position or IsPrimary on that client."""
        body = {"Client": {"UUID": client_uuid} if client_uuid else None, **fields}
        root = self._send("PUT", f"client.api/contact/{contact_uuid}", "Contact", body)
        return xml.contact_from(_one(root, "Contact"))

    def delete_contact(self, contact_uuid: str, client_uuid: str) -> None:
        """Remove a contact from one client."""
        self._envelope("DELETE", f"client.api/contact/{contact_uuid}", params={"clientUuid": client_uuid})

    def current_jobs(self, *, detailed: bool = True) -> list[xml.Job]:
        """Every current job."""
        return self._jobs("job.api/current", {"detailed": _bool(detailed)})

    def client_jobs(self, client_uuid: str) -> list[xml.Job]:
        """The jobs of one client."""
        return self._jobs(f"job.api/client/{client_uuid}")

    def get_job(self, job_number: str) -> xml.Job:
        """One job in full, with its tasks."""
        return xml.job_from(_one(self._get(f"job.api/get/{job_number}").root, "Job"))

    def _clients(self, path: str, params: Mapping[str, str]) -> list[xml.Client]:
        return _clients_in(self._get(path, params).root)

    def _jobs(self, path: str, params: Mapping[str, str] | None = None) -> list[xml.Job]:
        return [xml.job_from(item) for item in self._get(path, params).root.iterfind("Jobs/Job")]

    def _get(self, path: str, params: Mapping[str, str] | None = None) -> xml.Envelope:
        return self._envelope("GET", path, params=params)

    def _send(self, method: str, path: str, root: str, fields: Fields) -> xml.Element:
        return self._envelope(method, path, body=xml.build(root, fields)).root

    def _envelope(
        self, method: str, path: str, *, params: Mapping[str, str] | None = None, body: bytes | None = None
    ) -> xml.Envelope:
        response = self.transport.request(method, path, params=params, body=body)
        return xml.envelope_of(response)


def _clients_in(root: xml.Element) -> list[xml.Client]:
    return [xml.client_from(item) for item in root.iterfind("Clients/Client")]


def _one(root: xml.Element, tag: str) -> xml.Element:
    element = root.find(tag)
    if element is None:
        raise ResponseFormatError(f"the XPM response holds no <{tag}>")
    return element


def _bool(flag: bool) -> str:
    return "true" if flag else "false"
