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
from collections.abc import Collection, Iterable, Mapping
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
    """XPM clients indexed for matching: by UUID, by ExportCode, by exact name + ABN and by exact name.

    Archived and deleted clients are indexed too, so a fund that matches one is seen, not created again;
    ``retired`` maps each of their UUIDs to ``"archived"`` or ``"deleted"``.
    """

    def __init__(self, clients: Iterable[RemoteClient]) -> None:
        self.by_uuid: dict[str, RemoteClient] = {}
        self.by_export_code: dict[str, list[RemoteClient]] = defaultdict(list)
        self.by_name_abn: dict[tuple[str, str], list[RemoteClient]] = defaultdict(list)
        self.by_name: dict[str, list[RemoteClient]] = defaultdict(list)
        self.retired: dict[str, str] = {}
        for client in clients:
            self.by_uuid[client.uuid] = client
            if client.retired:
                self.retired[client.uuid] = client.retired
            if client.export_code:
                self.by_export_code[code_key(client.export_code)].append(client)
            if client.business_number:
                self.by_name_abn[(_name_key(client.name), client.business_number)].append(client)
            self.by_name[_name_key(client.name)].append(client)

    def code_taken(self, desired: DesiredFund, taken: Collection[str]) -> bool:
        """True when a client with the fund's ExportCode is already linked to another fund."""
        return any(c.uuid in taken for c in self.by_export_code.get(code_key(desired.export_code), []))

    def candidates(self, desired: DesiredFund, taken: Collection[str]) -> tuple[str, list[RemoteClient]]:
        """Return how the fund matched and the unlinked candidates, step by step.

        ExportCode first; then exact name + ABN; then exact name alone, and that only when one client has
        the name and neither its ExportCode nor its ABN says it is another entity. Several candidates at
        a step are all returned: the first step with any decides.
        """
        steps = [("ExportCode", self.by_export_code.get(code_key(desired.export_code), []))]
        if desired.business_number:
            key = (_name_key(desired.name), desired.business_number)
            steps.append(("name and ABN", self.by_name_abn.get(key, [])))
        for how, found in steps:
            free = [c for c in found if c.uuid not in taken]
            if free:
                return how, free
        named = [c for c in self.by_name.get(_name_key(desired.name), []) if c.uuid not in taken]
        if len(named) == 1 and _conflicts(desired, named[0]):
            return "name", []
        return "name", named


def _conflicts(desired: DesiredFund, held: RemoteClient) -> bool:
    """True when the client carries an ExportCode or ABN other than the fund's: another entity's name twin."""
    other_code = bool(held.export_code) and code_key(held.export_code) != code_key(desired.export_code)
    other_abn = bool(held.business_number and desired.business_number)
    return other_code or (other_abn and held.business_number != desired.business_number)


