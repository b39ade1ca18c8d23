from __future__ import annotations

import pytest

from classxpm.xpm_sim.faults import Faults, FaultSpecError


def test_star_covers_api_endpoints_only():
    faults = Faults()
    faults.set({"rules": [{"endpoint": "*", "error_rate": 1.0, "statuses": [503]}]})
    assert faults.plan("GET client.api/list").status == 503
    assert faults.plan("POST /connect/token").status is None


def test_burst_counts_down():
    faults = Faults()
    faults.set({"rules": [{"endpoint": "GET client.api/list", "burst_429": 2}]})
    assert [faults.plan("GET client.api/list").force_429 for _ in range(3)] == [True, True, False]


def test_same_seed_same_draws():
    spec = {"seed": 3, "rules": [{"endpoint": "*", "error_rate": 0.5, "lost_response_rate": 0.3}]}
    faults = Faults()
    faults.set(spec)
    first = [faults.plan("GET x").status for _ in range(20)]
    faults.set(spec)
    assert [faults.plan("GET x").status for _ in range(20)] == first


@pytest.mark.parametrize(
    "rule",
    [
        {"error_rate": -0.1},
        {"statuses": [404]},
        {"statuses": []},
        {"burst_429": -1},
        {"latency_ms": 1.5},
        {"x": 1},
    ],
)
def test_bad_rules_are_refused(rule):
    with pytest.raises(FaultSpecError):
        Faults().set({"rules": [rule]})
