"""client.api over loopback HTTP: shapes of §5.2 and §5.4, TFN masking and rejection, paging, tolerant XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

VALID_TFN = "123456782"


def _xml(response) -> ET.Element:
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    return ET.fromstring(response.content)


def _ok(response) -> ET.Element:
    root = _xml(response)
    assert response.status_code == 200
    assert root.tag == "Response"
    assert root[0].tag == "Status"
    assert root.findtext("Status") == "OK", root.findtext("ErrorDescription")
    return root


def _error(response, status: int = 200) -> str:
    root = _xml(response)
    assert response.status_code == status
    assert root.findtext("Status") == "ERROR"
    return root.findtext("ErrorDescription")


@pytest.fixture
def api(xpm_sim):
    with xpm_sim.api_client() as client:
        yield client


def _add(api, body: str):
    return api.post("client.api/add", content=body.encode())


def test_add_returns_the_full_client_with_masked_tfn_and_inline_contacts(api):
    body = (
        "<Client><Name>Smith Family Super Fund</Name><ExportCode>CLASS-1</ExportCode>"
        "<WebSite>w.example</WebSite>"
        "<TaxNumber>123 456 782</TaxNumber><BusinessNumber>51 824 753 556</BusinessNumber>"
        "<Contacts><Contact><Name>Jane</Name><IsPrimary>Yes</IsPrimary><Position>Trustee</Position></Contact>"
        "<Contact><Name>John</Name><IsPrimary>Yes</IsPrimary></Contact></Contacts></Client>"
    )
    root = _ok(_add(api, body))
    assert root.get("api-method") == "Add"
    client = root.find("Client")
    assert client[0].tag == "UUID"
    assert client.findtext("TaxNumber") == "******782"
    assert client.findtext("Website") == "w.example"
    assert client.findtext("IsArchived") == "No"
    contacts = client.findall("Contacts/Contact")
    assert [(c.findtext("Name"), c.findtext("IsPrimary")) for c in contacts] == [
        ("Jane", "No"),
        ("John", "Yes"),
    ]
    assert contacts[0].findtext("Position") == "Trustee"


def test_tfn_is_masked_on_every_read(api, xpm_sim):
    uuid = _ok(_add(api, f"<Client><Name>A</Name><TaxNumber>{VALID_TFN}</TaxNumber></Client>")).findtext(
        "Client/UUID"
    )
    reads = [
        api.get(f"client.api/get/{uuid}"),
        api.get("client.api/list", params={"detailed": "true"}),
        api.get("client.api/paged-list", params={"detailed": "true"}),
        api.get("client.api/search", params={"query": "A", "detailed": "true"}),
    ]
    for read in reads:
        assert VALID_TFN not in read.text
        assert "******782" in read.text
    assert xpm_sim.state()["clients"][0]["TaxNumber"] == VALID_TFN


def test_duplicate_tfn_is_a_200_error(api):
    _ok(_add(api, f"<Client><Name>A</Name><TaxNumber>{VALID_TFN}</TaxNumber></Client>"))
    description = _error(_add(api, f"<Client><Name>B</Name><TaxNumber>{VALID_TFN}</TaxNumber></Client>"))
    assert "already" in description
    assert VALID_TFN not in description


def test_check_digit_invalid_tfn_is_rejected_only_with_the_flag(api, xpm_sim):
    assert "not valid" in _error(_add(api, "<Client><Name>A</Name><TaxNumber>123456789</TaxNumber></Client>"))
    xpm_sim.patch_config(tfn_check_digit=False)
    _ok(_add(api, "<Client><Name>A</Name><TaxNumber>123456789</TaxNumber></Client>"))
    assert "not valid" in _error(_add(api, "<Client><Name>B</Name><TaxNumber>12345</TaxNumber></Client>"))


def test_abn_check_is_behind_a_flag(api, xpm_sim):
    _ok(_add(api, "<Client><Name>A</Name><BusinessNumber>12345678901</BusinessNumber></Client>"))
    xpm_sim.patch_config(abn_check=True)
    assert "business number" in _error(
        _add(api, "<Client><Name>B</Name><BusinessNumber>12345678901</BusinessNumber></Client>")
    )
    _ok(_add(api, "<Client><Name>C</Name><BusinessNumber>51 824 753 556</BusinessNumber></Client>"))


def test_missing_name_and_malformed_xml_are_200_errors(api):
    assert _error(_add(api, "<Client><Email>a@b.c</Email></Client>")) == "Client Name is required"
    assert "well-formed" in _error(_add(api, "<Client><Name>A</Client>"))
    assert "<Client>" in _error(_add(api, "<Contact><Name>A</Name></Contact>"))
    assert _error(_add(api, '<!DOCTYPE x [<!ENTITY a "b">]><Client><Name>&a;</Name></Client>'))


def test_parsing_tolerates_order_declaration_empty_tags_and_unknown_elements(api):
    body = (
        '<?xml version="1.0" encoding="utf-8"?>\n<Client>\n  <Fax/>\n  <Phone></Phone>\n'
        "  <Unknown>x</Unknown>\n"
        "  <Email> a@b.c </Email>\n  <Name>Late Name</Name>\n</Client>"
    )
    client = _ok(
        api.post(
            "client.api/add",
            content=body.encode(),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    ).find("Client")
    assert (client.findtext("Name"), client.findtext("Email"), client.findtext("Fax")) == (
        "Late Name",
        "a@b.c",
        "",
    )


def test_get_has_weburl_in_the_client_and_unknown_uuid_is_error_200_or_404_by_flag(api, xpm_sim):
    uuid = _ok(_add(api, "<Client><Name>A</Name></Client>")).findtext("Client/UUID")
    root = _ok(api.get(f"client.api/get/{uuid}"))
    assert root.get("api-method") == "Get"
    assert [child.tag for child in root] == ["Status", "Client"]
    assert root.findtext("Client/WebUrl").endswith(f"/Client/{uuid}/Detail")
    assert _error(api.get("client.api/get/00000000-0000-0000-0000-000000000000")) == "Client not found"
    xpm_sim.patch_config(unknown_uuid_status=404)
    assert (
        _error(api.get("client.api/get/00000000-0000-0000-0000-000000000000"), status=404)
        == "Client not found"
    )


def test_update_archive_delete(api, xpm_sim):
    uuid = _ok(_add(api, "<Client><Name>A</Name></Client>")).findtext("Client/UUID")
    updated = _ok(
        api.put(
            "client.api/update", content=f"<Client><Email>e@x.y</Email><UUID>{uuid}</UUID></Client>".encode()
        )
    )
    assert (updated.get("api-method"), updated.findtext("Client/Name"), updated.findtext("Client/Email")) == (
        "Update",
        "A",
        "e@x.y",
    )
    archived = _ok(api.put("client.api/archive", content=f"<Client><UUID>{uuid}</UUID></Client>".encode()))
    assert archived.findtext("Client/IsArchived") == "Yes"
    assert _ok(api.get("client.api/paged-list")).findall("Clients/Client") == []
    deleted = _ok(api.post("client.api/delete", content=f"<Client><UUID>{uuid}</UUID></Client>".encode()))
    assert [child.tag for child in deleted] == ["Status"]
    listed = _ok(api.get("client.api/list")).findall("Clients/Client")
    assert [c.findtext("IsDeleted") for c in listed] == ["Yes"]
    assert _error(
        api.put("client.api/update", content=f"<Client><UUID>{uuid}</UUID><Name>B</Name></Client>".encode())
    )


def test_hard_delete_removes_the_client(api, xpm_sim):
    xpm_sim.patch_config(client_delete_mode="hard")
    uuid = _ok(_add(api, "<Client><Name>A</Name></Client>")).findtext("Client/UUID")
    _ok(api.post("client.api/delete", content=f"<Client><UUID>{uuid}</UUID></Client>".encode()))
    assert _ok(api.get("client.api/list")).findall("Clients/Client") == []


def test_update_may_ignore_export_code_by_flag(api, xpm_sim):
    uuid = _ok(_add(api, "<Client><Name>A</Name><ExportCode>OLD</ExportCode></Client>")).findtext(
        "Client/UUID"
    )
    xpm_sim.patch_config(update_accepts_export_code=False)
    root = _ok(
        api.put(
            "client.api/update",
            content=f"<Client><UUID>{uuid}</UUID><ExportCode>NEW</ExportCode></Client>".encode(),
        )
    )
    assert root.findtext("Client/ExportCode") == "OLD"


def test_paged_list_walks_to_the_last_page(api, xpm_sim):
    xpm_sim.seed({"clients": [{"Name": f"Fund {n:02d}"} for n in range(7)]})
    names, url, pages = [], "client.api/paged-list?pageSize=3", 0
    while url:
        root = _ok(api.get(url))
        pages += 1
        names += [c.findtext("Name") for c in root.findall("Clients/Client")]
        assert root.findtext("Pagination/Links/First").endswith("client.api/paged-list?pageSize=3")
        url = root.findtext("Pagination/Links/Next")
    assert pages == 3
    assert names == [f"Fund {n:02d}" for n in range(7)]


def test_paged_list_defaults_and_bounds(api, xpm_sim):
    xpm_sim.seed({"clients": [{"Name": f"Fund {n}"} for n in range(51)]})
    first = _ok(api.get("client.api/paged-list"))
    assert len(first.findall("Clients/Client")) == 50
    assert first.find("Pagination/Links/Next") is not None
    assert "pageSize" in _error(api.get("client.api/paged-list", params={"pageSize": 501}))
    assert "pageToken" in _error(api.get("client.api/paged-list", params={"pageToken": "garbage!"}))


def test_list_modifiedsince_in_either_spelling_and_detailed(api, xpm_sim):
    _ok(_add(api, "<Client><Name>Old</Name></Client>"))
    xpm_sim.advance_clock(600)
    now = xpm_sim.state()["now"][:19]
    _ok(_add(api, "<Client><Name>New</Name><TaxNumber>123456782</TaxNumber></Client>"))
    for spelling in ("modifiedsince", "modifiedSince"):
        recent = _ok(api.get("client.api/list", params={spelling: now}))
        assert [c.findtext("Name") for c in recent.findall("Clients/Client")] == ["New"]
    summary = _ok(api.get("client.api/list")).findall("Clients/Client")[1]
    assert summary.findtext("TaxNumber") == "******782", "list carries the masked TFN without detailed"
    assert summary.find("Contacts") is not None
    assert summary.find("Groups") is None
    detailed = _ok(api.get("client.api/list", params={"detailed": "true"})).find("Clients/Client")
    assert [detailed.find(name) is not None for name in ("Notes", "Groups", "Relationships")] == [True] * 3


def test_search_matches_name_by_default(api, xpm_sim):
    xpm_sim.seed({"clients": [{"Name": "Smith Super Fund", "ExportCode": "C-9"}, {"Name": "Jones Fund"}]})
    root = _ok(api.get("client.api/search", params={"query": "smith"}))
    assert root.get("api-method") == "Search"
    assert [c.findtext("Name") for c in root.findall("Clients/Client")] == ["Smith Super Fund"]
    assert _ok(api.get("client.api/search", params={"query": "C-9"})).findall("Clients/Client") == []
    xpm_sim.patch_config(search_fields=["Name", "ExportCode"])
    assert len(_ok(api.get("client.api/search", params={"query": "C-9"})).findall("Clients/Client")) == 1


def test_clients_are_per_tenant(xpm_sim):
    ids = xpm_sim.seed(
        {
            "tenants": [{"name": "Second"}],
            "users": [{"email": "demo@practice.example", "tenants": ["Second"]}],
            "clients": [{"tenant": "Second", "Name": "Theirs"}],
        }
    )
    xpm_sim.authorize()
    tokens = xpm_sim.authorize(tenant="Second")
    with (
        xpm_sim.api_client(tokens["access_token"]) as mine,
        xpm_sim.api_client(tokens["access_token"], ids["tenants"][0]["id"]) as theirs,
    ):
        assert _ok(mine.get("client.api/list")).findall("Clients/Client") == []
        assert [c.findtext("Name") for c in _ok(theirs.get("client.api/list")).findall("Clients/Client")] == [
            "Theirs"
        ]


def test_date_of_birth_form_is_configurable(api, xpm_sim):
    uuid = _ok(_add(api, "<Client><Name>A</Name><DateOfBirth>19701126</DateOfBirth></Client>")).findtext(
        "Client/UUID"
    )
    assert _ok(api.get(f"client.api/get/{uuid}")).findtext("Client/DateOfBirth") == "1970-11-26T00:00:00"
    xpm_sim.patch_config(date_of_birth_form="date")
    assert _ok(api.get(f"client.api/get/{uuid}")).findtext("Client/DateOfBirth") == "1970-11-26"


def test_list_can_be_detailed_by_default(api, xpm_sim):
    _ok(_add(api, "<Client><Name>A</Name></Client>"))
    xpm_sim.patch_config(list_detailed_by_default=True)
    assert _ok(api.get("client.api/list")).find("Clients/Client/Groups") is not None


def test_business_structure_is_checked_against_the_configured_list(api, xpm_sim):
    smsf = "Self Managed Superannuation Fund"
    _ok(_add(api, f"<Client><Name>A</Name><BusinessStructure>{smsf}</BusinessStructure></Client>"))
    assert "business structure" in _error(
        _add(api, "<Client><Name>B</Name><BusinessStructure>Superannuation Fund</BusinessStructure></Client>")
    )
    xpm_sim.patch_config(business_structures=["SMSF"])
    _ok(_add(api, "<Client><Name>C</Name><BusinessStructure>SMSF</BusinessStructure></Client>"))
    xpm_sim.patch_config(business_structures=[])
    _ok(_add(api, "<Client><Name>D</Name><BusinessStructure>Anything</BusinessStructure></Client>"))
