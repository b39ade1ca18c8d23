"""Gone from Class: what the links hold that Class no longer does, found by full runs and reported.

A full, unfiltered run reads every fund of its business, so a linked fund it did not read is no longer the
business's: wound up or deleted in Class, or moved to another business (the new business's own runs create
or link it in its XPM account). A linked member its fund no longer has rolled out of it.

Nothing in XPM changes by default. A fund gone from Class keeps its link, marked ``gone``, so its client is
no longer held against a new fund with the same scope code (no misleading "scope codes must be unique");
with the ``archive`` policy (``gone_from_class``: a DAG param, or the ``xpm_default`` connection extra, for
every business or per business id) its XPM client is archived and its link removed. A rolled-out member's
contact is left as it is by default; the ``rolled_out_members`` policy (param or extra, read the same way)
can detach it from the fund's client (``DELETE client.api/contact/{uuid}?clientUuid=``, which removes the
contact from that one client) or set its Position on the client (``PUT client.api/contact/{uuid}`` with
``<Client><UUID>``); either way its link is removed, so it is reported once.

The lists stand in every full run's report; ``gone_at`` and ``rolled_out_at`` on the links say since when,
so the report's notice names only what is new since the last run.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from classxpm.mapping.models import ELEMENTS
from classxpm.source.schema import funds as class_funds
from classxpm.sync.model import RemoteClient
from classxpm.sync.remote import RemoteState, remote_from
from classxpm.sync.run import RunRef, SyncEnv
from classxpm.sync.staging import iter_staged_chunks
from classxpm.sync.tables import contact_links, fund_links
from classxpm.xpm.errors import ConfigurationError, RecordError

log = logging.getLogger(__name__)

GONE = "gone"
"""``fund_links.last_status`` of a linked fund that a full run no longer found in Class."""
ARCHIVED = "gone_archived"
"""``fund_links.last_status`` of a gone fund whose client this pipeline archived (by the archive policy):
reported once, and its client neither held against a new fund nor taken for one archived by a person."""
POLICIES = ("report", "archive")
REPORT, DETACH, POSITION = "report", "detach", "position:"
"""The ``rolled_out_members`` policies: report, detach, or ``position:<text>`` (the Position to set)."""


def _chosen(business_id: str, param: Any, extra: Any) -> Any:
    """The DAG param, else the connection extra, else ``report``: one value, or one per business id."""
    for source in (param, extra):
        chosen = source.get(business_id, source.get("*")) if isinstance(source, Mapping) else source
        if chosen:
            return chosen
    return REPORT


def policy_for(business_id: str, param: Any, extra: Any) -> str:
    """The run's policy for funds gone from Class: the DAG param, else the connection extra, else report.

    Either may name one policy for every business, or map business ids to one (``"*"`` for the rest).

    Raises:
        ConfigurationError: A policy that is not one of ``report`` or ``archive``.
    """
    chosen = _chosen(business_id, param, extra)
    if chosen not in POLICIES:
        known = ", ".join(POLICIES)
        raise ConfigurationError(f"gone_from_class must be one of {known}, not {chosen!r}")
    return str(chosen)


def members_policy_for(business_id: str, param: Any, extra: Any) -> str:
    """The run's policy for members rolled out of their fund, read like :func:`policy_for`.

    Raises:
        ConfigurationError: A policy that is not ``report``, ``detach`` or ``position:<text>``.
    """
    chosen = _chosen(business_id, param, extra)
    if chosen in (REPORT, DETACH):
        return str(chosen)
    asked = chosen if isinstance(chosen, str) else ""
    position = asked.removeprefix(POSITION).strip()
    longest = ELEMENTS["contact"]["Position"].max_length
    if asked.startswith(POSITION) and 0 < len(position) <= longest:
        return f"{POSITION}{position}"
    raise ConfigurationError(
        f"rolled_out_members must be report, detach or position:<text> (the Position to set, at most "
        f"{longest} characters), not {chosen!r}"
    )


@dataclass(frozen=True)
class GoneFromClass:
    """What one business's links hold that Class no longer does (TFN-free)."""

    funds: list[dict[str, Any]]
    """Linked funds not read: fund id, scope code, name, client UUID, the business it moved to, if any, and
    ``new`` (first found gone by this run)."""
    members: list[dict[str, Any]]
    """Linked members their fund no longer has: scope code, fund id, member id, contact UUID and ``new``."""

    def to_summary(self) -> dict[str, Any]:
        """The run summary's entry."""
        return {"funds": self.funds, "members": self.members}


