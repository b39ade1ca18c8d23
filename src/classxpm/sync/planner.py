"""The planner: maps the run's staged funds, plans each against its link and XPM, and stores the plan.

``sync/plan.py`` decides one fund purely; this module brings what it decides on (the run's staging, the
links, XPM's clients, the quarantine) and stores, with each fund's plan, the payload its write sends and
the dry run's diff. Both come from the same plan: the diff names exactly the fields the write sends.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from classxpm.sync import run_store
from classxpm.sync.choices import to_create
from classxpm.sync.desired import MappedFund, map_fund
from classxpm.sync.gone import ARCHIVED, GONE, gone_links
from classxpm.sync.links import deferred_fund_ids, in_review, load_links
from classxpm.sync.model import Action, DesiredFund, Link, RemoteClient, RunMode, Value
from classxpm.sync.plan import FundPlan, RemoteIndex, contested, plan_fund
from classxpm.sync.remote import RemoteState, remote_from
from classxpm.sync.run import RunRef, SyncEnv
from classxpm.sync.staging import iter_staged
from classxpm.xpm.api import XpmApi

WRITING = run_store.WRITING


def mapped_funds(env: SyncEnv, ref: RunRef) -> Iterator[MappedFund]:
    """Map the run's staged funds, chunk by chunk: the one place a run maps Class rows."""
    for chunk in iter_staged(env.state, ref.run_id, env.cipher):
        for fund in chunk.funds:
            yield map_fund(fund, chunk.members.get(fund["fund_id"], []), env.mappings, env.cipher.hash_key)


def plan_run(env: SyncEnv, ref: RunRef) -> dict[str, int]:
    """Plan every staged fund against the links and XPM's state, and store the plan; returns counts."""
    api = env.open_api(ref.business_id)
    quarantine = run_store.quarantined(env.state, ref.run_id)
    gone = gone_links(env.state, ref.business_id, (GONE, ARCHIVED))
    # A fund gone from Class holds its client no more: a new fund with its scope code may link to it. A
    # client this pipeline archived for such a fund is no candidate at all (one a person archived is).
    links = {fund: link for fund, link in load_links(env.state, ref.business_id).items() if fund not in gone}
    index = _remote_index(env, ref, api)
    ours = set(gone_links(env.state, ref.business_id, (ARCHIVED,)).values())
    if ours & set(index.by_uuid):
        index = RemoteIndex([c for uuid, c in index.by_uuid.items() if uuid not in ours])
    planner = Planner(ref, api, links, index, quarantine)
    planner.to_create = to_create(env.state, ref.business_id, ref.tenant_id)
    planner.in_review = in_review(env.state, ref.business_id)
    claiming = _unlinked(env, ref, links, set(quarantine) | planner.to_create)
    planner.contested = contested(claiming, index, planner.taken)
    payloads = run_store.PayloadWriter(env.state, env.cipher, ref.run_id)
    leftover = deferred_fund_ids(env.state, ref.business_id)
    rows, counts, held_back, planned = [], Counter(), [], set()
    for mapped in mapped_funds(env, ref):
        held_back += [
            {"fund_id": mapped.fund_id, "scope_code": mapped.scope_code, "member_id": member, "member": label}
            for member, label in mapped.held_back.items()
        ]
        fund_plan, diff = planner.plan(mapped)
        planned.add(mapped.fund_id)
        counts[fund_plan.action.value] += 1
        rows.append(run_store.planned_row(ref.run_id, fund_plan, diff, leftover=mapped.fund_id in leftover))
        if fund_plan.action in WRITING and mapped.desired is not None:
            payloads.add(mapped.desired)
    payloads.flush()
    run_store.store_plans(env.state, ref.run_id, rows)
    # The run's funds in review before it, and why: its report tells news from what a person knows already.
    before = {fund_id: reason for fund_id, reason in planner.in_review.items() if fund_id in planned}
    run_store.note_summary(env.state, ref.run_id, held_back=held_back, in_review_before=before)
    return dict(counts)


def _unlinked(env: SyncEnv, ref: RunRef, links: dict[str, Link], apart: set[str]) -> Iterator[DesiredFund]:
    """The run's funds that may link to an XPM client: unlinked, mapped and not ``apart`` (held back)."""
    for mapped in mapped_funds(env, ref):
        if mapped.desired and mapped.fund_id not in links and mapped.fund_id not in apart:
            yield mapped.desired


def _remote_index(env: SyncEnv, ref: RunRef, api: XpmApi) -> RemoteIndex:
    cache = RemoteState(env.state, ref.tenant_id)
    now = env.clock()
    since = cache.last_read()
    if ref.mode is RunMode.FULL or since is None:
        clients = cache.read_full(api)
        if not ref.dry_run:
            cache.replace(clients, now)
        return RemoteIndex(clients)
    changed = cache.read_modified(api, since)
    if ref.dry_run:
        fresh = {c.uuid for c in changed}
        return RemoteIndex([c for u, c in cache.index().by_uuid.items() if u not in fresh] + changed)
    cache.merge(changed, now)
    return cache.index()


