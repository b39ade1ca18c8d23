"""Lineage of a sync run: OpenLineage events (file transport) and Airflow asset events.

Runs ``airflow dags test`` in a child process, as a data engineer would, so the OpenLineage listener
starts with the transport configured for this run only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]


def _dags_test(env: dict[str, str]) -> subprocess.CompletedProcess:
    airflow = str(Path(sys.executable).with_name("airflow"))
    return subprocess.run(
        [airflow, "dags", "test", "class_xpm_sync"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _asset_events(uri: str) -> int:
    engine = sa.create_engine(f"sqlite:///{os.environ['AIRFLOW_HOME']}/airflow.db")
    with engine.connect() as conn:
        count = conn.execute(
            sa.text(
                "SELECT count(*) FROM asset_event e JOIN asset a ON a.id = e.asset_id WHERE a.uri = :uri"
            ),
            {"uri": uri},
        ).scalar()
    engine.dispose()
    return count


@pytest.fixture
def lineage_run(sync_world, tmp_path):
    events = tmp_path / "openlineage.jsonl"
    env = {
        **os.environ,
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(events), "append": True}
        ),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "classxpm-test",
    }
    return sync_world, env, events


def _events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_openlineage_events_carry_class_inputs_xpm_outputs_and_the_mapping_column_lineage(lineage_run):
    world, env, path = lineage_run
    result = _dags_test(env)
    assert result.returncode == 0, result.stdout[-3000:]
    events = {(e["eventType"], e["job"]["name"]): e for e in _events(path)}
    upsert = events[("COMPLETE", "class_xpm_sync.upsert")]
    business, tenant = world.business_id, world.sim.tenant_id
    inputs = {(d["namespace"], d["name"]) for d in upsert["inputs"]}
    assert inputs == {(f"class://{business}", "funds"), (f"class://{business}", "members")}
    outputs = {d["name"]: d for d in upsert["outputs"]}
    assert {d["namespace"] for d in outputs.values()} == {f"xpm://{tenant}"}
    clients = outputs["clients"]["facets"]["columnLineage"]["fields"]
    assert [f["field"] for f in clients["Name"]["inputFields"]] == ["scope_description"]
    assert [f["field"] for f in clients["TaxNumber"]["inputFields"]] == ["tfn"]
    contacts = outputs["contacts"]["facets"]["columnLineage"]["fields"]
    assert [f["field"] for f in contacts["Name"]["inputFields"]] == ["first_name", "last_name"]
    assert "Position" not in contacts, "a constant has no source column"


def test_asset_events_are_recorded_on_success_only(lineage_run):
    world, env, _ = lineage_run
    uri = f"xpm://{world.sim.tenant_id}/clients"
    before = _asset_events(uri)
    world.sim.set_faults([{"endpoint": "POST client.api/add", "error_rate": 1.0, "statuses": [500]}])
    failed = _dags_test(env)
    assert failed.returncode != 0
    assert _asset_events(uri) == before, "a failed run updates no asset"
    world.sim.set_faults([])
    assert _dags_test(env).returncode == 0
    assert _asset_events(uri) == before + 1