def find_gone(env: SyncEnv, ref: RunRef, started_at: datetime) -> GoneFromClass:
    """Compare the business's links with the run's staging (a full, unfiltered extract of the business).

    An entry is ``new`` unless a run before this one (started at ``started_at``) found it gone already.
    """
    staged: dict[str, set[str]] = {}
    codes: dict[str, str] = {}
    for chunk in iter_staged_chunks(env.state, ref.run_id, env.cipher):
        # A chunk's columns are absent when it holds no rows (a business with no members, say).
        funds, members = chunk.funds, chunk.members
        for fund_id, code in zip(funds.get("fund_id", []), funds.get("scope_code", []), strict=True):
            staged.setdefault(fund_id, set())
            codes[fund_id] = code
        for fund_id, member_id in zip(members.get("fund_id", []), members.get("member_id", []), strict=True):
            staged.setdefault(fund_id, set()).add(member_id)
    with env.state.connect() as conn:
        links = conn.execute(
            sa.select(fund_links).where(
                fund_links.c.business_id == ref.business_id,
                fund_links.c.client_uuid.is_not(None),
                fund_links.c.last_status.is_distinct_from(ARCHIVED),
            )
        ).all()
        members = conn.execute(
            sa.select(contact_links).where(contact_links.c.business_id == ref.business_id)
        ).all()
    gone = [link for link in links if link.fund_id not in staged]
    moved = _moved(env, ref.business_id, [link.fund_id for link in gone])
    return GoneFromClass(
        [
            {
                "fund_id": link.fund_id,
                "scope_code": link.scope_code,
                "fund_name": link.fund_name or "",
                "client_uuid": link.client_uuid,
                "moved_to": moved.get(link.fund_id),
                "new": _since(link.gone_at, started_at),
            }
            for link in sorted(gone, key=lambda link: link.scope_code)
        ],
        [
            {
                "scope_code": codes[row.fund_id],
                "fund_id": row.fund_id,
                "member_id": row.member_id,
                "contact_uuid": row.contact_uuid,
                "new": _since(row.rolled_out_at, started_at),
            }
            for row in members
            if row.fund_id in staged and row.member_id not in staged[row.fund_id]
        ],
    )


def _moved(env: SyncEnv, business_id: str, fund_ids: list[str]) -> dict[str, str]:
    """Fund id → the business that holds it now, for those of ``fund_ids`` Class still has elsewhere."""
    if not fund_ids or env.source is None:  # the Class API lists one business's funds only
        return {}
    with env.source.connect() as conn:
        rows = conn.execute(
            sa.select(class_funds.c.fund_id, class_funds.c.business_id).where(
                class_funds.c.fund_id.in_(fund_ids), class_funds.c.business_id != business_id
            )
        ).all()
    return {row.fund_id: row.business_id for row in rows}


def _since(marked: datetime | None, started_at: datetime) -> bool:
    """True when a link was not marked before the run (a retried task finds its own run's mark)."""
    return marked is None or marked >= started_at


