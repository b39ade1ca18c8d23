"""Every record the simulator serves, checked against Xero's own description of XPM 3.1 (reference §12).

For each endpoint the simulator serves, the response is rendered over HTTP and walked element by element
against the description's record types (``tests/fixtures/xpm-3.1-description.json``): no element the type
lacks, and none it has missing, except the lists the description leaves to ``detailed`` or to the endpoint.

Names compare case-insensitively: the digest PascalCases the description's JSON camelCase (``uuid`` becomes
``Uuid``, ``gstRegistered`` ``GstRegistered``), while XPM's XML spells acronyms in capitals (``UUID``,
``GSTRegistered``), as recorded traffic shows (reference §3, §5).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

DESCRIPTION = json.loads((Path(__file__).parents[2] / "fixtures" / "xpm-3.1-description.json").read_text())
RECORDS: dict[str, dict] = DESCRIPTION["records"]
ENDPOINTS = {(e["method"], e["path"]): e for e in DESCRIPTION["endpoints"]}
DETAIL_LISTS = {"ClientDetailedDto.Notes", "ClientDetailedDto.Groups", "ClientDetailedDto.Relationships"}
JOB_DETAIL_LISTS = {"JobDto.Tasks", "JobDto.Milestones", "JobDto.Notes"}
LAST_PAGE = {"PaginationLinksDto.Next"}
VALID_TFN = "123456782"


def _field(record: str, element: ET.Element) -> tuple[str, object] | None:
    wanted = element.tag.lower()
    return next(((name, kind) for name, kind in RECORDS[record].items() if name.lower() == wanted), None)


def problems(
    element: ET.Element, record: str, absent: set[str] = frozenset(), optional: set[str] = frozenset()
):
    """Where ``element`` differs from ``record``: extra elements, missing ones, and the same for its parts.

    Args:
        element: A rendered element whose children are the record's fields.
        record: The description's record type name.
        absent: ``Record.Field`` entries that must not be there (lists left to ``detailed``).
        optional: ``Record.Field`` entries that may be missing (a last page's ``Next``).
    """
    found: list[str] = []
    seen = set()
    for part in element:
        field = _field(record, part)
        if field is None:
            found.append(f"{record} has no {part.tag}")
            continue
        name, kind = field
        seen.add(name)
        if f"{record}.{name}" in absent:
            found.append(f"{record}.{name} should not be in this answer")
        elif isinstance(kind, list):
            for item in part:
                found += problems(item, kind[0], absent, optional)
        elif kind in RECORDS:
            found += problems(part, kind, absent, optional)
        elif len(part):
            found.append(f"{record}.{name} is a {kind}, not a nested element")
    for name in RECORDS[record]:
        key = f"{record}.{name}"
        if name not in seen and key not in absent and key not in optional:
            found.append(f"{record}.{name} is missing")
    return found


def _body(response) -> ET.Element:
    assert response.status_code == 200, response.text
    root = ET.fromstring(response.content)
    assert root.findtext("Status") == "OK", root.findtext("ErrorDescription")
    return root


def _check(response, method: str, path: str, absent=frozenset(), optional=frozenset()) -> ET.Element:
    root = _body(response)
    endpoint = ENDPOINTS[(method, path)]
    assert problems(root, endpoint["response"], set(absent), set(optional)) == []
    return root


@pytest.fixture
def world(xpm_sim):
    ids = xpm_sim.seed(
        {
            "clients": [
                {
                    "Name": "Smith Super Fund",
                    "ExportCode": "C-1",
                    "ClientCode": "SMITH",
                    "TaxNumber": VALID_TFN,
                    "Notes": [{"Title": "Engaged", "Text": "Signed 2025"}],
                    "Contacts": [{"Name": "Jane", "Position": "Trustee", "IsPrimary": "Yes"}, {"Name": "Jo"}],
                },
                {"Name": "Archived Fund", "IsArchived": "Yes", "Contacts": [{"Name": "Old"}]},
            ],
            "jobs": [
                {
                    "client_export_code": "C-1",
                    "Name": "Audit",
                    "Tasks": [{"Name": "Lodge", "DueDate": "20250930"}],
                }
            ],
        }
    )
    with xpm_sim.api_client() as api:
        yield api, ids


def test_client_reads_follow_the_description(world):
    api, ids = world
    smith = ids["clients"][0]["uuid"]
    listed = _check(api.get("client.api/list"), "GET", "client.api/list", absent=DETAIL_LISTS)
    assert [c.findtext("IsArchived") for c in listed.iterfind("Clients/Client")] == ["No", "Yes"]
    assert listed.findtext("Clients/Client/TaxNumber") == "******782", "list carries TaxNumber masked"
    assert len(listed.findall("Clients/Client/Contacts/Contact")) == 3, "list carries every client's contacts"
    _check(api.get("client.api/list", params={"detailed": "true"}), "GET", "client.api/list")
    paged = _check(api.get("client.api/paged-list"), "GET", "client.api/paged-list", optional=LAST_PAGE)
    assert [c.findtext("Name") for c in paged.iterfind("Clients/Client")] == ["Smith Super Fund"]
    assert paged.find("Clients/Client/Contacts") is None, "paged-list holds base records only"
    search = api.get("client.api/search", params={"query": "smith"})
    _check(search, "GET", "client.api/search", absent=DETAIL_LISTS)
    got = _check(api.get(f"client.api/get/{smith}"), "GET", "client.api/get/{identifier}")
    assert got.findtext("Client/WebUrl").endswith(f"/Client/{smith}/Detail")
    assert got.findtext("Client/Notes/Note/Title") == "Engaged"
    assert (got.findtext("Client/ClientCode"), got.findtext("Client/ExportCode")) == ("SMITH", "C-1")
    contacts = _check(api.get("client.api/contacts"), "GET", "client.api/contacts", optional=LAST_PAGE)
    assert contacts.find("Contacts/Contact/Client") is None, "contacts name no client"


def test_client_writes_follow_the_description(world):
    api, ids = world
    body = "<Client><Name>New Fund</Name><Contacts><Contact><Name>A</Name></Contact></Contacts></Client>"
    added = _check(api.post("client.api/add", content=body), "POST", "client.api/add")
    uuid = added.findtext("Client/UUID")
    assert added.findtext("Client/WebUrl").endswith(f"/Client/{uuid}/Detail")
    update = f"<Client><UUID>{uuid}</UUID><Email>e@x.y</Email></Client>"
    _check(api.put("client.api/update", content=update), "PUT", "client.api/update")
    contact = f"<Contact><Client><UUID>{uuid}</UUID></Client><Name>B</Name></Contact>"
    new = _check(api.post("client.api/contact", content=contact), "POST", "client.api/contact")
    contact_uuid = new.findtext("Contact/UUID")
    params = {"clientUuid": uuid}
    read = api.get(f"client.api/contact/{contact_uuid}", params=params)
    _check(read, "GET", "client.api/contact/{identifier}")
    changed = api.put(f"client.api/contact/{contact_uuid}", content="<Contact><Phone>1</Phone></Contact>")
    _check(changed, "PUT", "client.api/contact/{identifier}")
    other = ids["clients"][0]["uuid"]
    item = f"<Contact><UUID>{contact_uuid}</UUID><Position>P</Position></Contact>"
    link = f"<Client><Contacts>{item}</Contacts></Client>"
    linked = api.post(f"client.api/client/{other}/contacts", content=link)
    _check(linked, "POST", "client.api/client/{identifier}/contacts")
    removed = api.delete(f"client.api/contact/{contact_uuid}", params=params)
    _check(removed, "DELETE", "client.api/contact/{identifier}")
    archive = f"<Client><UUID>{uuid}</UUID></Client>"
    _check(api.put("client.api/archive", content=archive), "PUT", "client.api/archive")
    _check(api.post("client.api/delete", content=archive), "POST", "client.api/delete")


def test_job_reads_follow_the_description(world):
    api, ids = world
    smith = ids["clients"][0]["uuid"]
    _check(api.get("job.api/current"), "GET", "job.api/current", absent=JOB_DETAIL_LISTS)
    _check(api.get("job.api/current", params={"detailed": "true"}), "GET", "job.api/current")
    _check(api.get(f"job.api/client/{smith}"), "GET", "job.api/client/{identifier}", absent=JOB_DETAIL_LISTS)
    job = _check(api.get(f"job.api/get/{ids['jobs'][0]['id']}"), "GET", "job.api/get/{jobNumber}")
    assert job.findtext("Job/Tasks/Task/Name") == "Lodge"


def test_every_field_of_an_add_request_is_accepted_and_echoed(xpm_sim):
    request = RECORDS["ClientAddRequestDto"]
    special = {"Name": "Every Field Fund", "TaxNumber": VALID_TFN, "BusinessNumber": "51824753556"}
    special |= {"CompanyNumber": "004085616"}
    special |= {"BusinessStructure": "Self Managed Superannuation Fund", "DateOfBirth": "19700101"}
    special |= {
        "DateOfDeath": "20200101",
        "GstPeriod": "3",
        "BalanceMonth": "6",
        "ProvisionalTaxRatio": "1.5",
    }
    flags = {
        name
        for name in request
        if name.startswith(("Is", "Prepare", "Gst", "Active")) and name != "GstPeriod"
    }
    flags.discard("GstBasis")
    skipped = {
        "Contacts",
        "AutoBasOptInCriteria",
        "AccountManagerUuid",
        "BillingClientUuid",
        "JobManagerUuid",
    }
    values = {
        name: special.get(name) or ("Yes" if name in flags else f"v-{name}")
        for name in request
        if name not in skipped
    }
    body = "".join(f"<{name}>{value}</{name}>" for name, value in values.items())
    with xpm_sim.api_client() as api:
        client = _body(api.post("client.api/add", content=f"<Client>{body}</Client>")).find("Client")
        echoed = {part.tag.lower(): (part.text or "") for part in client if len(part) == 0}
        expected = {name.lower(): value for name, value in values.items()}
        expected |= {"taxnumber": "******782", "dateofbirth": "1970-01-01T00:00:00"}
        expected |= {"dateofdeath": "2020-01-01T00:00:00"}
        assert {name: echoed.get(name) for name in expected} == expected
        uuid = client.findtext("UUID")
        update = f"<Client><UUID>{uuid}</UUID><ExportCode>NEW</ExportCode><Title>Dr</Title></Client>"
        updated = _body(api.put("client.api/update", content=update)).find("Client")
    assert (updated.findtext("ExportCode"), updated.findtext("Title")) == ("NEW", "Dr")
    assert updated.findtext("ClientCode") == "v-ClientCode", (
        "update is partial: fields not sent keep their values"
    )
