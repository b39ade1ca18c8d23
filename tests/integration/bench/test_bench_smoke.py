"""``make bench`` at 20 funds, so the harness cannot rot: every scenario runs and its numbers add up.

Benchmarks are not tests: nothing here asserts a time or a target, only that the counts are coherent.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# A guard against a hung harness, not a speed limit: every default scenario runs, on a machine maybe busy.
pytestmark = [pytest.mark.postgres, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[3]
ARGS = [
    "--calls", "20",
    "--wall-funds", "20",
    "--time-scale", "120",
    "--throughput", "20",
    "--no-profile",
    "--quota-funds", "20",
    "--quota-day-limit", "10",
    "--page-rows", "250",
    "--readpath", "20",
    "--class-api-funds", "20",
    "--class-api-scale", "120",
]  # fmt: skip


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("bench")
    env = {**os.environ, "GX_ANALYTICS_ENABLED": "False", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", *ARGS, "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "## 1. API calls per sync" in (out / "RESULTS.md").read_text()
    return json.loads((out / "results.json").read_text())


def test_the_call_counts_follow_what_each_run_did(results):
    first, no_change, incremental, imported, edited = results["results"]["calls"][0]["rows"]
    assert first["writes"] == first["counts"]["created"] == first["naive"]
    assert first["quarantined"] > 0, "the demo data plants invalid TFNs and ABNs"
    assert no_change["writes"] == 0
    assert no_change["naive"] > first["naive"]
    assert incremental["writes"] == incremental["changed"] == incremental["counts"]["updated"] > 0
    assert imported["writes"] == imported["counts"]["created"] == 10
    assert edited["writes"] == edited["changed"] == edited["counts"]["updated"] > 0
    assert all(row["naive"] > row["calls"] for row in (no_change, incremental, imported, edited))


def test_the_wall_time_run_is_measured_against_its_floor(results):
    wall = results["results"]["walltime"]
    assert wall["calls"] == wall["writes"] + 1, "one page read, then one add per fund"
    assert wall["floor_minutes"] == round(wall["calls"] / 60, 2)
    assert wall["run_minutes"] >= wall["api_minutes"] > 0


def test_every_local_stage_saw_every_fund(results):
    (row,) = results["results"]["throughput"]
    stages = row["stages"]
    assert stages["extract"]["result"]["funds"] == stages["validate"]["result"]["funds_checked"] == 20
    assert stages["map"]["result"]["mapped"] == 20
    assert sum(stages["plan"]["result"].values()) == 20
    assert all(stage["peak_rss_mb"] >= stage["baseline_rss_mb"] > 0 for stage in stages.values())
    assert all(stage["cpu_seconds"] >= 0 for stage in stages.values())


def test_the_backfill_spreads_over_days_within_the_quota_less_the_reserve(results):
    quota = results["results"]["quota"]
    days = quota["days"]
    assert len(days) >= 2
    assert not days[-1]["counts"].get("deferred")
    assert all(0 < day["calls"] <= quota["day_limit"] - quota["reserve"] for day in days)
    assert sum(day["rejected"] for day in days) == 0
    assert quota["clients_in_xpm"] == sum(day["counts"].get("created", 0) for day in days)


def test_the_machine_and_the_commands_are_recorded(results):
    assert results["machine"]["cores"] >= 1
    assert results["machine"]["cpu"]
    assert results["results"]["quota"]["command"].startswith(".venv/bin/python -m bench.run --only quota")


def test_every_page_answered_over_its_rows(results):
    pages = results["results"]["pages"]
    assert pages["rows"] == 250
    assert [page["status"] for page in pages["pages"]] == [200] * len(pages["pages"])
    assert all(page["slowest_ms"] >= page["median_ms"] > 0 for page in pages["pages"])
    assert {page["page"] for page in pages["pages"]} >= {"run page, last page of problems", "one fund"}


def test_the_read_paths_are_counted_in_calls_and_bytes(results):
    (block,) = results["results"]["readpath"]
    rows = {row["path"]: row for row in block["rows"]}
    listed, paged = rows["client.api/list"], rows["client.api/paged-list"]
    assert (listed["calls"], listed["contacts_known"]) == (1, "yes"), "one call carries every contact"
    assert paged["calls"] == 1
    assert paged["contacts_known"] == "no"
    gets = rows["client.api/paged-list + get per live client"]
    assert gets["calls"] > paged["calls"]
    assert gets["bytes"] > paged["bytes"] > 0
    assert rows["client.api/list?detailed=true"]["bytes"] >= listed["bytes"] > 0


def test_the_class_api_reads_one_export_a_fund_or_the_detail_calls(results):
    rows = {row["plan"]: row for row in results["results"]["classapi"]["rows"]}
    assert rows["export"]["funds"] == 20
    assert rows["export"]["calls"] > rows["export"]["funds"], "the fund list, then one export a fund"
    assert rows["detail"]["calls"] > rows["export"]["calls"], "fund and member detail cost more calls"
    assert all(row["rejected"] == 0 for row in rows.values())
