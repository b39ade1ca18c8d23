from __future__ import annotations

import logging
import time
from dataclasses import replace
from datetime import timedelta

import pytest

from classxpm.xpm import errors
from classxpm.xpm.auth import MemoryTokenSource
from fixtures.xpm_auth import headless_login, sim_session


@pytest.fixture
def api(xpm_session, xpm_sim):
    tokens = headless_login(xpm_session).for_tenant(xpm_sim.tenant_id)
    return xpm_session.api_for_tokens(tokens)


def test_login_lists_the_practice_manager_connection(xpm_session, xpm_sim):
    tokens = headless_login(xpm_session)
    connections = xpm_session.api_for_tokens(tokens).connections()
    assert [(item.tenant_type, item.tenant_name, item.tenant_id) for item in connections] == [
        ("PRACTICEMANAGER", "Demo Practice", xpm_sim.tenant_id)
    ]
    assert connections[0].auth_event_id == tokens.auth_event_id


def test_add_get_and_page_clients_round_trips_escaped_text(api):
    name = 'Smith & Sons <Super> "Fund" Zoë\'s'
    added = api.add_client({"Name": name, "ExportCode": "CLASS-1"}, [{"Name": "Jane", "IsPrimary": "Yes"}])
    fetched = api.get_client(added.uuid)
    assert fetched.name == name
    assert fetched.web_url
    assert [contact.name for contact in fetched.contacts] == ["Jane"]
    assert [client.uuid for client in api.iter_clients(page_size=1)] == [added.uuid]
    assert api.remaining_daily_quota() is not None


def test_update_and_archive(api):
    client = api.add_client({"Name": "Fund"})
    assert api.update_client(client.uuid, {"Name": "Fund 2"}).name == "Fund 2"
    assert api.archive_client(client.uuid).is_archived is True
    assert api.search_clients("Fund 2")[0].uuid == client.uuid


def test_a_refused_record_is_a_record_error_with_the_description(api):
    with pytest.raises(errors.RecordError) as caught:
        api.add_client({"Name": "Fund", "TaxNumber": "123456789"})
    assert caught.value.description


def test_unknown_tenant_is_fatal(xpm_session):
    tokens = headless_login(xpm_session).for_tenant("00000000-0000-0000-0000-000000000000")
    with pytest.raises(errors.TenantForbidden):
        xpm_session.api_for_tokens(tokens).list_clients()


def test_an_expired_access_token_is_refreshed_once_and_the_call_retried(xpm_session, xpm_sim):
    tokens = headless_login(xpm_session).for_tenant(xpm_sim.tenant_id)
    believed_fresh = replace(tokens, expires_at=tokens.expires_at + timedelta(days=1))
    source = MemoryTokenSource(xpm_session.identity, believed_fresh)
    xpm_sim.advance_clock(1801)
    assert xpm_session.api(source).list_clients() == []
    assert source.tokens.access_token != tokens.access_token
    assert source.tokens.refresh_token != tokens.refresh_token


def test_a_429_burst_is_waited_out_with_retry_after(api, xpm_sim, sleeps):
    xpm_sim.set_faults([{"endpoint": "GET client.api/list", "burst_429": 2}])
    assert api.list_clients() == []
    assert len(sleeps) == 2
    assert all(0 < wait <= 60 for wait in sleeps)


def test_server_errors_are_retried_with_backoff(api, xpm_sim, sleeps):
    xpm_sim.set_faults([{"endpoint": "GET client.api/list", "error_rate": 1.0, "statuses": [503]}])
    with pytest.raises(errors.Retriable):
        api.list_clients()
    assert len(sleeps) == 3


def test_the_daily_limit_ends_the_call_as_deferred_without_sleeping(api, xpm_sim, sleeps):
    xpm_sim.patch_config(day_limit=1)
    api.list_clients()
    with pytest.raises(errors.Deferred) as caught:
        api.list_clients()
    assert caught.value.retry_after > 60
    assert sleeps == []
    assert api.remaining_daily_quota() == 0
    calls_before = xpm_sim.calls()
    with pytest.raises(errors.Deferred):
        api.list_clients()
    assert xpm_sim.calls() == calls_before


def test_a_revoked_grant_needs_reauthorisation(api, xpm_session):
    xpm_session.identity.revoke(api.transport._tokens.tokens.refresh_token)
    with pytest.raises(
        errors.Reauthorise, match=r"^Sync failed\. Token expired\. Re-authorisation required\.$"
    ):
        api.list_clients()


def test_bad_client_secret_is_a_configuration_error(xpm_sim, fake_time, xpm_session):
    with (
        sim_session(xpm_sim, fake_time, client_secret="wrong-secret") as session,
        pytest.raises(errors.ConfigurationError),
    ):
        session.identity.check_client_credentials()
    xpm_session.identity.check_client_credentials()


def test_no_secret_or_token_in_any_log_line(xpm_sim, xpm_session, caplog):
    caplog.set_level(logging.DEBUG)
    tokens = headless_login(xpm_session).for_tenant(xpm_sim.tenant_id)
    source = MemoryTokenSource(xpm_session.identity, tokens)
    api = xpm_session.api(source)
    api.list_clients()
    xpm_sim.advance_clock(1801)
    source.tokens = replace(source.tokens, expires_at=source.tokens.expires_at + timedelta(days=1))
    api.list_clients()
    xpm_sim.set_faults([{"endpoint": "GET client.api/list", "burst_429": 1}])
    api.list_clients()
    latest = source.tokens
    assert latest.access_token != tokens.access_token
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "client.api/list" in logged
    for secret in (
        xpm_sim.client_secret,
        tokens.access_token,
        tokens.refresh_token,
        latest.access_token,
        latest.refresh_token,
    ):
        assert secret not in logged


def test_the_whole_practice_list_outlasts_the_configured_timeout(xpm_sim, fake_time):
    """A large practice's list takes minutes (reference §12): it has its own, longer timeout."""
    slow = ("GET client.api/list", "GET client.api/search")
    xpm_sim.set_faults([{"endpoint": key, "latency_ms": 1_000} for key in slow])
    with sim_session(xpm_sim, fake_time, timeout_seconds=0.25) as session:
        api = session.api_for_tokens(headless_login(session).for_tenant(xpm_sim.tenant_id))
        assert api.list_clients() == []
        with pytest.raises(errors.Retriable):
            api.search_clients("anyone")
    attempts = session.config.retry.attempts
    for _ in range(600):  # the abandoned searches finish in the simulator before the next test resets it
        if xpm_sim.calls()["by_endpoint"].get("GET client.api/search", 0) >= attempts:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the simulator never finished the abandoned searches")