def mark_gone(conn: Connection, business_id: str, gone: GoneFromClass, now: datetime) -> None:
    """Mark the gone funds' links ``gone`` and the rolled-out members' links, since ``now`` when first found.

    A fund marked before and back in Class is linked as before; a member back in its fund loses its mark.
    """
    ids = [fund["fund_id"] for fund in gone.funds]
    mine = fund_links.c.business_id == business_id
    conn.execute(
        sa.update(fund_links)
        .where(mine, fund_links.c.last_status == GONE, fund_links.c.fund_id.not_in(ids))
        .values(last_status="synced", gone_at=None)
    )
    if ids:
        marked = sa.update(fund_links).where(mine, fund_links.c.fund_id.in_(ids))
        conn.execute(marked.values(last_status=GONE))
        conn.execute(marked.where(fund_links.c.gone_at.is_(None)).values(gone_at=now))
    members = [member["member_id"] for member in gone.members]
    theirs = contact_links.c.business_id == business_id
    back = contact_links.c.rolled_out_at.is_not(None) & contact_links.c.member_id.not_in(members)
    conn.execute(sa.update(contact_links).where(theirs, back).values(rolled_out_at=None))
    if members:
        first = contact_links.c.member_id.in_(members) & contact_links.c.rolled_out_at.is_(None)
        conn.execute(sa.update(contact_links).where(theirs, first).values(rolled_out_at=now))


def drop_superseded(conn: Connection, business_id: str) -> list[str]:
    """Remove gone links whose client a fund now in Class has linked since (its scope code was reused).

    Returns:
        The funds whose gone links were removed.
    """
    mine = fund_links.c.business_id == business_id
    live = sa.select(fund_links.c.client_uuid).where(mine, fund_links.c.last_status != GONE)
    superseded = sa.select(fund_links.c.fund_id).where(
        mine, fund_links.c.last_status == GONE, fund_links.c.client_uuid.in_(live.scalar_subquery())
    )
    fund_ids = list(conn.execute(superseded).scalars())
    if fund_ids:
        conn.execute(
            sa.delete(contact_links).where(
                contact_links.c.business_id == business_id, contact_links.c.fund_id.in_(fund_ids)
            )
        )
        conn.execute(sa.delete(fund_links).where(mine, fund_links.c.fund_id.in_(fund_ids)))
    return fund_ids


def gone_links(state: Engine, business_id: str, statuses: tuple[str, ...] = (GONE,)) -> dict[str, str]:
    """Fund id → client UUID of the business's links marked gone from Class (or archived, when asked)."""
    with state.connect() as conn:
        rows = conn.execute(
            sa.select(fund_links.c.fund_id, fund_links.c.client_uuid).where(
                fund_links.c.business_id == business_id, fund_links.c.last_status.in_(statuses)
            )
        ).all()
    return {row.fund_id: row.client_uuid for row in rows}


def archive_gone(env: SyncEnv, ref: RunRef, held_by_plans: set[str]) -> dict[str, str]:
    """Archive the XPM clients of the business's funds gone from Class; their links are marked archived.

    A client a fund of this run links to (its scope code reused in Class) is left alone. Safe to repeat:
    archiving an archived client changes nothing, and a link is marked only once its client is archived.

    Returns:
        Fund id → what was done (``archived``, or why not).
    """
    api, cache = env.open_api(ref.business_id), RemoteState(env.state, ref.tenant_id)
    done: dict[str, str] = {}
    for fund_id, client_uuid in gone_links(env.state, ref.business_id).items():
        if client_uuid in held_by_plans:
            done[fund_id] = "kept: a fund of this run links to its client"
            continue
        try:
            archived = api.archive_client(client_uuid)
        except RecordError as error:
            done[fund_id] = f"not archived: XPM refused it ({error.description})"
            continue
        with env.state.begin() as conn:
            conn.execute(
                sa.delete(contact_links).where(
                    contact_links.c.business_id == ref.business_id, contact_links.c.fund_id == fund_id
                )
            )
            conn.execute(
                sa.update(fund_links)
                .where(fund_links.c.business_id == ref.business_id, fund_links.c.fund_id == fund_id)
                .values(last_status=ARCHIVED)
            )
        cache.store(remote_from(archived), env.clock())
        done[fund_id] = "archived"
    return done


