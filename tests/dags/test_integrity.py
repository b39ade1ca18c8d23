"""DAG integrity: every DAG file imports cleanly and cheaply, and every DAG carries the team's defaults."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DAGS_DIR = ROOT / "dags"
EXPECTED_DAG_IDS = {"class_xpm_sync", "class_xpm_incremental", "xpm_token_refresh", "xpm_jobs_snapshot"}


def _run_probe(dag_folder: Path) -> dict:
    result = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("parse_probe.py")), str(dag_folder)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT / "tests")},
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("PROBE-REPORT ")]
    assert result.returncode == 0, result.stderr[-3000:]
    assert lines, result.stderr[-3000:]
    return json.loads(lines[-1].removeprefix("PROBE-REPORT "))


@pytest.fixture(scope="module")
def probe() -> dict:
    return _run_probe(DAGS_DIR)


def test_every_dag_file_imports_without_errors(probe):
    assert probe["import_errors"] == {}


def test_the_product_dags_are_all_there(probe):
    assert set(probe["dags"]) >= EXPECTED_DAG_IDS, sorted(EXPECTED_DAG_IDS - set(probe["dags"]))


def test_parsing_makes_no_queries_lookups_or_network_calls(probe):
    assert probe["statements"] == []
    assert probe["lookups"] == []


def test_parsing_imports_no_heavy_modules(probe):
    assert probe["heavy_modules"] == []


def test_every_dag_has_owner_tags_retries_and_no_catchup(probe):
    for dag_id, dag in probe["dags"].items():
        assert dag["tags"], f"{dag_id} has no tags"
        assert dag["catchup"] is False, f"{dag_id} catches up"
        assert "airflow" not in dag["owners"], f"{dag_id} keeps the default owner"
        assert dag["min_retries"] >= 2, f"{dag_id} has a task with fewer than 2 retries"


BAD_DAG = """
import pandas
from airflow.sdk import BaseHook, dag, task
import pendulum

BaseHook.get_connection("class_db")

@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"))
def bad():
    @task
    def noop():
        return 1
    noop()

bad()
"""


def test_the_probe_catches_parse_time_work(tmp_path):
    (tmp_path / "bad.py").write_text(BAD_DAG)
    report = _run_probe(tmp_path)
    assert report["lookups"] == ["connection:class_db"]
    assert "pandas" in report["heavy_modules"]
    assert list(report["import_errors"]) == [str(tmp_path / "bad.py")]
