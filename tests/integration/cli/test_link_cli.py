"""``classxpm link`` refusals on SQLite and PostgreSQL state databases: each names what was wrong, exits
with status 2 and writes nothing."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from classxpm.cli import main
from classxpm.sync.tables import fund_choices, fund_links, remote_clients
from classxpm.xpm.auth import utcnow

BUSINESS = "b-practice"
TENANT = "tenant-of-b"
OTHER_TENANT = "tenant-of-another"
WEB = "https://practicemanager.xero.com/Client/{}/Detail"


@pytest.fixture
def linked(state):
    """Fund REVIEW needs review (unlinked), fund TAKEN is linked to client-taken; clients in two accounts."""
    now = utcnow()
    with state.begin() as conn:
        conn.execute(
            sa.insert(fund_links),
            [
                _fund("f-review", "REVIEW", None, "needs_review"),
                _fund("f-taken", "TAKEN", "client-taken", "synced"),
            ],
        )
        conn.execute(
            sa.insert(remote_clients),
            [
                _client(TENANT, "client-free", "Review Super Fund", "", now),
                _client(TENANT, "client-taken", "Taken Super Fund", "TAKEN", now),
                _client(OTHER_TENANT, "client-elsewhere", "Review Super Fund", "REVIEW", now),
            ],
        )
    return state


def _fund(fund_id: str, code: str, client_uuid: str | None, status: str) -> dict:
    name = f"{code.title()} Super Fund"
    return {
        "business_id": BUSINESS,
        "fund_id": fund_id,
        "tenant_id": TENANT,
        "scope_code": code,
        "fund_name": name,
        "client_uuid": client_uuid,
        "last_status": status,
    }


def _client(tenant: str, uuid: str, name: str, code: str, now) -> dict:
    fields = {
        "Name": name,
        "ExportCode": code,
        "IsArchived": "No",
        "IsDeleted": "No",
        "WebUrl": WEB.format(uuid),
    }
    return {
        "tenant_id": tenant,
        "client_uuid": uuid,
        "export_code": code or None,
        "name": name,
        "fields": fields,
        "contacts": [],
        "read_at": now,
    }


def _link(state, *args: str):
    db_url = state.url.render_as_string(hide_password=False)
    return CliRunner().invoke(main, ["link", "--state-db", db_url, *args])


def _written(state) -> list:
    with state.connect() as conn:
        links = conn.execute(sa.select(fund_links).order_by(fund_links.c.fund_id)).all()
        return [*links, *conn.execute(sa.select(fund_choices)).all()]


REFUSALS = [
    (["--business", "b-unknown", "--fund", "REVIEW"], "no run has synced business b-unknown"),
    (["--business", BUSINESS, "--fund", "NOPE01"], f"no fund 'NOPE01' of business {BUSINESS}"),
    (
        ["--business", BUSINESS, "--fund", "REVIEW", "--client", "client-unknown"],
        "has read no client client-unknown in the fund's XPM account",
    ),
    (
        ["--business", BUSINESS, "--fund", "REVIEW", "--client", "client-elsewhere"],
        f"client client-elsewhere is in another XPM account ({OTHER_TENANT}), not in business {BUSINESS}'s "
        f"({TENANT})",
    ),
    (
        ["--business", BUSINESS, "--fund", "REVIEW", "--client", "client-free", "--create"],
        "choose one of --client, --create and --unlink",
    ),
    (["--business", BUSINESS, "--fund", "REVIEW", "--create", "--unlink"], "choose one of --client"),
    (
        ["--business", BUSINESS, "--fund", "REVIEW", "--client", "client-taken"],
        "client client-taken is linked to fund TAKEN: unlink that fund first",
    ),
    (["--business", BUSINESS, "--fund", "TAKEN", "--create"], "fund TAKEN is linked to client client-taken"),
]


@pytest.mark.parametrize(("args", "message"), REFUSALS)
def test_a_refused_choice_names_what_was_wrong_exits_2_and_writes_nothing(linked, args, message):
    before = _written(linked)

    result = _link(linked, *args)

    assert result.exit_code == 2, result.output
    assert message in result.output
    assert _written(linked) == before


def test_the_listing_shows_the_candidates_of_the_funds_own_account_only(linked):
    result = _link(linked, "--business", BUSINESS, "--fund", "review")

    assert result.exit_code == 0, result.output
    assert "client-free  Review Super Fund  -  -  live  " + WEB.format("client-free") in result.output
    assert "client-elsewhere" not in result.output