def settle_rolled_out(env: SyncEnv, ref: RunRef) -> dict[str, str]:
    """Detach, or set the Position of, the contacts of the business's members rolled out of their fund.

    Only members of funds still linked in Class; each link is removed once done, so the member is reported
    once. What the run read of XPM decides: a contact already off the client, or already holding the
    Position, needs no write (safe to repeat after a crash); a client a person archived or deleted is left
    alone. A refusal keeps the link: the next full run tries again.

    Returns:
        Member id → what was done.
    """
    rows = _rolled_out(env, ref.business_id)
    if not rows:
        return {}
    api, cache = env.open_api(ref.business_id), RemoteState(env.state, ref.tenant_id)
    clients = cache.held({row.client_uuid for row in rows})
    done: dict[str, str] = {}
    for row in rows:
        client = clients.get(row.client_uuid)
        if client is None or client.retired:
            done[row.member_id] = f"contact left as it is: the fund's client is {_state_of(client)} in XPM"
            continue
        try:
            done[row.member_id] = _settle(api, ref.members_policy, row, client)
        except RecordError as error:
            done[row.member_id] = f"not done: XPM refused it ({error.description}); tried again next full run"
            continue
        with env.state.begin() as conn:
            conn.execute(
                sa.delete(contact_links).where(
                    contact_links.c.business_id == ref.business_id, contact_links.c.member_id == row.member_id
                )
            )
    return done


def _state_of(client: RemoteClient | None) -> str:
    return client.retired if client is not None else "not read"


def _rolled_out(env: SyncEnv, business_id: str) -> list[Any]:
    """The rolled-out members' links, with their live fund's client."""
    query = (
        sa.select(contact_links.c.member_id, contact_links.c.contact_uuid, fund_links.c.client_uuid)
        .join(
            fund_links,
            (fund_links.c.business_id == contact_links.c.business_id)
            & (fund_links.c.fund_id == contact_links.c.fund_id),
        )
        .where(
            contact_links.c.business_id == business_id,
            contact_links.c.rolled_out_at.is_not(None),
            fund_links.c.client_uuid.is_not(None),
            fund_links.c.last_status.not_in((GONE, ARCHIVED)),
        )
        .order_by(contact_links.c.member_id)
    )
    with env.state.connect() as conn:
        return list(conn.execute(query).all())


def _settle(api: Any, policy: str, row: Any, client: RemoteClient) -> str:
    """Carry out ``policy`` for one rolled-out member's contact; returns what was done."""
    contact = next((c for c in client.contacts if c.uuid == row.contact_uuid), None)
    if contact is None:
        return "contact already off the fund's client in XPM"
    if policy == DETACH:
        api.delete_contact(row.contact_uuid, row.client_uuid)
        return "contact detached from the fund's client"
    position = policy.removeprefix(POSITION)
    if contact.fields.get("Position") == position:
        return f"contact's Position already {position!r}"
    api.update_contact(row.contact_uuid, {"Position": position}, client_uuid=row.client_uuid)
    return f"contact's Position set to {position!r}"


REUSED = "its client is now linked to the fund that took over its scope code"
LEFT = "contact left as it is (policy: report)"


def report_entries(
    summary: Mapping[str, Any], reused: list[str], members_policy: str = REPORT
) -> dict[str, list[dict[str, Any]]]:
    """The report's ``gone_from_class`` section: each gone fund and rolled-out member with what was done.

    ``reused`` are the gone funds whose client a fund of the run linked to (their links were removed).
    """
    gone = summary.get("gone") or {}
    archived = (summary.get("gone_archived") or {}) | dict.fromkeys(reused, REUSED)
    funds = []
    for fund in gone.get("funds", []):
        if fund.get("moved_to"):
            what = f"moved to business {fund['moved_to']}: its runs create or link it in that XPM account"
        else:
            what = "no longer in Class (wound up or deleted)"
        done = archived.get(fund["fund_id"], "XPM client left as it is (policy: report)")
        shown = {k: fund[k] for k in ("scope_code", "fund_name", "client_uuid")}
        funds.append({**shown, "what": what, "done": done, "new": fund.get("new", True)})
    settled = summary.get("rolled_out_done") or {}
    left = LEFT if members_policy == REPORT else f"nothing done yet (policy: {members_policy})"
    members = [
        {
            **{k: m[k] for k in ("scope_code", "member_id", "contact_uuid")},
            "what": "rolled out of the fund",
            "done": settled.get(m["member_id"], left),
            "new": m.get("new", True),
        }
        for m in gone.get("members", [])
    ]
    return {"funds": funds, "members": members}
