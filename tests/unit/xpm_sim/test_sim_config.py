from __future__ import annotations

import pytest

from classxpm.xpm_sim.config import ConfigError, SimConfig


@pytest.mark.parametrize(
    ("patch", "field", "expected"),
    [
        ({"minute_limit": 10}, "minute_limit", 10),
        ({"time_scale": 60}, "time_scale", 60.0),
        ({"unknown_uuid_status": 404}, "unknown_uuid_status", 404),
        ({"client_delete_mode": "hard"}, "client_delete_mode", "hard"),
        ({"redirect_uris": ["http://localhost:1/cb"]}, "redirect_uris", ["http://localhost:1/cb"]),
        ({"tfn_check_digit": False}, "tfn_check_digit", False),
    ],
)
def test_valid_patches(patch, field, expected):
    assert getattr(SimConfig().patched(patch), field) == expected


@pytest.mark.parametrize(
    ("patch", "reason"),
    [
        ({"no_such_field": 1}, "unknown config field"),
        ({"minute_limit": "60"}, "must be int"),
        ({"minute_limit": True}, "must be int"),
        ({"minute_limit": 0}, "positive"),
        ({"unknown_uuid_status": 500}, "one of"),
        ({"client_delete_mode": "purge"}, "one of"),
        ({"abn_check": "yes"}, "must be bool"),
    ],
)
def test_invalid_patches(patch, reason):
    with pytest.raises(ConfigError, match=reason):
        SimConfig().patched(patch)


def test_patched_leaves_the_original_alone():
    config = SimConfig()
    config.patched({"minute_limit": 1})
    assert config.minute_limit == 60
