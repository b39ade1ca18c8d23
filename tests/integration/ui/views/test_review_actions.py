"""The fund page's answers to needs review (link to a candidate, create a new client, unlink), on SQLite and
PostgreSQL: each asks first, then does what ``classxpm link`` does and keeps the choice for later runs."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from classxpm.sync import choices
from classxpm.sync.tables import contact_links, fund_choices, fund_links
from fixtures.remote_clients import add_xpm_client

BUSINESS = "biz-1"
TENANT = "tenant-1"
FUND = "f-twin"


@pytest.fixture
def review(ui_services):
    """A fund two XPM clients match (one live, one archived) and a member's stale contact link."""
    with ui_services.state.begin() as conn:
        conn.execute(
            sa.insert(fund_links).values(
                business_id=BUSINESS,
                fund_id=FUND,
                tenant_id=TENANT,
                scope_code="TWIN01",
                fund_name="Twin Peaks Super Fund",
                last_status="needs_review",
                last_error="2 XPM clients hold the fund's name",
            )
        )
        conn.execute(
            sa.insert(contact_links).values(
                business_id=BUSINESS, fund_id=FUND, member_id="m-1", contact_uuid="k-1"
            )
        )
    for uuid, name, archived in [("c-live", "Twin Peaks Super Fund", "No"), ("c-old", "Twin Peaks", "Yes")]:
        add_xpm_client(ui_services.state, uuid, TENANT, Name=name, ExportCode="TWIN01", IsArchived=archived)
    return ui_services.state


def _answer(client, choice: str, confirmed: bool, uuid: str = ""):
    form = {"business": BUSINESS, "choice": choice, "client": uuid} | (
        {"confirmed": "yes"} if confirmed else {}
    )
    return client.post(f"/funds/{FUND}/answer", params={"business": BUSINESS}, data=form)


def _link(state) -> tuple:
    with state.connect() as conn:
        link = conn.execute(
            sa.select(fund_links.c.client_uuid, fund_links.c.last_status).where(fund_links.c.fund_id == FUND)
        ).one()
        choice = conn.execute(sa.select(fund_choices.c.choice, fund_choices.c.client_uuid)).all()
        contacts = conn.execute(sa.select(sa.func.count()).select_from(contact_links)).scalar()
    return tuple(link), [tuple(row) for row in choice], contacts


def test_linking_to_a_candidate_asks_what_it_does_then_links_and_keeps_the_choice(admin_client, review):
    page = admin_client.get(f"/funds/{FUND}", params={"business": BUSINESS})
    assert page.text.count("Link to this client") == 1, "only the live candidate may be chosen"

    asked = _answer(admin_client, "link", confirmed=False, uuid="c-live")

    assert asked.status_code == 200
    assert 'id="answer-confirmation"' in asked.text
    assert "to the XPM client <strong>Twin Peaks Super Fund</strong> (ExportCode TWIN01)?" in asked.text
    assert "No client is created" in asked.text
    assert _link(review) == ((None, "needs_review"), [], 1), "nothing is done before the confirmation"

    done = _answer(admin_client, "link", confirmed=True, uuid="c-live")

    assert "Fund TWIN01 is linked to client c-live; the next run updates it." in done.text
    assert _link(review) == (("c-live", choices.CHOSEN), [("link", "c-live")], 0)


def test_create_is_kept_for_the_next_run_a_later_link_replaces_it_and_unlink_forgets_all(
    admin_client, review
):
    asked = _answer(admin_client, "create", confirmed=False)
    assert "Create a new XPM client for fund <strong>Twin Peaks Super Fund (TWIN01)</strong>?" in asked.text

    done = _answer(admin_client, "create", confirmed=True)

    assert "The next run creates a new XPM client for fund TWIN01." in done.text
    assert choices.to_create(review, BUSINESS, TENANT) == {FUND}, "the run's planner reads it"

    linked = _answer(admin_client, "link", confirmed=True, uuid="c-live")
    assert 'id="unlink-fund"' in linked.text, "a linked fund offers Unlink"
    asked = _answer(admin_client, "unlink", confirmed=False)
    assert "nothing in XPM is changed or deleted" in asked.text
    done = _answer(admin_client, "unlink", confirmed=True)

    assert "Fund TWIN01 is unlinked; the next run matches it afresh." in done.text
    assert _link(review) == ((None, None), [], 0)
    assert choices.to_create(review, BUSINESS, TENANT) == set()


def test_an_archived_candidate_is_refused_with_what_to_do_and_nothing_changes(admin_client, review):
    page = _answer(admin_client, "link", confirmed=True, uuid="c-old")

    assert "Nothing was changed: client c-old is archived in XPM: restore it there first." in page.text
    assert _link(review) == ((None, "needs_review"), [], 1)


def test_a_viewer_sees_no_buttons_and_is_refused_when_posting(viewer_client, review):
    page = viewer_client.get(f"/funds/{FUND}", params={"business": BUSINESS})
    assert 'id="candidates"' in page.text
    assert "Link to this client" not in page.text
    assert 'id="create-client"' not in page.text

    refused = _answer(viewer_client, "link", confirmed=True, uuid="c-live")

    assert refused.status_code == 403
    assert "Your Airflow role does not allow you to link, unlink or create XPM clients" in refused.text
    assert _link(review) == ((None, "needs_review"), [], 1)


def test_reloading_an_answer_shows_the_fund_and_does_nothing_again(admin_client, review):
    _answer(admin_client, "create", confirmed=True)

    again = admin_client.get(f"/funds/{FUND}/answer", params={"business": BUSINESS}, follow_redirects=False)

    assert again.status_code == 303
    assert again.headers["location"].endswith(f"/classxpm/funds/{FUND}?business={BUSINESS}")
