from __future__ import annotations

from datetime import timedelta

import pytest

from classxpm.sync.run import RunRequest, dead_run_age
from classxpm.xpm.errors import ConfigurationError


@pytest.mark.parametrize(
    ("given", "codes"),
    [
        (None, ()),
        ("", ()),
        ("SMITH01, jones02\nPATEL03", ("jones02", "PATEL03", "SMITH01")),
        ([" SMITH01 ", "smith01", "JONES02"], ("JONES02", "SMITH01")),
        (["", "  "], ()),
    ],
)
def test_fund_codes_are_one_per_match_key_as_first_spelt(given, codes):
    assert RunRequest.from_params({"fund_codes": given}).fund_codes == codes


def test_fund_codes_of_another_shape_are_refused():
    with pytest.raises(ConfigurationError, match="fund_codes must be a list of scope codes"):
        RunRequest.from_params({"fund_codes": 7})


def test_the_dead_run_age_is_24_hours_unless_set_and_refuses_nonsense():
    assert dead_run_age({}) == timedelta(hours=24)
    assert dead_run_age({"CLASSXPM_DEAD_RUN_HOURS": "1.5"}) == timedelta(minutes=90)
    for wrong in ("0", "-2", "a day"):
        with pytest.raises(ConfigurationError, match="CLASSXPM_DEAD_RUN_HOURS"):
            dead_run_age({"CLASSXPM_DEAD_RUN_HOURS": wrong})
