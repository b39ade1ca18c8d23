"""Measure (not assert) the gate on a large practice.

Opt in: CLASSXPM_BENCH_FUNDS=100000 pytest -s tests/integration/validation/test_gate_benchmark.py
"""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path

import pandas as pd
import pytest

from classxpm.source.demo_data import generate
from classxpm.validation.gate import validate_frames

FUNDS = int(os.environ.get("CLASSXPM_BENCH_FUNDS", "0"))


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mib() -> float:
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


@pytest.mark.skipif(not FUNDS, reason="set CLASSXPM_BENCH_FUNDS to measure the gate")
def test_gate_on_a_large_practice(tmp_path):
    chunks = list(generate(FUNDS))
    funds = pd.DataFrame([row for chunk in chunks for row in chunk.funds])
    members = pd.DataFrame([row for chunk in chunks for row in chunk.members])
    del chunks
    before = rss_mib()
    started = time.perf_counter()
    result = validate_frames(funds, members, run_id="bench", business_id="b", reports_dir=tmp_path)
    seconds = time.perf_counter() - started
    print(
        f"\ngate: {len(funds):,} funds / {len(members):,} members in {seconds:.1f} s; "
        f"RSS {before:.0f} MiB holding the frames, process peak {peak_rss_mib():.0f} MiB\n"
        f"{result.headline()}"
    )
    assert result.funds_checked == FUNDS
    assert 0 < len(result.quarantined) < FUNDS
