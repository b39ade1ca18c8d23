"""Carry out one fund's plan against XPM, so that every write is safe to repeat.

A create is announced in the state database before it is sent. If its response is lost, the client is
looked up by ExportCode before anything is sent again; a later run that finds the announcement does the
same through its read of XPM, and a repeated upsert of the same run (a task retry after a crash) looks the
announced client up before sending. Each contact's link is recorded as soon as the contact exists.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from classxpm.identifiers import code_key, mask_digit_runs
from classxpm.sync.links import (
    LinkRecorder,
    Outcome,
    announced_creates,
    finished_in_run,
    linked_fund_ids,
)
from classxpm.sync.model import Action, DesiredContact, DesiredFund
from classxpm.sync.plan import ContactStep, FundPlan
from classxpm.sync.remote import RemoteState, remote_from
from classxpm.xpm import xml
from classxpm.xpm.api import XpmApi
from classxpm.xpm.errors import RecordError, ResponseFormatError, Retriable

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


def _matching_names(created: tuple[xml.Contact, ...], wanted: tuple[DesiredContact, ...]) -> dict[str, str]:
    """Pair the contacts XPM created with the members they were made from, by name, in order."""
    pool = [c for c in created if c.uuid]
    pairs: dict[str, str] = {}
    for contact in wanted:
        name = (contact.fields.get("Name") or "").strip().casefold()
        match = next((c for c in pool if (c.name or "").strip().casefold() == name), None)
        if match is not None:
            pool.remove(match)
            pairs[contact.member_id] = match.uuid or ""
    return pairs


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
            return self._failed(plan, f"XPM refused it: {mask_digit_runs(error.description)}")
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
            contacts = _matching_names(found.contacts, desired.contacts)
            return self._synced(plan, desired, found, contacts, EARLIER_NOTE)
        announced = self.clock()
        with self.state.begin() as conn:
            self.recorder.fund(conn, plan, last_status="creating", create_started_at=announced)
        client, note = self._add_client(desired, announced, SEND_ATTEMPTS)
        contacts = _matching_names(client.contacts, desired.contacts)
        return self._synced(plan, desired, client, contacts, note)

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
            for c in self.api.list_clients(detailed=True, modified_since=since - LOOKBACK)
            if code_key(c.export_code) == wanted and not (c.is_archived or c.is_deleted)
        ]
        return found[0] if found else None

    def _update(self, plan: FundPlan, desired: DesiredFund) -> Outcome:
        client_uuid = plan.client_uuid or ""
        # Exactly the fields the plan names: what a dry run showed is what is sent (update is partial).
        fields = {name: desired.fields[name] for name in plan.changed_fields}
        client = self.api.update_client(client_uuid, fields) if fields else None
        by_member = {c.member_id: c for c in desired.contacts}
        contacts: dict[str, str] = {}
        for step in plan.contact_steps:
            contacts[step.member_id] = self._contact(client_uuid, step, by_member[step.member_id])
            self._link_contact(
                plan.fund_id, step.member_id, contacts[step.member_id], by_member[step.member_id]
            )
        return self._synced(
            plan, desired, client, contacts, plan.reason if plan.action is Action.LINK else ""
        )

    def _contact(self, client_uuid: str, step: ContactStep, contact: DesiredContact) -> str:
        if step.action is Action.UPDATE:
            self.api.update_contact(step.contact_uuid or "", contact.fields, client_uuid)
        if step.action is not Action.CREATE:
            return step.contact_uuid or ""
        return self._add_contact(client_uuid, contact, SEND_ATTEMPTS)

    def _add_contact(self, client_uuid: str, contact: DesiredContact, attempts: int) -> str:
        try:
            return self.api.add_contact(client_uuid, contact.fields).uuid or ""
        except Retriable:
            found = _matching_names(self.api.get_client(client_uuid).contacts, (contact,))
            if contact.member_id in found:
                return found[contact.member_id]
            if attempts <= 1:
                raise
        return self._add_contact(client_uuid, contact, attempts - 1)

    def _link_contact(self, fund_id: str, member_id: str, contact_uuid: str, contact: DesiredContact) -> None:
        with self.state.begin() as conn:
            self.recorder.contact(
                conn,
                fund_id,
                member_id,
                contact_uuid,
                payload_hash=contact.payload_hash,
                last_synced_at=self.clock(),
            )

    def _synced(
        self,
        plan: FundPlan,
        desired: DesiredFund,
        client: xml.Client | None,
        contacts: dict[str, str],
        note: str,
    ) -> Outcome:
        now = self.clock()
        client_uuid = (client.uuid if client else None) or plan.client_uuid
        by_member = {c.member_id: c for c in desired.contacts}
        outcome = Outcome(plan.fund_id, plan.scope_code, plan.action.value, STATUS[plan.action], note)
        with self.state.begin() as conn:
            self.recorder.fund(
                conn,
                plan,
                client_uuid=client_uuid,
                payload_hash=desired.payload_hash,
                last_synced_at=now,
                last_status="synced",
                last_error=None,
                create_started_at=None,
            )
            for member_id, contact_uuid in contacts.items():
                self.recorder.contact(
                    conn,
                    plan.fund_id,
                    member_id,
                    contact_uuid,
                    payload_hash=by_member[member_id].payload_hash,
                    last_synced_at=now,
                )
            self.recorder.outcomes(conn, [outcome], now)
        if client is not None:
            self.cache.store(remote_from(client), now)
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
