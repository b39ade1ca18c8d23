"""The values the planner works on: what Class wants, what was synced before, and what XPM holds."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from classxpm.identifiers import Tfn


class Action(StrEnum):
    """What the sync does with one fund."""

    CREATE = "create"
    LINK = "link"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    QUARANTINED = "quarantined"
    NEEDS_REVIEW = "needs_review"
    SKIPPED = "skipped"


class SyncMode(StrEnum):
    """Which writes a run may make (the reverse-ETL tools' three modes)."""

    UPSERT = "upsert"
    UPDATE_ONLY = "update_only"
    CREATE_ONLY = "create_only"


class RunMode(StrEnum):
    """Full runs compare against XPM's current state; incremental runs against the last synced hashes."""

    FULL = "full"
    INCREMENTAL = "incremental"


Value = str | Tfn | None
"""A mapped field's value: text, a :class:`Tfn` where the mapping marks the field sensitive, or None."""


@dataclass(frozen=True)
class DesiredContact:
    """A member as XPM should hold it, as a client contact."""

    member_id: str
    fields: dict[str, Value]
    payload_hash: str

    def __repr__(self) -> str:
        return f"DesiredContact({self.member_id!r}, {self.fields!r})"


@dataclass(frozen=True)
class DesiredFund:
    """A fund as XPM should hold it: the mapped client fields, their hash and the members' contacts."""

    fund_id: str
    scope_code: str
    fields: dict[str, Value]
    payload_hash: str
    contacts: tuple[DesiredContact, ...] = ()

    @property
    def name(self) -> str:
        """The client name XPM should show."""
        return str(self.fields.get("Name") or "")

    @property
    def export_code(self) -> str:
        """The mapped ExportCode: how the fund is found again in XPM (``client.yaml`` says so)."""
        return str(self.fields.get("ExportCode") or "")

    @property
    def business_number(self) -> str:
        """The ABN, digits only, or the empty string."""
        return "".join(ch for ch in str(self.fields.get("BusinessNumber") or "") if ch.isdigit())

    def __repr__(self) -> str:
        return f"DesiredFund({self.fund_id!r}, {self.scope_code!r}, {self.fields!r})"


@dataclass(frozen=True)
class LinkedContact:
    """A member already linked to an XPM contact, with the hash last sent."""

    contact_uuid: str
    payload_hash: str | None


@dataclass(frozen=True)
class Link:
    """A fund already linked to an XPM client, with the hash of the payload last synced."""

    fund_id: str
    client_uuid: str
    payload_hash: str | None
    contacts: dict[str, LinkedContact] = field(default_factory=dict)
    refused_hash: str | None = None
    """The payload hash of values XPM refused for this client: not sent again until Class changes them."""


@dataclass(frozen=True)
class RemoteContact:
    """A contact as XPM returned it."""

    uuid: str
    fields: dict[str, str | None]


@dataclass(frozen=True)
class RemoteClient:
    """A client as XPM returned it (TaxNumber arrives masked).

    ``contacts_read`` is False when the record came without ``<Contacts>`` (a paged-list base record), so
    an empty ``contacts`` is unknown rather than none.
    """

    uuid: str
    fields: dict[str, str | None]
    contacts: tuple[RemoteContact, ...] = ()
    contacts_read: bool = True

    @property
    def retired(self) -> str:
        """``"deleted"`` or ``"archived"`` when a person retired the client in XPM, else ``""``."""
        for flag, state in (("IsDeleted", "deleted"), ("IsArchived", "archived")):
            if (self.fields.get(flag) or "").strip().lower() in ("yes", "true"):
                return state
        return ""

    @property
    def web_url(self) -> str | None:
        """The client's launch link into XPM, when the record carried it."""
        return self.fields.get("WebUrl") or None

    @property
    def export_code(self) -> str:
        """The client's ExportCode, stripped."""
        return (self.fields.get("ExportCode") or "").strip()

    @property
    def name(self) -> str:
        """The client's name, stripped."""
        return (self.fields.get("Name") or "").strip()

    @property
    def business_number(self) -> str:
        """The ABN, digits only."""
        return "".join(ch for ch in self.fields.get("BusinessNumber") or "" if ch.isdigit())
