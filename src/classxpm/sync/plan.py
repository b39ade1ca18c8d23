"""Plan each fund as create, link, update, unchanged, needs-review or skipped: pure functions, no I/O.

Class is the source of truth for mapped fields. A full run compares against XPM's current state (so a
field edited by hand in XPM is put back); an incremental run compares against the hash last synced.
Matching never uses the TFN (XPM returns it masked): the Class fund id via the stored link first, then
the mapped ExportCode (``client.yaml``: how a fund is found again in XPM), then one exact name + ABN
match. Two or more candidates go to a person.

A plan's ``changed_fields`` are exactly the client fields its write sends, so a dry run's diff and the
real run's write cannot disagree. A field XPM cannot show (a TFN, which it masks; a field its read left
out) is sent when the fund changed in Class since its last sync, whatever else changed with it.

Archived and deleted clients are part of XPM's state (``client.api/list`` returns them): a fund whose
client a person archived or deleted goes to a person, and is never created again nor written to.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from classxpm.identifiers import Tfn, code_key
from classxpm.sync.contacts import doubled_links, identity, match_by_name
from classxpm.sync.model import (
    Action,
    DesiredContact,
    DesiredFund,
    Link,
    LinkedContact,
    RemoteClient,
    RemoteContact,
    SyncMode,
    Value,
)

REFUSED_BEFORE = (
    "XPM refused these values in an earlier run; they are sent again once the fund changes in Class"
)


@dataclass(frozen=True)
class ContactStep:
    """What happens to one member's contact."""

    member_id: str
    action: Action
    contact_uuid: str | None = None


@dataclass(frozen=True)
class FundPlan:
    """The planned action for one fund, with the fields that differ and each contact's step."""

    fund_id: str
    scope_code: str
    action: Action
    client_uuid: str | None = None
    reason: str = ""
    changed_fields: tuple[str, ...] = ()
    contact_steps: tuple[ContactStep, ...] = ()
    name: str = ""

    @property
    def write_calls(self) -> int:
        """How many XPM write calls carrying out this plan takes."""
        if self.action is Action.CREATE:
            return 1
        if self.action not in (Action.UPDATE, Action.LINK):
            return 0
        contact_writes = sum(s.action in (Action.CREATE, Action.UPDATE) for s in self.contact_steps)
        return int(bool(self.changed_fields)) + contact_writes


def _name_key(name: str) -> str:
    """A client or contact name as people match it: case and runs of spaces do not matter."""
    return " ".join(name.split()).casefold()


class RemoteIndex:
    """XPM clients indexed for matching: by UUID, by ExportCode and by exact name + ABN.

    Archived and deleted clients are indexed too, so a fund that matches one is seen, not created again;
    ``retired`` maps each of their UUIDs to ``"archived"`` or ``"deleted"``.
    """

    def __init__(self, clients: Iterable[RemoteClient]) -> None:
        self.by_uuid: dict[str, RemoteClient] = {}
        self.by_export_code: dict[str, list[RemoteClient]] = defaultdict(list)
        self.by_name_abn: dict[tuple[str, str], list[RemoteClient]] = defaultdict(list)
        self.retired: dict[str, str] = {}
        for client in clients:
            self.by_uuid[client.uuid] = client
            if client.retired:
                self.retired[client.uuid] = client.retired
            if client.export_code:
                self.by_export_code[code_key(client.export_code)].append(client)
            if client.business_number:
                self.by_name_abn[(_name_key(client.name), client.business_number)].append(client)

    def code_taken(self, desired: DesiredFund, taken: set[str]) -> bool:
        """True when a client with the fund's ExportCode is already linked to another fund."""
        return any(c.uuid in taken for c in self.by_export_code.get(code_key(desired.export_code), []))

    def candidates(self, desired: DesiredFund, taken: set[str]) -> tuple[str, list[RemoteClient]]:
        """Return how the fund matched ("export code" or "name and ABN") and the unlinked candidates."""
        same_code = self.by_export_code.get(code_key(desired.export_code), [])
        by_code = [c for c in same_code if c.uuid not in taken]
        if by_code or not desired.business_number:
            return "ExportCode", by_code
        key = (_name_key(desired.name), desired.business_number)
        return "name and ABN", [c for c in self.by_name_abn.get(key, []) if c.uuid not in taken]


