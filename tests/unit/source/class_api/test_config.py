"""ClassApiConfig from a connection's parts: tables of valid and invalid settings."""

from __future__ import annotations

import pytest

from classxpm.source.class_api.config import DETAIL_SCOPES, EXPORT_SCOPES, ClassApiConfig
from classxpm.xpm.errors import ConfigurationError


def build(
    extras: dict, client_id: str = "id", secret: str = "secret", host: str | None = None
) -> ClassApiConfig:
    return ClassApiConfig.from_settings(client_id, secret, host, extras)


def test_unset_extras_take_class_production_values():
    config = build({})
    assert config.api_base_url == "https://api.class.com.au/api/1.0"
    assert config.token_url == "https://app.class.com.au/connect/token"
    assert config.authorize_url == "https://app.class.com.au/connect/authorize"
    assert (config.flow, config.plan, config.tfns, config.minute_limit) == (
        "authorization_code",
        "export",
        "clear",
        500,
    )
    assert config.requested_scopes == EXPORT_SCOPES


def test_the_secrets_never_show_in_repr():
    config = build({"flow": "password", "username": "u", "user_password": "hunter22", "business_code": "B"})
    assert "secret" not in repr(config)
    assert "hunter22" not in repr(config)


def test_the_password_flow_asks_for_its_one_business():
    config = build({"flow": "password", "username": "u", "business_code": "ACME", "plan": "detail"})
    assert config.requested_scopes == DETAIL_SCOPES.replace("target:b", "target:b/ACME")


@pytest.mark.parametrize(
    ("extras", "client_id", "message"),
    [
        ({}, "", "needs a client id"),
        ({"flow": "implicit"}, "id", "flow must be one of"),
        ({"plan": "everything"}, "id", "plan must be one of"),
        ({"tfns": "hidden"}, "id", "tfns must be one of"),
        ({"flow": "password"}, "id", "needs username and business_code"),
        ({"concurrency": 11}, "id", "concurrency must be 1-10"),
        ({"minute_limit": "many"}, "id", "must be numbers"),
        ({"identity_url": "app.class.com.au"}, "id", r"identity_url must be an http\(s\) URL"),
        ({"colour": "blue"}, "id", "unknown class_api connection extras: colour"),
    ],
)
def test_a_wrong_setting_is_refused_by_name(extras, client_id, message):
    with pytest.raises(ConfigurationError, match=message):
        build(extras, client_id=client_id)
