"""Which XPM contact is which member: by the name with the e-mail, mobile and phone, never the name alone.

Two members of one fund may share a name. A contact is paired with a member only when it carries every
identifying field the member's contact was sent with, and only among contacts no other member of the fund
holds. When more contacts fit than members want them, nobody is guessed: those members stay unlinked, are
reported, and the next run adds them again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

from classxpm.sync.model import DesiredContact, RemoteContact

IDENTITY_FIELDS = ("Name", "Email", "Mobile", "Phone")
NUMBERS = frozenset({"Mobile", "Phone"})

Identity = tuple[str, ...]


def _normal(name: str, value: str | None) -> str:
    text = " ".join((value or "").split())
    if name in NUMBERS:
        return "".join(ch for ch in text if ch.isdigit() or ch == "+")
    return text.casefold()


def identity(fields: Mapping[str, str | None]) -> Identity:
    """What tells two contacts apart: name, e-mail, mobile and phone, regardless of case and spacing."""
    return tuple(_normal(name, fields.get(name)) for name in IDENTITY_FIELDS)


@dataclass(frozen=True)
class Pairing:
    """Members paired with contacts, and those that could not be (by member id)."""

    linked: dict[str, str] = field(default_factory=dict)
    missing: tuple[str, ...] = ()
    """No free contact carries what the member's contact was sent with."""
    unsure: tuple[str, ...] = ()
    """Free contacts carry it, but not one for each member that wants one: which is whose is unknown."""


def pair(
    wanted: Iterable[DesiredContact], held: Iterable[RemoteContact], taken: Collection[str] = ()
) -> Pairing:
    """Pair members with the contacts XPM holds, identity by identity, leaving ``taken`` contacts alone.

    Members with the same identity share the contacts of that identity in order, when there is exactly one
    for each of them: such contacts carry the same details, so either order is right.
    """
    free: dict[Identity, list[str]] = defaultdict(list)
    for contact in held:
        if contact.uuid and contact.uuid not in taken:
            free[identity(contact.fields)].append(contact.uuid)
    groups: dict[Identity, list[str]] = defaultdict(list)
    for contact in wanted:
        groups[identity(contact.fields)].append(contact.member_id)
    linked, missing, unsure = {}, [], []
    for key, members in groups.items():
        found = free.get(key, [])
        if not found:
            missing += members
        elif len(found) == len(members):
            linked.update(zip(members, found, strict=True))
        else:
            unsure += members
    return Pairing(linked, tuple(missing), tuple(unsure))


def doubled_links(
    wanted: Iterable[DesiredContact], linked: Mapping[str, str], held: Mapping[str, RemoteContact]
) -> set[str]:
    """Members whose link is void because another member of the fund is linked to the same contact.

    Of the members sharing a contact, the one whose details the contact carries keeps it (the first, when
    several carry the same details); when the contact is not known here, or carries none of theirs, nobody
    does. The others are planned as unlinked: matched again, or added.

    Args:
        wanted: The fund's members.
        linked: Member id to the contact UUID the state database links it to.
        held: The client's contacts as XPM holds them, by UUID (empty when not read).
    """
    sharing: dict[str, list[DesiredContact]] = defaultdict(list)
    for contact in wanted:
        if contact.member_id in linked:
            sharing[linked[contact.member_id]].append(contact)
    void = set()
    for uuid, members in sharing.items():
        if len(members) > 1:
            remote = held.get(uuid)
            owners = [m for m in members if remote and identity(m.fields) == identity(remote.fields)]
            void |= {m.member_id for m in members if not owners or m is not owners[0]}
    return void


def match_by_name(
    wanted: DesiredContact, held: Iterable[RemoteContact], taken: Collection[str], namesakes: int = 1
) -> RemoteContact | None:
    """The one free contact with the member's name; among several, the one that also carries its details.

    Several free contacts that carry nothing but the name (as a person typing names into XPM makes them)
    go to the fund's members of that name in order, only when there is exactly one for each
    (``namesakes``: how many of the fund's members of the name still want a contact, this one included).
    Nothing tells them apart, and each member's details are then written onto its own, so linking a client
    never gives it a second copy of a contact it has. Contacts with other details are never guessed.
    """
    name = identity(wanted.fields)[0]
    named = [c for c in held if c.uuid not in taken and identity(c.fields)[0] == name]
    if len(named) <= 1:
        return named[0] if named else None
    exact = [c for c in named if identity(c.fields) == identity(wanted.fields)]
    if len(exact) == 1:
        return exact[0]
    bare = all(not any(identity(c.fields)[1:]) for c in named)
    return named[0] if bare and len(named) == namesakes else None
