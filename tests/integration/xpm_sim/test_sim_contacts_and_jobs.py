"""Contacts and jobs over loopback HTTP, against the shapes of reference §4.2, §4.3 and §5.3."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest


def _ok(response) -> ET.Element:
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    root = ET.fromstring(response.content)
    assert root.findtext("Status") == "OK", root.findtext("ErrorDescription")
    return root


def _error(response) -> str:
    root = ET.fromstring(response.content)
    assert (response.status_code, root.findtext("Status")) == (200, "ERROR")
    return root.findtext("ErrorDescription")


@pytest.fixture
def api(xpm_sim):
    with xpm_sim.api_client() as client:
        yield client


@pytest.fixture
def client_uuid(xpm_sim) -> str:
    return xpm_sim.seed({"clients": [{"Name": "Smith Super Fund", "ExportCode": "C-1"}]})["clients"][0][
        "uuid"
    ]


def _new_contact(api, client_uuid: str, name: str = "Jane", primary: str = "Yes") -> ET.Element:
    body = (
        f"<Contact><Client><UUID>{client_uuid}</UUID></Client><Name>{name}</Name><Email>j@x.y</Email>"
        f"<Position>Trustee</Position><IsPrimary>{primary}</IsPrimary></Contact>"
    )
    return _ok(api.post("client.api/contact", content=body.encode()))


def test_add_contact_returns_the_documented_shape(api, client_uuid):
    root = _new_contact(api, client_uuid)
    assert root.get("api-method") == "Contact"
    contact = root.find("Contact")
    expected = [
        "UUID",
        "Name",
        "Salutation",
        "Addressee",
        "Mobile",
        "Email",
        "Phone",
        "IsDeleted",
        "IsPrimary",
        "Position",
    ]
    assert [child.tag for child in contact] == expected
    assert (contact.findtext("IsPrimary"), contact.findtext("Position")) == ("Yes", "Trustee")


def test_add_contact_needs_a_client(api):
    assert "Client" in _error(api.post("client.api/contact", content=b"<Contact><Name>A</Name></Contact>"))


def test_get_contact_shows_position_only_through_a_client(api, client_uuid):
    contact_uuid = _new_contact(api, client_uuid).findtext("Contact/UUID")
    bare = _ok(api.get(f"client.api/contact/{contact_uuid}")).find("Contact")
    assert (bare.findtext("Position"), bare.findtext("IsPrimary")) == ("", ""), "empty without a client"
    through = _ok(api.get(f"client.api/contact/{contact_uuid}", params={"clientUuid": client_uuid})).find(
        "Contact"
    )
    assert through.findtext("Position") == "Trustee"
    assert _error(api.get("client.api/contact/00000000-0000-0000-0000-000000000000")) == "Contact not found"


def test_update_contact_changes_position_only_with_client(api, client_uuid):
    contact_uuid = _new_contact(api, client_uuid).findtext("Contact/UUID")
    plain = _ok(
        api.put(
            f"client.api/contact/{contact_uuid}",
            content=b"<Contact><Position>Member</Position><Mobile>04</Mobile></Contact>",
        )
    )
    assert plain.findtext("Contact/Mobile") == "04"
    body = f"<Contact><Position>Member</Position><Client><UUID>{client_uuid}</UUID></Client></Contact>"
    linked = _ok(api.put(f"client.api/contact/{contact_uuid}", content=body.encode()))
    assert linked.findtext("Contact/Position") == "Member"


def test_delete_with_client_detaches_and_without_deletes(api, client_uuid):
    contact_uuid = _new_contact(api, client_uuid).findtext("Contact/UUID")
    detached = _ok(api.delete(f"client.api/contact/{contact_uuid}", params={"clientUuid": client_uuid}))
    assert detached.findtext("Contact/UUID") == contact_uuid
    assert _ok(api.get(f"client.api/get/{client_uuid}")).findall("Client/Contacts/Contact") == []
    deleted = _ok(api.delete(f"client.api/contact/{contact_uuid}"))
    assert deleted.findtext("Contact/IsDeleted") == "Yes"
    assert _ok(api.get("client.api/contacts")).findall("Contacts/Contact") == []


def test_link_existing_contacts_at_most_ten(api, xpm_sim, client_uuid):
    other = xpm_sim.seed({"clients": [{"Name": "Other", "Contacts": [{"Name": f"P{n}"} for n in range(11)]}]})
    uuids = other["clients"][0]["contacts"]
    eleven = "".join(f"<Contact><UUID>{u}</UUID></Contact>" for u in uuids)
    assert "10" in _error(
        api.post(
            f"client.api/client/{client_uuid}/contacts",
            content=f"<Client><Contacts>{eleven}</Contacts></Client>".encode(),
        )
    )
    two = (
        f"<Contact><UUID>{uuids[0]}</UUID><Position>Director</Position><IsPrimary>Yes</IsPrimary></Contact>"
        f"<Contact><UUID>{uuids[1]}</UUID></Contact>"
    )
    root = _ok(
        api.post(
            f"client.api/client/{client_uuid}/contacts",
            content=f"<Client><Contacts>{two}</Contacts></Client>".encode(),
        )
    )
    linked = root.findall("Client/Contacts/Contact")
    assert [(c.findtext("UUID"), c.findtext("Position"), c.findtext("IsPrimary")) for c in linked] == [
        (uuids[0], "Director", "Yes"),
        (uuids[1], "", "No"),
    ]


def test_contacts_paged_list_to_the_last_page(api, xpm_sim):
    xpm_sim.seed({"clients": [{"Name": "F", "Contacts": [{"Name": f"P{n}"} for n in range(5)]}]})
    names, url = [], "client.api/contacts?pageSize=2"
    while url:
        root = _ok(api.get(url))
        names += [c.findtext("Name") for c in root.findall("Contacts/Contact")]
        url = root.findtext("Pagination/Links/Next")
    assert names == [f"P{n}" for n in range(5)]


@pytest.fixture
def jobs(xpm_sim, client_uuid):
    tasks = [
        {"Name": "Collect statements", "Completed": True, "DueDate": "2025-07-31"},
        {"Name": "Lodge return", "Completed": False, "DueDate": "20251031"},
    ]
    audit = {"client_export_code": "C-1", "Name": "2025 SMSF audit", "State": "In Progress"}
    audit.update(DueDate="20250930", Manager="Pat Manager", Tasks=tasks)
    old = {"client_uuid": client_uuid, "ID": "J000309", "Name": "Old audit", "State": "Completed"}
    return xpm_sim.seed({"jobs": [audit, old]})["jobs"]


def test_current_jobs_skip_finished_ones(api, jobs):
    root = _ok(api.get("job.api/current"))
    assert root.get("api-method") == "Current"
    listed = root.findall("Jobs/Job")
    assert [job.findtext("ID") for job in listed] == [jobs[0]["id"]]
    assert listed[0].findtext("DueDate") == "2025-09-30T00:00:00"
    assert listed[0].findtext("Client/Name") == "Smith Super Fund"
    assert listed[0].findtext("Manager/Name") == "Pat Manager"
    assert listed[0].find("Tasks") is None
    assert _ok(api.get("job.api/current", params={"detailed": "true"})).find("Jobs/Job/Tasks") is not None


def test_jobs_of_a_client_and_one_job_with_tasks(api, jobs, client_uuid):
    of_client = _ok(api.get(f"job.api/client/{client_uuid}")).findall("Jobs/Job")
    assert sorted(job.findtext("ID") for job in of_client) == sorted([jobs[0]["id"], "J000309"])
    job = _ok(api.get(f"job.api/get/{jobs[0]['id']}")).find("Job")
    tasks = job.findall("Tasks/Task")
    assert [(t.findtext("Name"), t.findtext("Completed")) for t in tasks] == [
        ("Collect statements", "true"),
        ("Lodge return", "false"),
    ]
    assert job.find("Milestones") is not None
    assert job.find("Notes") is not None
    assert _error(api.get("job.api/get/J999999")) == "Invalid job identifier"


def test_job_tasks_filters(api, jobs):
    open_tasks = _ok(api.get("job.api/tasks", params={"complete": "false"})).findall("Jobs/Job/Tasks/Task")
    assert [t.findtext("Name") for t in open_tasks] == ["Lodge return"]
    due_soon = _ok(api.get("job.api/tasks", params={"due": "20250815"})).findall("Jobs/Job/Tasks/Task")
    assert [t.findtext("Name") for t in due_soon] == ["Collect statements"]
    assert "yyyyMMdd" in _error(api.get("job.api/tasks", params={"due": "2025-08-15"}))


def test_job_endpoints_need_a_job_scope(xpm_sim, jobs):
    tokens = xpm_sim.authorize(scope="offline_access practicemanager.client")
    with xpm_sim.api_client(tokens["access_token"]) as api:
        answer = api.get("job.api/current")
    assert answer.status_code == 401
    assert answer.json()["Detail"] == "AuthorizationUnsuccessful"


def test_read_scope_allows_get_but_not_writes(xpm_sim):
    tokens = xpm_sim.authorize(scope="offline_access practicemanager.client.read")
    with xpm_sim.api_client(tokens["access_token"]) as api:
        assert api.get("client.api/list").status_code == 200
        refused = api.post("client.api/add", content=b"<Client><Name>A</Name></Client>")
    assert (refused.status_code, refused.json()["Detail"]) == (401, "AuthorizationUnsuccessful")
