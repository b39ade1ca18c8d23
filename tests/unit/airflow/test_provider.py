"""The ``xpm`` connection form declared in the provider metadata matches what the hook accepts."""

from __future__ import annotations

import pytest

from classxpm.airflow.provider import CONN_FIELDS, get_provider_info
from classxpm.xpm.config import XpmConfig
from classxpm.xpm.errors import ConfigurationError

EXAMPLES = {
    "day_limit": 1000,
    "reserve_share": 0.25,
    "minute_limit": 30,
    "max_in_flight": 2,
    "redirect_uri": "http://127.0.0.1:9000/callback",
    "timeout_seconds": 10,
    "attempts": 3,
}


def test_every_form_field_is_a_setting_the_config_accepts():
    assert set(CONN_FIELDS) == set(EXAMPLES)
    config = XpmConfig.from_settings("id", "secret", None, EXAMPLES)
    assert (config.day_limit, config.reserve, config.minute_limit) == (1000, 250, 30)


def test_the_connection_type_carries_its_form():
    [xpm] = get_provider_info()["connection-types"]
    assert xpm["connection-type"] == "xpm"
    assert xpm["conn-fields"] is CONN_FIELDS


@pytest.mark.parametrize(
    ("extras", "message"),
    [
        ({"day_limit": "0"}, "day_limit"),
        ({"reserve_share": "1"}, "reserve_share"),
        ({"reserve_share": "-0.1"}, "reserve_share"),
    ],
)
def test_limits_out_of_range_name_the_setting(extras, message):
    with pytest.raises(ConfigurationError, match=message):
        XpmConfig.from_settings("id", "secret", None, extras)