def contested(funds: Iterable[DesiredFund], remote: RemoteIndex, taken: Collection[str]) -> set[str]:
    """The XPM clients that two or more of ``funds`` (unlinked ones) match: none of them is linked to it.

    Computed over the whole run before any fund is planned, so the outcome does not depend on the order
    the funds are planned in.
    """
    claims = Counter(c.uuid for fund in funds for c in remote.candidates(fund, taken)[1])
    return {uuid for uuid, count in claims.items() if count > 1}


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
    """Plan each member's contact on an existing client: link, update, create or leave unchanged.

    A member whose name more of the client's free contacts carry than the fund has members of that name,
    none of them told apart as its own, needs review: the executor leaves it unlinked and the report
    names it.
    """
    linked = link.contacts if link else {}
    remote_by_uuid = {c.uuid: c for c in remote.contacts} if remote else {}
    taken = {lc.contact_uuid for lc in linked.values()}
    uuids = {member: lc.contact_uuid for member, lc in linked.items()}
    void = doubled_links(desired.contacts, uuids, remote_by_uuid)
    if remote is not None and remote.contacts_read:
        # A contact a person removed in XPM is added back: Class is the source of truth for members.
        void |= {member for member, uuid in uuids.items() if uuid not in remote_by_uuid}
    unlinked = [c for c in desired.contacts if c.member_id not in linked or c.member_id in void]
    namesakes = Counter(identity(c.fields)[0] for c in unlinked)
    wanting = Counter(namesakes)
    steps = []
    for contact in desired.contacts:
        held = linked.get(contact.member_id)
        if held is not None and contact.member_id not in void:
            steps.append(_step_for_linked(contact, held, remote_by_uuid.get(held.contact_uuid)))
            continue
        name = identity(contact.fields)[0]
        held_contacts = remote.contacts if remote else ()
        match = match_by_name(contact, held_contacts, taken, namesakes[name])
        namesakes[name] -= 1
        if match is None:
            # More free contacts with the name than members of that name, none carrying the member's
            # details: adding another would be one more namesake; a person says which is the member's.
            # (Copies carrying exactly its details are the executor's lost answers: ``contacts.py``.)
            free = [c for c in held_contacts if c.uuid not in taken and identity(c.fields)[0] == name]
            copies = any(identity(c.fields) == identity(contact.fields) for c in free)
            ambiguous = len(free) > 1 and len(free) > wanting[name] and not copies
            steps.append(ContactStep(contact.member_id, Action.NEEDS_REVIEW if ambiguous else Action.CREATE))
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
    contested: Collection[str] = frozenset(),
    create_anyway: bool = False,
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
        contested: XPM clients other unlinked funds of the run match too (see :func:`contested`).
        create_anyway: A person chose a new client for the unlinked fund (``classxpm link --create``).

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
    if create_anyway:
        return _plan_create(desired, sync_mode, reason="a person chose a new client (classxpm link --create)")
    return _plan_unlinked(desired, remote or RemoteIndex([]), sync_mode, taken or set(), contested)


def retired_reason(gone: str) -> str:
    """Why a linked fund whose client a person ``gone`` (archived, deleted) in XPM is not written."""
    return f"a person {gone} the linked client in XPM; nothing is written to it until they restore it"


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
        return FundPlan(**base, action=Action.NEEDS_REVIEW, reason=retired_reason(gone))
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


def _stranger(desired: DesiredFund, held: RemoteClient) -> bool:
    """True when a client sharing the fund's ExportCode has another name and another ABN: not the fund's.

    A fund or client without an ABN has no ABN against the other: the ExportCode decides.
    """
    other_name = _name_key(held.name) != _name_key(desired.name)
    both = bool(held.business_number and desired.business_number)
    other_abn = both and held.business_number != desired.business_number
    return other_name and other_abn


def _stranger_reason(desired: DesiredFund, held: RemoteClient) -> str:
    return (
        f"XPM's client with ExportCode {held.export_code} is {held.name!r} (ABN {held.business_number}), "
        f"the fund is {desired.name!r} (ABN {desired.business_number or 'none'}): neither name nor ABN "
        "agrees, so it is not taken over; link it by hand or create a client on purpose"
    )


def _review_reason(
    desired: DesiredFund, how: str, candidates: list[RemoteClient], contested: Collection[str]
) -> str:
    """Why a person must choose the fund's client among live ``candidates``; empty when one is safe."""
    if len(candidates) > 1:
        return f"{len(candidates)} XPM clients match by {how}; link one by hand"
    if candidates and candidates[0].uuid in contested:
        return f"another fund of the run matches the same XPM client by its {how} too; link one by hand"
    if candidates and how == "ExportCode" and _stranger(desired, candidates[0]):
        return _stranger_reason(desired, candidates[0])
    return ""


def _plan_unlinked(
    desired: DesiredFund,
    remote: RemoteIndex,
    sync_mode: SyncMode,
    taken: set[str],
    contested: Collection[str],
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
    reason = _review_reason(desired, how, candidates, contested)
    if reason:
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
    return _plan_create(desired, sync_mode)


def _plan_create(desired: DesiredFund, sync_mode: SyncMode, reason: str = "") -> FundPlan:
    base = {"fund_id": desired.fund_id, "scope_code": desired.scope_code, "name": desired.name}
    if sync_mode is SyncMode.UPDATE_ONLY:
        return FundPlan(**base, action=Action.SKIPPED, reason="update_only creates no clients")
    steps = tuple(ContactStep(c.member_id, Action.CREATE) for c in desired.contacts)
    return FundPlan(**base, action=Action.CREATE, contact_steps=steps, reason=reason)
