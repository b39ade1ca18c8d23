"""XPM errors in both forms (reference §12): 200 + ``<Status>ERROR</Status>``, or 400/404/409 with the body.

``error_form`` chooses which; the body is the same ``<Response>`` with an ``ErrorDescription`` either way.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

UNKNOWN = "00000000-0000-0000-0000-000000000000"


@pytest.fixture(params=["envelope", "status"])
def form(request, xpm_sim) -> str:
    xpm_sim.patch_config(error_form=request.param)
    return request.param


@pytest.fixture
def api(xpm_sim, form):
    with xpm_sim.api_client() as client:
        yield client


def _refused(response, status: int, form: str) -> str:
    """The ErrorDescription, after checking the status is ``status`` (or 200 in the envelope form)."""
    assert response.status_code == (status if form == "status" else 200)
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    root = ET.fromstring(response.content)
    assert root.findtext("Status") == "ERROR"
    return root.findtext("ErrorDescription")


def _seed(xpm_sim) -> dict:
    return xpm_sim.seed(
        {
            "clients": [
                {"Name": "Live Fund", "Contacts": [{"Name": "Jane"}]},
                {"Name": "Archived Fund", "IsArchived": "Yes"},
            ]
        }
    )["clients"]


def test_validation_errors_are_400s(api, form):
    assert _refused(api.post("client.api/add", content="<Client/>"), 400, form) == "Client Name is required"
    assert "well-formed" in _refused(api.post("client.api/add", content="<Client>"), 400, form)
    structure = "<Client><Name>A</Name><BusinessStructure>Superannuation Fund</BusinessStructure></Client>"
    assert "business structure" in _refused(api.post("client.api/add", content=structure), 400, form)


def test_writes_to_an_archived_or_deleted_client_are_409s(api, form, xpm_sim):
    live, archived = _seed(xpm_sim)
    update = f"<Client><UUID>{archived['uuid']}</UUID><Name>B</Name></Client>"
    assert _refused(api.put("client.api/update", content=update), 409, form) == "The client is archived"
    again = f"<Client><UUID>{archived['uuid']}</UUID></Client>"
    assert _refused(api.put("client.api/archive", content=again), 409, form) == "The client is archived"
    contact = f"<Contact><Client><UUID>{archived['uuid']}</UUID></Client><Name>X</Name></Contact>"
    assert _refused(api.post("client.api/contact", content=contact), 409, form) == "The client is archived"
    gone = f"<Client><UUID>{live['uuid']}</UUID></Client>"
    assert api.post("client.api/delete", content=gone).status_code == 200
    assert _refused(api.post("client.api/delete", content=gone), 409, form) == "The client is deleted"


def test_unknown_records_are_404s(api, form):
    assert _refused(api.get(f"client.api/get/{UNKNOWN}"), 404, form) == "Client not found"
    assert _refused(api.get(f"client.api/contact/{UNKNOWN}"), 404, form) == "Contact not found"
    update = f"<Client><UUID>{UNKNOWN}</UUID><Name>B</Name></Client>"
    assert _refused(api.put("client.api/update", content=update), 404, form) == "Client not found"


def test_bad_paging_is_400_and_a_page_past_the_end_404(api, form, xpm_sim):
    _seed(xpm_sim)
    assert "pageSize" in _refused(api.get("client.api/paged-list", params={"pageSize": 0}), 400, form)
    assert "pageToken" in _refused(api.get("client.api/contacts", params={"pageToken": "x!"}), 400, form)
    first = ET.fromstring(api.get("client.api/contacts", params={"pageSize": 1}).content)
    assert first.find("Pagination/Links/Next") is None
    past_end = "eyJvIjogNX0"  # the token of offset 5, which this one-contact list never issued
    assert _refused(api.get("client.api/contacts", params={"pageToken": past_end}), 404, form)


def test_linking_contacts_refuses_bad_counts_unknown_and_deleted_contacts(api, form, xpm_sim):
    live, _ = _seed(xpm_sim)
    path = f"client.api/client/{live['uuid']}/contacts"

    def link(*uuids: str):
        items = "".join(f"<Contact><UUID>{u}</UUID></Contact>" for u in uuids)
        return api.post(path, content=f"<Client><Contacts>{items}</Contacts></Client>")

    assert "Between 1 and 10" in _refused(link(*[live["contacts"][0]] * 11), 400, form)
    assert _refused(link(UNKNOWN), 404, form) == "Contact not found"
    assert api.delete(f"client.api/contact/{live['contacts'][0]}").status_code == 200
    assert _refused(link(live["contacts"][0]), 409, form) == "The contact is deleted"
