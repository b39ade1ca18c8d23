"""Scenario 5: which XPM read gives a full sync every client's contacts, in calls, bytes and seconds.

Reference §12 leaves three ways to read a practice: ``client.api/list`` (every client, archived and deleted
ones too, each with its contacts, in one call that is not paged); ``client.api/paged-list`` (base records
of live clients, no contacts, 500 a page) followed by ``client.api/get/{uuid}`` for each client whose
contacts are needed; and ``client.api/contacts`` (pages of contacts that name no client, so it cannot say
whose a contact is). Each is read from the same seeded practice; calls and response bytes are the
simulator's call log, seconds the reader's wall clock. The gets are timed on a sample and scaled, when the
practice is larger than the sample.
"""

from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from bench.world import simulator

SEED_BATCH = 2_000
PAGE_SIZE = 500
GET_SAMPLE = 2_000
"""At most this many ``get`` calls are made; beyond it calls, bytes and seconds are scaled up."""
ARCHIVED_SHARE = 0.05
UNLIMITED = {"minute_limit": 10_000_000, "day_limit": 100_000_000, "concurrent": 5}


@dataclass
class ReadRow:
    """One read path of one practice size."""

    clients: int
    contacts: int
    path: str
    calls: int
    bytes: int
    seconds: float
    contacts_known: str
    archived_seen: bool
    scaled: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


def _practice(clients: int, seed: int) -> list[dict[str, Any]]:
    """Clients shaped like a practice's SMSFs: address, ABN, 1-4 contacts, 5% archived."""
    rng = random.Random(seed)
    return [
        {
            "Name": f"Fund {n:06d} Superannuation Fund",
            "ExportCode": f"SF{n:06d}",
            "BusinessNumber": f"{rng.randrange(10**10, 10**11)}",
            "Address": f"{rng.randrange(1, 400)} George Street",
            "City": "Sydney",
            "Region": "NSW",
            "PostCode": "2000",
            "Email": f"fund{n}@example.com",
            "Phone": "02 9000 0000",
            "IsArchived": "Yes" if rng.random() < ARCHIVED_SHARE else "No",
            "Contacts": [
                {"Name": f"Member {n}-{m}", "Email": f"m{n}-{m}@example.com", "Mobile": "0400 000 000"}
                for m in range(rng.choice((1, 2, 2, 3, 3, 4)))
            ],
        }
        for n in range(clients)
    ]


def _seed(sim: Any, clients: list[dict[str, Any]]) -> None:
    for start in range(0, len(clients), SEED_BATCH):
        sim.seed({"clients": clients[start : start + SEED_BATCH]})


def _spent(sim: Any) -> tuple[int, int]:
    calls = sim.calls()
    api = [e for e in calls["entries"] if ".api/" in e["endpoint"]]
    return len(api), sum(e["bytes"] for e in api)


def _measured(sim: Any, read: Any) -> tuple[int, int, float, Any]:
    sim.admin.delete("/_sim/calls")
    began = time.monotonic()
    result = read()
    seconds = time.monotonic() - began
    calls, size = _spent(sim)
    return calls, size, seconds, result


def _pages(api: httpx.Client, path: str, holder: str) -> list[str]:
    uuids, url, params = [], path, {"pageSize": str(PAGE_SIZE)}
    while url:
        answer = api.get(url, params=params)
        answer.raise_for_status()
        root = _root(answer)
        uuids += [item.findtext("UUID") for item in root.iterfind(holder)]
        url, params = root.findtext("Pagination/Links/Next"), None
    return uuids


def _root(answer: httpx.Response) -> Any:
    from defusedxml.ElementTree import fromstring

    return fromstring(answer.content)


def run_readpath(clients: int, seed: int) -> list[ReadRow]:
    """Seed a practice of ``clients`` and read it each way; one row per read path."""
    practice = _practice(clients, seed)
    contacts = sum(len(c["Contacts"]) for c in practice)
    with simulator(**UNLIMITED) as sim:
        _seed(sim, practice)
        with sim.api_client() as api:
            api.timeout = httpx.Timeout(600.0)
            rows = [_list(sim, api, clients, contacts, detailed) for detailed in (False, True)]
            rows += _paged_then_get(sim, api, clients, contacts)
            rows.append(_contacts_pages(sim, api, clients, contacts))
    return rows


def _list(sim: Any, api: httpx.Client, clients: int, contacts: int, detailed: bool) -> ReadRow:
    params = {"detailed": "true"} if detailed else {}
    calls, size, seconds, answer = _measured(sim, lambda: api.get("client.api/list", params=params))
    root = _root(answer)
    seen = len(root.findall("Clients/Client/Contacts/Contact"))
    archived = any(c.findtext("IsArchived") == "Yes" for c in root.iterfind("Clients/Client"))
    path = "client.api/list?detailed=true" if detailed else "client.api/list"
    known = "yes" if seen == contacts else f"no ({seen:,} of {contacts:,})"
    return ReadRow(clients, contacts, path, calls, size, round(seconds, 2), known, archived)


def _paged_then_get(sim: Any, api: httpx.Client, clients: int, contacts: int) -> list[ReadRow]:
    calls, size, seconds, live = _measured(
        sim, lambda: _pages(api, "client.api/paged-list", "Clients/Client")
    )
    paged = ReadRow(clients, contacts, "client.api/paged-list", calls, size, round(seconds, 2), "no", False)
    sample = live[:GET_SAMPLE]
    get_calls, get_size, get_seconds, _ = _measured(
        sim, lambda: [api.get(f"client.api/get/{uuid}").raise_for_status() for uuid in sample]
    )
    scale = len(live) / len(sample) if sample else 1
    both = ReadRow(
        clients,
        contacts,
        "client.api/paged-list + get per live client",
        calls + round(get_calls * scale),
        size + round(get_size * scale),
        round(seconds + get_seconds * scale, 2),
        "live clients only",
        False,
        scaled=scale > 1,
    )
    return [paged, both]


def _contacts_pages(sim: Any, api: httpx.Client, clients: int, contacts: int) -> ReadRow:
    calls, size, seconds, found = _measured(
        sim, lambda: _pages(api, "client.api/contacts", "Contacts/Contact")
    )
    known = f"not whose ({len(found):,} contacts, no client named)"
    return ReadRow(clients, contacts, "client.api/contacts", calls, size, round(seconds, 2), known, False)
