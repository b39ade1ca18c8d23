from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from cryptography.fernet import Fernet

from classxpm.db import make_engine
from classxpm.state.crypto import TokenCipher
from classxpm.state.migrations import VERSION_TABLE, alembic_config, upgrade
from classxpm.state.tokens import StoredTokenSource, TokenStore
from classxpm.xpm.auth import TokenSet
from classxpm.xpm.errors import NotAuthorised, Reauthorise

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
ACCESS = "access-token-SECRET-aaaaaaaaaaaaaaaa"
REFRESH = "refresh-token-SECRET-bbbbbbbbbbbbbbb"


@pytest.fixture
def store(db_url):
    upgrade(db_url)
    engine = make_engine(db_url)
    yield TokenStore(engine, TokenCipher(Fernet.generate_key().decode()), clock=lambda: NOW)
    engine.dispose()


def tokens(tenant="tenant-1"):
    return TokenSet(ACCESS, REFRESH, NOW + timedelta(minutes=30), "offline_access", "event-1", tenant)


def test_upgrade_is_repeatable_and_uses_its_own_version_table(db_url):
    upgrade(db_url)
    upgrade(db_url)
    engine = make_engine(db_url)
    with engine.connect() as conn:
        head = ScriptDirectory.from_config(alembic_config(db_url)).get_current_head()
        assert conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar() == head
        assert "xpm_grants" in sa.inspect(conn).get_table_names()
    engine.dispose()


def test_save_then_get_round_trips(store):
    store.save("biz-1", tokens(), "Demo Practice", "conn-1")
    grant = store.require("biz-1")
    assert grant.tokens == tokens()
    assert (grant.tenant_name, grant.connection_id, grant.invalid_reason) == ("Demo Practice", "conn-1", None)
    assert grant.days_left(NOW) == 60
    assert grant.days_left(NOW + timedelta(days=55, hours=1)) == 4
    assert store.business_ids() == ["biz-1"]


def test_tokens_are_unreadable_in_the_raw_database(store, db_url):
    store.save("biz-1", tokens(), "Demo Practice", "conn-1")
    engine = make_engine(db_url)
    with engine.connect() as conn:
        raw = " ".join(str(value) for value in conn.execute(sa.text("SELECT * FROM xpm_grants")).one())
    engine.dispose()
    assert ACCESS not in raw
    assert REFRESH not in raw
    assert "SECRET" not in raw


def test_secrets_are_not_in_repr(store):
    store.save("biz-1", tokens(), "Demo Practice", "conn-1")
    assert "SECRET" not in repr(store.require("biz-1"))


def test_missing_grant_is_not_authorised(store):
    with pytest.raises(NotAuthorised, match=r"^Xero Integration not Authorised$"):
        store.require("nobody")


def test_discard_forgets_the_grant(store):
    store.save("biz-1", tokens(), "Demo Practice", "conn-1")
    store.discard("biz-1")
    assert store.get("biz-1") is None


def test_an_invalid_grant_needs_reauthorisation_until_saved_again(store, db_url):
    store.save("biz-1", tokens(), "Demo Practice", "conn-1")
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE xpm_grants SET invalid_reason = 'invalid_grant'"))
    engine.dispose()
    with pytest.raises(Reauthorise, match=r"^Sync failed\. Token expired\. Re-authorisation required\.$"):
        store.require("biz-1")
    assert store.require_any("biz-1").days_left(NOW) == 0
    store.save("biz-1", tokens(), "Demo Practice", "conn-1")
    assert store.require("biz-1").invalid_reason is None


class _Identity:
    """No refresh is due in these tests: the tokens expire 30 minutes after NOW."""

    refresh_margin = timedelta(minutes=5)

    def refresh(self, refresh_token, tenant_id=None):
        raise AssertionError("no refresh was due")


def test_a_token_source_reads_the_stored_grant_again_only_after_its_reread_interval(store):
    store.save("biz-1", tokens(), "Demo Practice", "conn-1")
    kept = StoredTokenSource(store, "biz-1", _Identity(), clock=lambda: NOW, reread_seconds=3600)
    every_call = StoredTokenSource(store, "biz-1", _Identity(), clock=lambda: NOW, reread_seconds=0)
    assert kept.access_token() == every_call.access_token() == ACCESS
    store.discard("biz-1")  # unlinked meanwhile: Xero rejects the token, and the 401 reads the store
    assert kept.access_token() == ACCESS, "a call to XPM costs no read of the state database"
    with pytest.raises(NotAuthorised):
        every_call.access_token()
    with pytest.raises(NotAuthorised):
        kept.refreshed_after_rejection(ACCESS)
