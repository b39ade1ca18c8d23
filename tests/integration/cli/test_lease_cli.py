"""``classxpm lease status|release`` on SQLite and PostgreSQL state databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner

from classxpm.cli import main
from classxpm.state.crypto import load_cipher
from classxpm.state.tokens import TokenStore
from classxpm.sync.lease import TenantLease, lease_state
from classxpm.xpm.auth import TokenSet, utcnow

BUSINESS = "b-practice"
TENANT = "tenant-of-b"
HOLDER = "class_xpm_sync/manual__1/b-practice"


@pytest.fixture
def grant(state, fernet_key):
    tokens = TokenSet("access", "refresh", utcnow() + timedelta(minutes=30), tenant_id=TENANT)
    TokenStore(state, load_cipher()).save(BUSINESS, tokens, "Demo Practice", "connection-1")


def lease(state, *args: str, answer: str | None = None):
    db_url = state.url.render_as_string(hide_password=False)
    command = ["lease", *args, "--business", BUSINESS, "--state-db", db_url]
    return CliRunner().invoke(main, command, input=answer)


def held_by(state, holder: str = HOLDER, ago: timedelta = timedelta(0)) -> None:
    TenantLease(state, TENANT, holder, timedelta(seconds=60), clock=lambda: utcnow() - ago).acquire()


def test_status_says_nobody_holds_a_free_tenant(state, grant):
    result = lease(state, "status")
    assert result.exit_code == 0, result.output
    assert f"Tenant {TENANT} of business {BUSINESS}: no run holds the lease" in result.output


def test_status_shows_holder_since_expiry_and_that_the_holder_is_alive(state, grant):
    held_by(state)
    result = lease(state, "status")
    assert result.exit_code == 0, result.output
    assert f"lease held by {HOLDER}" in result.output
    assert "since    20" in result.output
    assert "expires  20" in result.output
    assert "alive    yes" in result.output


def test_status_shows_a_dead_holders_lease_as_lapsed(state, grant):
    held_by(state, ago=timedelta(minutes=5))
    result = lease(state, "status")
    assert "alive    no: it lapsed" in result.output
    assert "s ago)" in result.output


def test_release_says_what_it_does_and_asks_first(state, grant):
    held_by(state)
    refused = lease(state, "release", answer="n\n")
    assert refused.exit_code == 1
    assert "Releasing deletes this lease" in refused.output
    assert "Release the lease? [y/N]" in refused.output
    assert lease_state(state, TENANT).holder == HOLDER, "nothing released without a yes"
    released = lease(state, "release", answer="y\n")
    assert released.exit_code == 0, released.output
    assert f"Released the lease of {HOLDER}" in released.output
    assert lease_state(state, TENANT) is None


def test_release_with_yes_does_not_ask(state, grant):
    held_by(state, ago=timedelta(minutes=5))
    result = lease(state, "release", "--yes")
    assert result.exit_code == 0, result.output
    assert "[y/N]" not in result.output
    assert lease_state(state, TENANT) is None
    assert "no run holds the lease" in lease(state, "release", "--yes").output


def test_a_business_without_a_grant_needs_the_tenant_named(state):
    result = lease(state, "status")
    assert result.exit_code == 1
    assert "has no grant: name the tenant with --tenant" in result.output
