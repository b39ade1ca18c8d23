from __future__ import annotations

import pytest

from classxpm.xpm import xml
from classxpm.xpm.errors import ResponseFormatError


def test_build_escapes_markup_and_quotes_exactly():
    body = xml.build("Client", {"Name": "Smith & Sons <Super> \"Fund\" 'A'"})
    assert body.endswith(
        b"<Client><Name>Smith &amp; Sons &lt;Super&gt; &quot;Fund&quot; &apos;A&apos;</Name></Client>"
    )


def test_build_keeps_non_ascii_as_utf8_and_round_trips():
    name = "Ōtautahi Café Fund — Zoë"
    body = xml.build("Client", {"Name": name})
    assert body.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    assert xml.text(xml.parse(body), "Name") == name


def test_build_nests_repeats_and_omits_none():
    body = xml.build(
        "Client",
        {"Name": "F", "Fax": "", "Email": None, "Contacts": {"Contact": [{"Name": "A"}, {"Name": "B"}]}},
    )
    assert b"<Fax></Fax>" in body
    assert b"Email" not in body
    assert b"<Contacts><Contact><Name>A</Name></Contact><Contact><Name>B</Name></Contact></Contacts>" in body


@pytest.mark.parametrize("bad", ["bell\x07", "nul\x00"])
def test_build_refuses_control_characters(bad):
    with pytest.raises(ValueError, match="control character"):
        xml.build("Client", {"Name": bad})


def test_build_refuses_bad_element_names():
    with pytest.raises(ValueError, match="element name"):
        xml.build("Client", {"Bad Name": "x"})


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<Response><Status>&lol2;</Status></Response>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><Response><Status>&xxe;</Status></Response>"""


@pytest.mark.parametrize("payload", [BILLION_LAUGHS, EXTERNAL_ENTITY])
def test_entity_bomb_and_external_entity_are_refused(payload):
    with pytest.raises(ResponseFormatError, match="refused"):
        xml.parse(payload)


def test_malformed_xml_is_a_format_error():
    with pytest.raises(ResponseFormatError, match="malformed"):
        xml.parse(b"<Response><Status>OK</Response>")


def test_envelope_without_status_is_a_format_error():
    with pytest.raises(ResponseFormatError):
        xml.parse_envelope(b"<Clients/>")


CLIENT = b"""<Response api-method="Get">
<Status>OK</Status>
<Client><WebUrl>https://practicemanager.xero.com/Client/1/Detail</WebUrl>
<Name>Smith Family Super Fund</Name><Fax /><Email></Email><SignedTaxAuthority>Yes</SignedTaxAuthority>
<TaxNumber>******782</TaxNumber><IsArchived>No</IsArchived><ExportCode>CLASS-1</ExportCode>
<Contacts><Contact><IsPrimary>Yes</IsPrimary><Name>Jane</Name><UUID>c-1</UUID><Position>Trustee</Position>
</Contact></Contacts><UUID>0183f65c</UUID></Client></Response>"""


def test_client_parsing_tolerates_order_self_closing_and_unknown_elements():
    envelope = xml.parse_envelope(CLIENT)
    client = xml.client_from(envelope.root.find("Client"))
    assert envelope.ok
    assert client.uuid == "0183f65c"
    assert client.name == "Smith Family Super Fund"
    assert client.fields["Fax"] == ""
    assert xml.text(envelope.root.find("Client"), "Email") is None
    assert client.is_archived is False
    assert client.export_code == "CLASS-1"
    assert client.tax_number_masked == "******782"
    assert client.web_url.endswith("/Detail"), "3.1 carries WebUrl inside the client record"
    assert client.has_contacts is True
    assert client.contacts == (xml.Contact(uuid="c-1", name="Jane", position="Trustee", is_primary=True),)


def test_job_with_tasks():
    root = xml.parse(
        b"<Job><ID>J000309</ID><UUID>j-1</UUID><Name>Audit</Name><State>In Progress</State>"
        b"<Client><UUID>c</UUID><Name>Fund</Name></Client><Tasks><Task><UUID>t</UUID><Name>Review</Name>"
        b"<Completed>false</Completed></Task></Tasks></Job>"
    )
    job = xml.job_from(root)
    assert (job.id, job.client_uuid, job.state) == ("J000309", "c", "In Progress")
    assert job.tasks == (xml.Task(uuid="t", name="Review", completed=False),)


def test_paging_next_link_and_last_page():
    page = xml.client_page_from(
        xml.parse(
            b"<Response><Status>OK</Status><Clients><Client><UUID>a</UUID><Name>A</Name></Client></Clients>"
            b"<Pagination><Links><First>f</First><Next>https://x/paged-list?pageToken=abc&amp;pageSize=2"
            b"</Next></Links></Pagination></Response>"
        )
    )
    assert [client.uuid for client in page.clients] == ["a"]
    assert page.next_url == "https://x/paged-list?pageToken=abc&pageSize=2"
    assert page.clients[0].has_contacts is False, "a base record's empty contacts mean not read"
    last = xml.client_page_from(xml.parse(b"<Response><Status>OK</Status><Clients/></Response>"))
    assert last == xml.ClientPage((), None)


def test_a_tfn_is_revealed_in_the_request_body_and_nowhere_before():
    from classxpm.identifiers import Tfn

    body = xml.build("Client", {"Name": "Fund", "TaxNumber": Tfn("123456782")})
    assert b"<TaxNumber>123456782</TaxNumber>" in body
