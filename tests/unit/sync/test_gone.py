from __future__ import annotations

import pytest

from classxpm.sync.gone import policy_for
from classxpm.xpm.config import XpmConfig
from classxpm.xpm.errors import ConfigurationError


def test_the_param_wins_then_the_extra_for_the_business_then_report():
    assert policy_for("b1", None, None) == "report"
    assert policy_for("b1", None, "archive") == "archive"
    assert policy_for("b1", None, {"b1": "archive", "*": "report"}) == "archive"
    assert policy_for("b2", None, {"b1": "archive", "*": "report"}) == "report"
    assert policy_for("b2", None, {"b1": "archive"}) == "report"
    assert policy_for("b1", "report", {"b1": "archive"}) == "report"


def test_an_unknown_policy_is_refused_by_name():
    with pytest.raises(ConfigurationError, match="gone_from_class must be one of report, archive"):
        policy_for("b1", "delete", None)


def test_the_connection_extra_is_read():
    config = XpmConfig.from_settings("id", "secret", None, {"gone_from_class": {"b1": "archive"}})
    assert config.gone_from_class == {"b1": "archive"}
