from __future__ import annotations

import json

import pytest

from classxpm.airflow.hooks.xpm import XpmHook
from classxpm.xpm.errors import ConfigurationError
from fixtures.xpm_auth import sim_config


def connection_json(xpm_sim, secret: str | None = None) -> str:
    config = sim_config(xpm_sim)
    extras = {"token_url": config.token_url, "connections_url": config.connections_url, "attempts": 1}
    return json.dumps(
        {
            "conn_type": "xpm",
            "login": config.client_id,
            "password": secret or config.client_secret,
            "host": config.api_base_url,
            "extra": extras,
        }
    )


def test_connection_becomes_a_frozen_config_with_production_defaults(monkeypatch, xpm_sim):
    monkeypatch.setenv("AIRFLOW_CONN_XPM_DEFAULT", connection_json(xpm_sim))
    config = XpmHook().get_config()
    assert config.token_url.startswith(xpm_sim.base_url)
    assert config.authorize_url == "https://login.xero.com/identity/connect/authorize"
    assert config.scopes == "offline_access practicemanager.client practicemanager.job.read"
    with pytest.raises(AttributeError):
        config.client_id = "other"


def test_test_connection_checks_the_client_credentials(monkeypatch, xpm_sim):
    monkeypatch.setenv("AIRFLOW_CONN_XPM_DEFAULT", connection_json(xpm_sim))
    ok, message = XpmHook().test_connection()
    assert ok, message
    monkeypatch.setenv("AIRFLOW_CONN_XPM_DEFAULT", connection_json(xpm_sim, secret="wrong-secret-value"))
    ok, message = XpmHook().test_connection()
    assert not ok
    assert "wrong-secret-value" not in message


def test_a_connection_without_a_secret_is_a_configuration_error(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_XPM_DEFAULT", json.dumps({"conn_type": "xpm", "login": "id"}))
    with pytest.raises(ConfigurationError, match="secret"):
        XpmHook().get_config()


def test_form_fields_are_relabelled():
    behaviour = XpmHook.get_ui_field_behaviour()
    relabeled = {"login": "Client ID", "password": "Client secret", "host": "API base URL"}
    assert behaviour["relabeling"] == relabeled
    assert set(behaviour["hidden_fields"]) == {"schema", "port"}


def test_the_hook_is_the_http_providers_and_reads_the_limits_from_the_connection(monkeypatch, xpm_sim):
    from airflow.providers.http.hooks.http import HttpHook

    connection = json.loads(connection_json(xpm_sim))
    connection["extra"] |= {"day_limit": 1000, "extra__xpm__reserve_share": "0.2", "minute_limit": ""}
    monkeypatch.setenv("AIRFLOW_CONN_XPM_DEFAULT", json.dumps(connection))

    config = XpmHook().get_config()

    assert isinstance(XpmHook(), HttpHook)
    assert (config.day_limit, config.reserve_share, config.reserve) == (1000, 0.2, 200)
    assert config.minute_limit == 60, "a setting left blank on the form keeps Xero's value"
    assert config.api_base_url == connection["host"]


def test_a_host_without_a_scheme_is_refused_rather_than_sent_plain_http(monkeypatch):
    connection = {"conn_type": "xpm", "login": "id", "password": "secret", "host": "api.xero.com"}
    monkeypatch.setenv("AIRFLOW_CONN_XPM_DEFAULT", json.dumps(connection))
    with pytest.raises(ConfigurationError, match="full https:// URL"):
        XpmHook().get_config()


def test_an_empty_host_is_xeros_production_api(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_XPM_DEFAULT", json.dumps({"conn_type": "xpm", "login": "id", "password": "s"})
    )
    assert XpmHook().get_config().api_base_url == "https://api.xero.com/practicemanager/3.1"
