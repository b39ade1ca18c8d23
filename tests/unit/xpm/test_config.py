from __future__ import annotations

import pytest

from classxpm.xpm.config import DEFAULT_SCOPES, XpmConfig
from classxpm.xpm.errors import ConfigurationError

VALID = [
    ({}, "https://identity.xero.com/connect/token"),
    ({"token_url": "http://127.0.0.1:5000/connect/token"}, "http://127.0.0.1:5000/connect/token"),
    ({"timeout_seconds": "5", "attempts": "3"}, "https://identity.xero.com/connect/token"),
]

INVALID = [
    ("", "secret", {}, "client id"),
    ("id", "", {}, "secret"),
    ("id", "secret", {"token_url": "ftp://x/token"}, "token_url"),
    ("id", "secret", {"scopes": "practicemanager.client"}, "offline_access"),
    ("id", "secret", {"tokenurl": "https://x"}, "unknown XPM connection extras: tokenurl"),
    ("id", "secret", {"timeout_seconds": "-1"}, "timeout"),
    ("id", "secret", {"attempts": "-2"}, "retry settings"),
]


@pytest.mark.parametrize(("extras", "token_url"), VALID)
def test_valid_settings(extras, token_url):
    config = XpmConfig.from_settings("id", "secret", None, extras)
    assert config.token_url == token_url
    assert config.scopes == DEFAULT_SCOPES
    assert config.api_base_url == "https://api.xero.com/practicemanager/3.1"


@pytest.mark.parametrize(("client_id", "secret", "extras", "message"), INVALID)
def test_invalid_settings_name_the_problem(client_id, secret, extras, message):
    with pytest.raises(ConfigurationError, match=message):
        XpmConfig.from_settings(client_id, secret, None, extras)


def test_secret_is_not_in_repr():
    assert "s3cr3t-value" not in repr(XpmConfig("id", "s3cr3t-value"))


def test_redirect_port_is_replaced_keeping_path():
    config = XpmConfig("id", "secret", redirect_uri="http://127.0.0.1:8765/callback")
    assert config.with_redirect_port(4321).redirect_uri == "http://127.0.0.1:4321/callback"
