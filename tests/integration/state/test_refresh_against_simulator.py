from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from classxpm.db import make_engine
from classxpm.state.crypto import TokenCipher
from classxpm.state.linking import GrantsNeedAttention, refresh_grants, status_lines
from classxpm.state.migrations import upgrade
from classxpm.state.tokens import StoredTokenSource, TokenStore
from classxpm.xpm import errors
from classxpm.xpm.auth import utcnow
from fixtures.xpm_auth import headless_login, sim_session

BUSINESS = "biz-1"


@pytest.fixture
def store(db_url, fernet_key):
    upgrade(db_url)
    engine = make_engine(db_url)
    yield TokenStore(engine, TokenCipher(fernet_key))
    engine.dispose()


@pytest.fixture
def linked(store, xpm_session, xpm_sim):
    tokens = headless_login(xpm_session).for_tenant(xpm_sim.tenant_id)
    connection = xpm_session.api_for_tokens(tokens).connections()[0]
    store.save(BUSINESS, tokens, connection.tenant_name, connection.id)
    return tokens


def token_calls(xpm_sim) -> int:
    return xpm_sim.calls()["by_endpoint"].get("POST /connect/token", 0)


def test_refresh_rotates_and_commits_before_use(store, linked, xpm_session):
    new = store.refresh(BUSINESS, xpm_session.identity)
    grant = store.require(BUSINESS)
    assert new.refresh_token != linked.refresh_token
    assert grant.tokens.refresh_token == new.refresh_token
    assert grant.previous_refresh_token == linked.refresh_token


def test_lost_refresh_response_is_retried_with_the_old_token_inside_the_grace_window(
    store, linked, xpm_session, xpm_sim
):
    xpm_sim.set_faults([{"endpoint": "POST /connect/token", "lost_response_rate": 1.0}])
    with pytest.raises(errors.Retriable):
        store.refresh(BUSINESS, xpm_session.identity)
    assert store.require(BUSINESS).tokens.refresh_token == linked.refresh_token
    xpm_sim.set_faults([])
    xpm_sim.advance_clock(25 * 60)
    assert store.refresh(BUSINESS, xpm_session.identity).refresh_token != linked.refresh_token


def test_the_old_token_is_refused_after_the_grace_window(linked, xpm_session, xpm_sim):
    xpm_session.identity.refresh(linked.refresh_token)
    xpm_sim.advance_clock(31 * 60)
    with pytest.raises(errors.Reauthorise):
        xpm_session.identity.refresh(linked.refresh_token)


def test_sixty_idle_days_expire_the_grant_and_status_says_so(store, linked, xpm_session, xpm_sim):
    xpm_sim.advance_clock(61 * 86_400)
    with pytest.raises(GrantsNeedAttention, match="0 days left") as caught:
        refresh_grants(xpm_session, store, utcnow)
    assert caught.value.needs_person
    assert "Re-authorisation required" in str(caught.value)
    assert (
        status_lines(store, BUSINESS, utcnow())[0] == "Sync failed. Token expired. Re-authorisation required."
    )
    with pytest.raises(errors.Reauthorise):
        store.require(BUSINESS)


def test_daily_keep_alive_refreshes_every_grant(store, linked, xpm_session):
    assert refresh_grants(xpm_session, store, utcnow) == [BUSINESS]
    assert store.require(BUSINESS).tokens.refresh_token != linked.refresh_token


def test_a_grant_close_to_expiry_fails_loudly_with_the_days_left(store, linked, xpm_sim, fake_time):
    later = lambda: utcnow() + timedelta(days=55)  # noqa: E731
    with (
        sim_session(xpm_sim, fake_time, token_url="http://127.0.0.1:9/connect/token") as unreachable,
        pytest.raises(GrantsNeedAttention, match="4 days left") as caught,
    ):
        refresh_grants(unreachable, store, later)
    assert not caught.value.needs_person


def test_four_threads_refreshing_at_once_leave_exactly_one_valid_grant(store, linked, xpm_session, xpm_sim):
    xpm_sim.advance_clock(1801)
    before = token_calls(xpm_sim)
    barrier = threading.Barrier(4)
    results, failures = [], []

    def refresh():
        source = StoredTokenSource(store, BUSINESS, xpm_session.identity)
        barrier.wait()
        try:
            results.append(source.refreshed_after_rejection(linked.access_token))
        except errors.XpmError as exc:
            failures.append(exc)

    threads = [threading.Thread(target=refresh) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(set(results)) == 1
    assert token_calls(xpm_sim) - before == 1
    api = xpm_session.api(StoredTokenSource(store, BUSINESS, xpm_session.identity))
    assert api.list_clients() == []
