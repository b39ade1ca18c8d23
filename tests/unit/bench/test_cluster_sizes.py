"""The cluster bench keeps one result a size: 3,000 businesses of 5 funds and of 50 differ."""

from __future__ import annotations

from bench.run import cluster_sizes


def _result(businesses: int, funds: int, wall: float) -> dict:
    return {"businesses": businesses, "funds": funds, "runs": [{"seconds": wall}]}


def test_a_new_size_joins_the_earlier_ones_and_a_size_measured_again_replaces_its_own():
    earlier = _result(3000, 5, 681.0)  # results.json before sizes were kept: one result
    both = cluster_sizes(earlier, _result(3000, 50, 900.0))
    assert [(r["businesses"], r["funds"]) for r in both] == [(3000, 5), (3000, 50)]
    again = cluster_sizes(both, _result(3000, 5, 600.0))
    assert [r["runs"][0]["seconds"] for r in again] == [600.0, 900.0]
    assert cluster_sizes(None, _result(20, 5, 30.0)) == [_result(20, 5, 30.0)]