def _same(wanted: Value, held: str | None) -> bool:
    held = (held or "").strip()
    if isinstance(wanted, Tfn):
        return wanted.masked == held or wanted.reveal().strip() == held
    return (wanted or "").strip() == held


def changed_fields(wanted: Mapping[str, Value], held: Mapping[str, str | None]) -> tuple[str, ...]:
    """Return the mapped fields whose XPM value differs from Class's (a TFN by its visible digits).

    A field XPM did not return at all is unknown, not different: the payload hash decides for it.
    """
    return tuple(f for f, value in wanted.items() if f in held and not _same(value, held[f]))


def unseen_fields(wanted: Mapping[str, Value], held: Mapping[str, str | None]) -> tuple[str, ...]:
    """Return the mapped fields whose XPM value cannot be told apart from Class's: masked or not returned."""
    return tuple(f for f, value in wanted.items() if f not in held or isinstance(value, Tfn))


def plan_contacts(
    desired: DesiredFund, link: Link | None, remote: RemoteClient | None
) -> tuple[ContactStep, ...]:
    """Plan each member's contact on an existing client: link, update, create or leave unchanged."""
    linked = link.contacts if link else {}
    remote_by_uuid = {c.uuid: c for c in remote.contacts} if remote else {}
    taken = {lc.contact_uuid for lc in linked.values()}
    uuids = {member: lc.contact_uuid for member, lc in linked.items()}
    void = doubled_links(desired.contacts, uuids, remote_by_uuid)
    unlinked = [c for c in desired.contacts if c.member_id not in linked or c.member_id in void]
    namesakes = Counter(identity(c.fields)[0] for c in unlinked)
    steps = []
    for contact in desired.contacts:
        held = linked.get(contact.member_id)
        if held is not None and contact.member_id not in void:
            steps.append(_step_for_linked(contact, held, remote_by_uuid.get(held.contact_uuid)))
            continue
        name = identity(contact.fields)[0]
        match = match_by_name(contact, remote.contacts if remote else (), taken, namesakes[name])
        namesakes[name] -= 1
        if match is None:
            steps.append(ContactStep(contact.member_id, Action.CREATE))
            continue
        taken.add(match.uuid)
        differs = bool(changed_fields(contact.fields, match.fields))
        steps.append(ContactStep(contact.member_id, Action.UPDATE if differs else Action.LINK, match.uuid))
    return tuple(steps)


def _step_for_linked(
    contact: DesiredContact, held: LinkedContact, remote: RemoteContact | None
) -> ContactStep:
    if remote is not None:
        differs = bool(changed_fields(contact.fields, remote.fields))
    else:
        differs = contact.payload_hash != held.payload_hash
    return ContactStep(contact.member_id, Action.UPDATE if differs else Action.UNCHANGED, held.contact_uuid)


def plan_fund(
    desired: DesiredFund,
    link: Link | None,
    remote: RemoteIndex | None,
    *,
    sync_mode: SyncMode = SyncMode.UPSERT,
    taken: set[str] | None = None,
    quarantine_reason: str | None = None,
    retired: Mapping[str, str] | None = None,
) -> FundPlan:
    """Plan one fund.

    Args:
        desired: The fund as XPM should hold it.
        link: The fund's stored link, or None when it was never synced.
        remote: XPM's clients; None when the run compares against stored hashes only (incremental).
        sync_mode: Which writes the run may make.
        taken: Client UUIDs already linked to other funds (never matched again).
        quarantine_reason: Why the validation gate held the fund back, if it did.
        retired: XPM clients a person archived or deleted (UUID to ``"archived"``/``"deleted"``), for runs
            that compare against hashes only; a linked fund whose client is one of them is not written.

    Returns:
        The fund's plan. Funds whose plan is unchanged, quarantined, needs-review or skipped make no writes.
    """
    if quarantine_reason:
        return FundPlan(
            desired.fund_id,
            desired.scope_code,
            Action.QUARANTINED,
            reason=quarantine_reason,
            name=desired.name,
        )
    if link is not None:
        return _plan_linked(desired, link, remote, sync_mode, retired or {})
    return _plan_unlinked(desired, remote or RemoteIndex([]), sync_mode, taken or set())


