"""Carry out one fund's plan against XPM, so that every write is safe to repeat.

A create is announced in the state database before it is sent. If its response is lost, the client is
looked up by ExportCode before anything is sent again; a later run that finds the announcement does the
same through its read of XPM, and a repeated upsert of the same run (a task retry after a crash) looks the
announced client up before sending. Each contact's link is recorded as soon as the contact exists.

A contact is found again after a lost answer by every identifying field it was sent with, never by its name
alone (two members of a fund may share one), and only among contacts no other member of the fund holds.
A member whose contact cannot be told apart is left unlinked and its fund reported as failed, so the next
run (incremental ones included) adds it again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.engine import Connection, Engine

from classxpm.errors import RecordRefused
from classxpm.identifiers import code_key, mask_digit_runs
from classxpm.sync.contacts import pair
from classxpm.sync.links import (
    LinkRecorder,
    Outcome,
    announced_creates,
    business_contacts,
    finished_in_run,
    linked_fund_ids,
)
from classxpm.sync.model import Action, DesiredContact, DesiredFund, RemoteClient
from classxpm.sync.plan import ContactStep, FundPlan, retired_reason
from classxpm.sync.remote import RemoteState, remote_from
from classxpm.xpm import xml
from classxpm.xpm.api import XpmApi
from classxpm.xpm.errors import NotFound, RecordError, ResponseFormatError, Retriable

log = logging.getLogger(__name__)

LOOKBACK = timedelta(minutes=2)
"""How far before an announced create the ExportCode look-up reaches (clock skew with XPM)."""

STATUS = {Action.CREATE: "created", Action.LINK: "linked", Action.UPDATE: "updated"}
SEND_ATTEMPTS = 3
"""How often a create is sent when its answer fails; it is sent again only after a look-up shows it was
not applied (a 500 applies nothing; a dropped connection may have applied it)."""
LOST_NOTE = "XPM's answer was lost; found the new client by ExportCode"
EARLIER_NOTE = "an earlier attempt created it and stopped before recording it; found by ExportCode"
EARLIER_ATTEMPT = "done by an earlier attempt of this run"
LINKED_MEANWHILE = "another run created and linked it after this run planned it; nothing sent"
NOT_SHOWN = "XPM's answer shows no contact with the details sent"
NOT_TOLD = "XPM shows more contacts with the details sent than members that want them"
NAMESAKES = (
    "the client has several contacts with the member's name and nothing tells which is the member's: "
    "none is added; remove the extra contacts in XPM or give the member's its e-mail"
)
LOST_NOT_TOLD = (
    "the answer to adding the contact was lost and more than one contact of the client carries the "
    "details sent"
)


@dataclass(frozen=True)
class Members:
    """What became of a fund's members in one write: contacts linked, and members left unlinked."""

    linked: dict[str, str] = field(default_factory=dict)
    """Member id to the contact UUID it is linked to."""
    unlinked: dict[str, str] = field(default_factory=dict)
    """Member id to the reason it is not linked."""


class Unidentified(RecordRefused):
    """A contact whose add lost its answer cannot be told apart from other contacts of the client."""


def member_name(contact: DesiredContact) -> str:
    """The member's name as sent to XPM (never the TFN), or its Class member id when it has none."""
    return (contact.fields.get("Name") or "").strip() or f"member {contact.member_id}"


def unlinked_detail(desired: DesiredFund, unlinked: dict[str, str], *, again: bool = True) -> str:
    """The outcome detail of a fund whose members ``unlinked`` (member id to reason) are not contacts.

    ``again`` says the next run adds them again by itself; members waiting for a person are not.
    """
    names = {c.member_id: member_name(c) for c in desired.contacts}
    listed = "; ".join(f"{names[member]} ({reason})" for member, reason in unlinked.items())
    then = "the next run adds them again" if again else "they are left for a person to sort out"
    return f"not a contact in XPM yet: {listed}; {then}"


def refusal(error: RecordError) -> str:
    """A fund's failure as XPM stated it, digit runs masked (a description may quote a TFN).

    It is the fund's outcome, not the run's: the run goes on, and the next run tries the fund again, which
    helps once the cause is cleared in Class or in XPM (a conflicting or archived client, a duplicate TFN).
    """
    status = f" (HTTP {error.status})" if error.status != 200 else ""
    return f"XPM refused it{status}: {mask_digit_runs(error.description)}"