class Planner:
    """Plans the funds of one run in turn, remembering which XPM clients are taken."""

    def __init__(
        self, ref: RunRef, api: XpmApi, links: dict[str, Link], index: RemoteIndex, quarantine: dict[str, str]
    ) -> None:
        self.ref, self.api, self.links, self.index, self.quarantine = ref, api, links, index, quarantine
        self.taken = {link.client_uuid for link in links.values()}
        self.contested: set[str] = set()
        self.to_create: set[str] = set()
        self.in_review: dict[str, str] = {}
        """Funds whose last outcome was needs review, with the reason."""

    def plan(self, mapped: MappedFund) -> tuple[FundPlan, list[dict[str, Any]]]:
        """Plan one mapped fund; returns the plan and its field-level diff."""
        if mapped.desired is None:
            reason = "; ".join(mapped.problems)
            quarantined = FundPlan(
                mapped.fund_id, mapped.scope_code, Action.QUARANTINED, reason=reason, name=mapped.name
            )
            return quarantined, []
        desired, link = mapped.desired, self.links.get(mapped.fund_id)
        if link is not None and link.refused_hash and self.ref.fund_codes:
            link = replace(link, refused_hash=None)  # asked for by code: values XPM refused are sent again
        compare = self.index if (self.ref.mode is RunMode.FULL or link is None) else None
        options = {
            "sync_mode": self.ref.sync_mode,
            "taken": self.taken,
            "quarantine_reason": self.quarantine.get(desired.fund_id),
            "retired": self.index.retired,
            "contested": self.contested,
            "create_anyway": mapped.fund_id in self.to_create,
        }
        fund_plan = plan_fund(desired, link, compare, **options)
        held = self.index.by_uuid.get(fund_plan.client_uuid or "")
        if _needs_contacts(fund_plan, held, compared=compare is not None):
            if not (held and held.contacts_read):
                held = remote_from(self.api.get_client(fund_plan.client_uuid or ""))
            fund_plan = plan_fund(desired, link, RemoteIndex([held]), **options)
        if fund_plan.action is Action.LINK and fund_plan.client_uuid:
            self.taken.add(fund_plan.client_uuid)
        # The field-level diff is what a dry run reports; a real run's report does not show it.
        return fund_plan, _diff(fund_plan, desired, held) if self.ref.dry_run else []


def _needs_contacts(fund_plan: FundPlan, held: RemoteClient | None, *, compared: bool) -> bool:
    """True when the plan adds contacts to an existing client without having matched its real contacts.

    Members are matched by name against the client's contacts, so a plan made without them (an incremental
    run's, or one against a record that carried none) is made again against them: no duplicate contacts.
    """
    new_contacts = any(step.action is Action.CREATE for step in fund_plan.contact_steps)
    existing = fund_plan.action in (Action.LINK, Action.UPDATE)
    return existing and new_contacts and not (compared and held is not None and held.contacts_read)


def _shown(value: Value) -> str | None:
    """A value as the report shows it: a :class:`Tfn` masked by its own text form."""
    return None if value is None else str(value)


def written_fields(fund_plan: FundPlan, desired: DesiredFund) -> tuple[str, ...]:
    """The client fields carrying out ``fund_plan`` sends: all on a create, else the changed ones."""
    if fund_plan.action not in WRITING:
        return ()
    return tuple(desired.fields) if fund_plan.action is Action.CREATE else fund_plan.changed_fields


def _diff(fund_plan: FundPlan, desired: DesiredFund, held: RemoteClient | None) -> list[dict[str, Any]]:
    """Field-level before → after for the dry-run report: every field the write sends, TFNs masked.

    A contact's fields carry its member id under ``contact``: a created or updated contact sends them all.
    """
    client = [
        {
            "field": name,
            "before": _shown(held.fields.get(name)) if held else None,
            "after": _shown(desired.fields.get(name)),
        }
        for name in written_fields(fund_plan, desired)
    ]
    return client + _contact_diff(fund_plan, desired, held) if fund_plan.action in WRITING else client


def _contact_diff(
    fund_plan: FundPlan, desired: DesiredFund, held: RemoteClient | None
) -> list[dict[str, Any]]:
    wanted = {c.member_id: c for c in desired.contacts}
    remote = {c.uuid: c for c in held.contacts} if held else {}
    entries = []
    for step in fund_plan.contact_steps:
        if step.action not in (Action.CREATE, Action.UPDATE):
            continue
        before = remote.get(step.contact_uuid or "")
        entries += [
            {
                "contact": step.member_id,
                "field": name,
                "before": _shown(before.fields.get(name)) if before else None,
                "after": _shown(value),
            }
            for name, value in wanted[step.member_id].fields.items()
        ]
    return entries