def _plan_linked(
    desired: DesiredFund,
    link: Link,
    remote: RemoteIndex | None,
    sync_mode: SyncMode,
    retired: Mapping[str, str],
) -> FundPlan:
    base = {
        "fund_id": desired.fund_id,
        "scope_code": desired.scope_code,
        "client_uuid": link.client_uuid,
        "name": desired.name,
    }
    held = remote.by_uuid.get(link.client_uuid) if remote is not None else None
    if remote is not None and held is None:
        reason = "the linked XPM client is no longer in XPM (deleted there); link the fund again by hand"
        return FundPlan(**base, action=Action.NEEDS_REVIEW, reason=reason)
    gone = held.retired if held is not None else retired.get(link.client_uuid, "")
    if gone:
        reason = f"a person {gone} the linked client in XPM; nothing is written to it until they restore it"
        return FundPlan(**base, action=Action.NEEDS_REVIEW, reason=reason)
    if held is not None:
        fields = changed_fields(desired.fields, held.fields)
        if desired.payload_hash != link.payload_hash:
            # Class changed the fund: a field XPM masks or omits may be what changed, so it is sent too.
            unseen = set(unseen_fields(desired.fields, held.fields))
            fields = tuple(f for f in desired.fields if f in unseen or f in fields)
    else:
        fields = tuple(desired.fields) if desired.payload_hash != link.payload_hash else ()
    reason = ""
    if fields and link.refused_hash == desired.payload_hash:
        # XPM refused exactly these values before (the report said so once): not sent until Class changes.
        fields, reason = (), REFUSED_BEFORE
    steps = plan_contacts(desired, link, held)
    if not fields and all(s.action is Action.UNCHANGED for s in steps):
        return FundPlan(**base, action=Action.UNCHANGED, contact_steps=steps, reason=reason)
    if sync_mode is SyncMode.CREATE_ONLY:
        return FundPlan(
            **base, action=Action.SKIPPED, reason="create_only leaves existing clients as they are"
        )
    return FundPlan(**base, action=Action.UPDATE, changed_fields=fields, contact_steps=steps)


def _plan_unlinked(
    desired: DesiredFund, remote: RemoteIndex, sync_mode: SyncMode, taken: set[str]
) -> FundPlan:
    base = {"fund_id": desired.fund_id, "scope_code": desired.scope_code, "name": desired.name}
    if remote.code_taken(desired, taken):
        reason = "XPM's client with this ExportCode is linked to another fund: scope codes must be unique"
        return FundPlan(**base, action=Action.NEEDS_REVIEW, reason=reason)
    how, candidates = remote.candidates(desired, taken)
    live = [c for c in candidates if not c.retired]
    if candidates and not live:
        gone = candidates[0].retired
        reason = f"the XPM client matching by {how} was {gone} by a person; it is not created again"
        return FundPlan(**base, action=Action.NEEDS_REVIEW, client_uuid=candidates[0].uuid, reason=reason)
    candidates = live
    if len(candidates) > 1:
        reason = f"{len(candidates)} XPM clients match by {how}; link one by hand"
        return FundPlan(**base, action=Action.NEEDS_REVIEW, reason=reason)
    if candidates:
        held = candidates[0]
        fields = () if sync_mode is SyncMode.CREATE_ONLY else changed_fields(desired.fields, held.fields)
        steps = plan_contacts(desired, None, held)
        return FundPlan(
            **base,
            action=Action.LINK,
            client_uuid=held.uuid,
            reason=f"matched by {how}",
            changed_fields=fields,
            contact_steps=steps,
        )
    if sync_mode is SyncMode.UPDATE_ONLY:
        return FundPlan(**base, action=Action.SKIPPED, reason="update_only creates no clients")
    steps = tuple(ContactStep(c.member_id, Action.CREATE) for c in desired.contacts)
    return FundPlan(**base, action=Action.CREATE, contact_steps=steps)