def not_taken(sent: dict[str, object], client: xml.Client | None) -> str:
    """Why XPM's answer to an update shows it did not take the ExportCode sent, or "" when it did."""
    if "ExportCode" not in sent or client is None:
        return ""
    wanted = str(sent["ExportCode"] or "")
    if code_key(client.export_code) == code_key(wanted):
        return ""
    return f"XPM did not take the new ExportCode {wanted!r}: the client still has {client.export_code!r}"


class Executor:
    """Writes funds to one XPM tenant and records each result with its link."""

    def __init__(
        self, api: XpmApi, state: Engine, recorder: LinkRecorder, clock: Callable[[], datetime]
    ) -> None:
        self.api, self.state, self.recorder, self.clock = api, state, recorder, clock
        self.cache = RemoteState(state, recorder.tenant_id)
        self.announced = announced_creates(state, recorder.business_id)
        self.finished = finished_in_run(state, recorder.run_id)
        self.linked = linked_fund_ids(state, recorder.business_id)
        self.contacts = business_contacts(state, recorder.business_id)
        """Fund id → its members' contact UUIDs, as linked now; kept up to date as contacts are linked."""

    def execute(self, plan: FundPlan, desired: DesiredFund) -> Outcome:
        """Carry out ``plan`` and record the result; record-level failures are returned, not raised.

        A fund this run finished already is left alone, and so is a planned create that another run has
        linked since (the tenant's lease let that run write first). A create an earlier attempt announced
        but never confirmed is looked for by ExportCode before anything is sent (the attempt may have died
        after XPM wrote it).

        Raises:
            Deferred: The tenant's daily limit is spent; nothing more can be sent today.
            Reauthorise, TenantForbidden, ConfigurationError: The run as a whole cannot go on.
        """
        if plan.fund_id in self.finished:
            status = self.finished[plan.fund_id]
            return Outcome(plan.fund_id, plan.scope_code, plan.action.value, status, EARLIER_ATTEMPT)
        try:
            if plan.action is Action.CREATE:
                return self._create(plan, desired)
            return self._update(plan, desired)
        except RecordError as error:
            return self._refused_by_xpm(plan, error)
        except ResponseFormatError as error:
            return self._failed(plan, f"XPM's answer could not be read: {error}")
        except Retriable as error:
            return self._failed(plan, f"XPM did not answer in time: {error}")

    def _create(self, plan: FundPlan, desired: DesiredFund) -> Outcome:
        if plan.fund_id in self.linked:
            return self._record(plan, "unchanged", LINKED_MEANWHILE)
        earlier = self.announced.get(plan.fund_id)
        found = self.find_created(desired.export_code, earlier) if earlier else None
        if found is not None:
            return self._synced(plan, desired, found, EARLIER_NOTE, self._paired(plan, desired, found))
        announced = self.clock()
        with self.state.begin() as conn:
            self.recorder.fund(conn, plan, last_status="creating", create_started_at=announced)
        client, note = self._add_client(desired, announced, SEND_ATTEMPTS)
        return self._synced(plan, desired, client, note, self._paired(plan, desired, client))

    def _paired(self, plan: FundPlan, desired: DesiredFund, client: xml.Client) -> Members:
        """Pair the contacts a client was created with to the fund's members."""
        taken = set(self._held(plan).values())
        found = pair(desired.contacts, remote_from(client).contacts, taken)
        unlinked = dict.fromkeys(found.missing, NOT_SHOWN) | dict.fromkeys(found.unsure, NOT_TOLD)
        return Members(found.linked, unlinked)

    def _held(self, plan: FundPlan) -> dict[str, str]:
        """The fund's members and their contacts: linked in the state database, or planned in this run."""
        held = self.contacts.get(plan.fund_id, {})
        return held | {s.member_id: s.contact_uuid for s in plan.contact_steps if s.contact_uuid}

    def _add_client(self, desired: DesiredFund, announced: datetime, attempts: int) -> tuple[xml.Client, str]:
        try:
            return self.api.add_client(desired.fields, [c.fields for c in desired.contacts]), ""
        except Retriable:
            client = self.find_created(desired.export_code, announced)
            if client is not None:
                return client, LOST_NOTE
            if attempts <= 1:
                raise
        return self._add_client(desired, announced, attempts - 1)

    def find_created(self, export_code: str, since: datetime) -> xml.Client | None:
        """Look for a client created since ``since`` whose ExportCode matches the mapped ``export_code``."""
        wanted = code_key(export_code)
        found = [
            c
            for c in self.api.list_clients(modified_since=since - LOOKBACK)
            if code_key(c.export_code) == wanted and not (c.is_archived or c.is_deleted)
        ]
        return found[0] if found else None

    def _update(self, plan: FundPlan, desired: DesiredFund) -> Outcome:
        client_uuid = plan.client_uuid or ""
        # Exactly the fields the plan names: what a dry run showed is what is sent (update is partial).
        fields = {name: desired.fields[name] for name in plan.changed_fields}
        try:
            client = self.api.update_client(client_uuid, fields) if fields else None
        except RecordError as error:
            if "ExportCode" not in fields or self._gone(plan):
                raise  # the fund fails and is tried again next run (an archived client, say), or is gone
            return self._refused(plan, desired, refusal(error))  # a new scope code refused: reported once
        refused = not_taken(fields, client)
        by_member = {c.member_id: c for c in desired.contacts}
        held = self._held(plan)
        members = Members()
        for step in plan.contact_steps:
            if step.action is Action.NEEDS_REVIEW:
                members.unlinked[step.member_id] = NAMESAKES
                continue
            contact = by_member[step.member_id]
            taken = {uuid for member, uuid in held.items() if member != step.member_id}
            try:
                held[step.member_id] = self._contact(client_uuid, step, contact, taken)
            except Unidentified as unknown:
                members.unlinked[step.member_id] = str(unknown)
                continue
            members.linked[step.member_id] = held[step.member_id]
            self._link_contact(plan.fund_id, step.member_id, held[step.member_id], contact)
        note = plan.reason if plan.action is Action.LINK else ""
        return self._synced(plan, desired, client, note, members, refused=refused)

    def _contact(self, client_uuid: str, step: ContactStep, contact: DesiredContact, taken: set[str]) -> str:
        if step.action is Action.UPDATE:
            self.api.update_contact(step.contact_uuid or "", contact.fields, client_uuid)
        if step.action is not Action.CREATE:
            return step.contact_uuid or ""
        return self._add_contact(client_uuid, contact, taken, SEND_ATTEMPTS)

    def _add_contact(self, client_uuid: str, contact: DesiredContact, taken: set[str], attempts: int) -> str:
        """Add a member's contact; after a failed answer, find it by its details among the free contacts.

        Raises:
            Unidentified: The answer was lost and several free contacts carry the details sent.
            Retriable: Every attempt failed and XPM holds no such contact.
        """
        try:
            return self.api.add_contact(client_uuid, contact.fields).uuid or ""
        except Retriable:
            found = pair((contact,), remote_from(self.api.get_client(client_uuid)).contacts, taken)
            if contact.member_id in found.linked:
                return found.linked[contact.member_id]
            if found.unsure:
                raise Unidentified(LOST_NOT_TOLD) from None
            if attempts <= 1:
                raise
        return self._add_contact(client_uuid, contact, taken, attempts - 1)

    def _link_contact(self, fund_id: str, member_id: str, contact_uuid: str, contact: DesiredContact) -> None:
        with self.state.begin() as conn:
            self._contact_link(conn, fund_id, member_id, contact_uuid, contact.payload_hash, at=self.clock())

    def _contact_link(
        self,
        conn: Connection,
        fund_id: str,
        member_id: str,
        contact_uuid: str,
        payload_hash: str,
        *,
        at: datetime,
    ) -> None:
        """Record a member's contact link in ``conn`` and remember it for the rest of the write loop."""
        self.recorder.contact(
            conn, fund_id, member_id, contact_uuid, payload_hash=payload_hash, last_synced_at=at
        )
        self.contacts.setdefault(fund_id, {})[member_id] = contact_uuid

    def _synced(
        self,
        plan: FundPlan,
        desired: DesiredFund,
        client: xml.Client | None,
        note: str,
        members: Members,
        *,
        refused: str = "",
    ) -> Outcome:
        """Record the fund's link and outcome; a fund with members left unlinked is recorded as failed.

        A value XPM did not take (``refused``) fails the fund once: its payload hash is kept on the link,
        so later runs do not send the same values again until the fund changes in Class.
        """
        unlinked = members.unlinked
        now = self.clock()
        client_uuid = (client.uuid if client else None) or plan.client_uuid
        web_url = (client.web_url if client else None) or self.cache.web_url(client_uuid or "")
        by_member = {c.member_id: c for c in desired.contacts}
        status, detail = STATUS[plan.action], note
        problems = [refused] if refused else []
        # Members only a person can tell apart from namesake contacts are for review, not a failure.
        review = bool(unlinked) and not refused and all(reason == NAMESAKES for reason in unlinked.values())
        if unlinked:
            problems.append(unlinked_detail(desired, unlinked, again=not review))
        if problems:
            status, detail = "needs_review" if review else "failed", "; ".join(problems)
            log.warning("fund %s: %s", plan.scope_code, detail)
        outcome = Outcome(plan.fund_id, plan.scope_code, plan.action.value, status, detail)
        last_status = "refused" if refused else status if unlinked else "synced"
        with self.state.begin() as conn:
            self.recorder.fund(
                conn,
                plan,
                client_uuid=client_uuid,
                payload_hash=desired.payload_hash,
                last_synced_at=now,
                last_status=last_status,
                last_error=detail if problems else None,
                create_started_at=None,
                refused_hash=desired.payload_hash if refused else None,
                **({"web_url": web_url} if web_url else {}),
            )
            for member_id, contact_uuid in members.linked.items():
                payload_hash = by_member[member_id].payload_hash
                self._contact_link(conn, plan.fund_id, member_id, contact_uuid, payload_hash, at=now)
            self.recorder.outcomes(conn, [outcome], now)
            if client is not None:
                self.cache.put(conn, remote_from(client), now)
        return outcome

    def _gone(self, plan: FundPlan) -> str:
        """``"deleted"`` when a write to the fund's client was refused because a person deleted it, else "".

        An incremental run writes on the strength of stored hashes; XPM refusing the write is how it
        notices. One read tells a deleted client from any other refusal. (An archived client stays a
        failure here, retried: a person may restore it; full runs read it and send it to review.)
        """
        try:
            client = self.api.get_client(plan.client_uuid or "")
        except (RecordError, NotFound):
            return "deleted"
        return "deleted" if client.is_deleted else ""

    def _refused_by_xpm(self, plan: FundPlan, error: RecordError) -> Outcome:
        """A refused fund: for review, once, when a person deleted its client in XPM; else failed."""
        gone = self._gone(plan) if plan.action is not Action.CREATE else ""
        if not gone:
            return self._failed(plan, refusal(error))
        detail = retired_reason(gone)
        log.warning("fund %s: %s", plan.scope_code, detail)
        now = self.clock()
        # The cache remembers it, so later incremental runs plan the fund for review without writing.
        self.cache.store(RemoteClient(plan.client_uuid or "", {"IsDeleted": "Yes"}), now)
        outcome = Outcome(plan.fund_id, plan.scope_code, plan.action.value, "needs_review", detail)
        with self.state.begin() as conn:
            self.recorder.fund(conn, plan, last_status="needs_review", last_error=detail)
            self.recorder.outcomes(conn, [outcome], now)
        return outcome

    def _refused(self, plan: FundPlan, desired: DesiredFund, detail: str) -> Outcome:
        """XPM refused the client's values: reported once, not sent again until the fund changes in Class."""
        log.warning("fund %s: %s refused: %s", plan.scope_code, plan.action.value, detail)
        outcome = Outcome(plan.fund_id, plan.scope_code, plan.action.value, "failed", detail)
        with self.state.begin() as conn:
            self.recorder.fund(
                conn, plan, last_status="refused", last_error=detail, refused_hash=desired.payload_hash
            )
            self.recorder.outcomes(conn, [outcome], self.clock())
        return outcome

    def _failed(self, plan: FundPlan, detail: str) -> Outcome:
        log.warning("fund %s: %s failed: %s", plan.scope_code, plan.action.value, detail)
        return self._record(plan, "failed", detail)

    def _record(self, plan: FundPlan, status: str, detail: str) -> Outcome:
        outcome = Outcome(plan.fund_id, plan.scope_code, plan.action.value, status, detail)
        with self.state.begin() as conn:
            if status == "failed":
                self.recorder.fund(conn, plan, last_status="failed", last_error=detail)
            self.recorder.outcomes(conn, [outcome], self.clock())
        return outcome
