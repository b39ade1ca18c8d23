"""Lease settings from the environment: a table of valid and invalid values."""

from __future__ import annotations

from datetime import timedelta

import pytest

from classxpm.sync.lease import HEARTBEAT_VARIABLE, TTL_VARIABLE, LeaseSettings
from classxpm.xpm.errors import ConfigurationError


@pytest.mark.parametrize(
    ("environ", "ttl", "beat"),
    [
        ({}, 60, 15),
        ({TTL_VARIABLE: "8"}, 8, 2),
        ({TTL_VARIABLE: "90", HEARTBEAT_VARIABLE: "20"}, 90, 20),
        ({TTL_VARIABLE: " ", HEARTBEAT_VARIABLE: ""}, 60, 15),
    ],
)
def test_lease_settings_come_from_the_environment(environ, ttl, beat):
    settings = LeaseSettings.from_env(environ)
    assert settings == LeaseSettings(timedelta(seconds=ttl), timedelta(seconds=beat))


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({TTL_VARIABLE: "a minute"}, "CLASSXPM_LEASE_TTL_SECONDS must be a number of seconds"),
        ({TTL_VARIABLE: "-5"}, "CLASSXPM_LEASE_TTL_SECONDS must be more than 0"),
        ({TTL_VARIABLE: "30", HEARTBEAT_VARIABLE: "30"}, "must be shorter than CLASSXPM_LEASE_TTL_SECONDS"),
    ],
)
def test_bad_lease_settings_are_refused_naming_the_variable(environ, message):
    with pytest.raises(ConfigurationError, match=message):
        LeaseSettings.from_env(environ)
