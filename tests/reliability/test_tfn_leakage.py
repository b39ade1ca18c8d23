"""Item 5: after a dry run and a real run with quarantined funds and injected failures, no artifact on the
pipeline's side holds a source TFN, with or without spaces: task logs, XCom and the whole Airflow metadata
DB, reports and Data Docs, OpenLineage events, the state DB outside its encrypted columns. The same for a
run that reads the Class API (whose answers carry TFNs), through Class's rate limit and masked TFNs.

The runs are ``airflow dags test`` in child processes, as in production; the simulator (XPM) is not scanned.
The screenshots the browser tests keep as artifacts are scanned too, through the text each one shows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from fixtures.screenshots import SCREENSHOTS
from fixtures.screenshots import tfn_forms as shown_tfn_forms
from fixtures.tfn_scan import ENCRYPTED, hits, scan_database, scan_files, tfn_forms

pytestmark = pytest.mark.postgres


def dags_test(env: dict[str, str], conf: dict, timeout: float = 150) -> str:
    airflow = str(Path(sys.executable).with_name("airflow"))
    command = [airflow, "dags", "test", "class_xpm_sync", "-c", json.dumps(conf)]
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        out = (
            (exc.stdout or b"").decode("utf-8", "replace")
            if isinstance(exc.stdout, bytes)
            else exc.stdout or ""
        )
        pytest.fail(f"airflow dags test ran out of time; the end of its output:\n{out[-4000:]}")
    return done.stdout + done.stderr


def test_no_source_tfn_reaches_any_artifact_of_the_pipeline(sync_world, tmp_path):
    world = sync_world
    codes = [c for (c,) in world_query(world.class_url, "SELECT scope_code FROM funds ORDER BY scope_code")]
    world.source("UPDATE funds SET tfn = '123 456 789' WHERE scope_code = :c", c=codes[0])
    # codes[1]'s ABN holds codes[0]'s TFN: shown by its column, it must be withheld.
    world.source("UPDATE funds SET abn = '12345678901' WHERE scope_code = :c", c=codes[1])
    world.source("UPDATE funds SET abn = '51 824 753 557' WHERE scope_code = :c", c=codes[4])
    shared = world_query(world.class_url, "SELECT tfn FROM funds WHERE scope_code = :c", c=codes[3])[0][0]
    world.source("UPDATE funds SET tfn = :t WHERE scope_code = :c", t=shared or "876 543 210", c=codes[2])
    world.source("UPDATE funds SET tfn = :t WHERE scope_code = :c", t=shared or "876 543 210", c=codes[3])
    tfns = [t for (t,) in world_query(world.class_url, "SELECT tfn FROM funds WHERE tfn IS NOT NULL")]
    forms = tfn_forms(tfns)
    events = tmp_path / "openlineage.jsonl"
    env = lineage_env(events)
    since = time.time() - 1
    dry = dags_test(env, {"dry_run": True})
    world.sim.set_faults(
        [
            {"endpoint": "*", "error_rate": 0.1, "statuses": [500, 503]},
            {"endpoint": "POST client.api/add", "lost_response_rate": 0.1},
        ],
        seed=3,
    )
    real = dags_test(env, {})
    world.sim.set_faults([])
    found, reports, lineage = scan_artifacts(
        world, {"dry run output": dry, "run output": real}, forms, since, events
    )
    print(
        f"TFN scan: {len(tfns)} source TFNs in {len(forms)} forms; dry run + run with faults: "
        f"{len(found)} hits"
    )
    assert scan_database(world.class_url, forms, set())[1], "the scan finds the TFNs where they belong"
    assert "quarantined" in real
    assert reports > 0
    assert found == []
    assert lineage > 0
    held = dict(world_query(world.state_url, "SELECT scope_code, last_error FROM fund_links"))
    assert held[codes[0]].startswith("TFN fails its check digit: correct the fund's TFN in Class")
    assert "ABN (withheld: it holds a TFN's digits) fails its check digit" in held[codes[1]]
    assert 'ABN "51 824 753 557" fails its check digit' in held[codes[4]], "the non-secret value is shown"
    assert scan_files(world.reports, {"51 824 753 557"}, 0)[1], "in the reports too"


def scan_artifacts(
    world, outputs: dict[str, str], forms: set[str], since: float, events: Path
) -> tuple[list[str], int, int]:
    """Every hit of ``forms`` in the runs' output, task logs, reports, lineage, Airflow's and the state DB.

    Returns:
        The hits, the report files scanned and the OpenLineage events scanned.
    """
    home = Path(os.environ["AIRFLOW_HOME"])
    found = [hit for where, text in outputs.items() for hit in hits(text, forms, where)]
    files, in_files = scan_files(home / "logs", forms, since)
    reports, in_reports = scan_files(world.reports, forms, 0)
    in_lineage = hits(events.read_text(), forms, "OpenLineage events") if events.exists() else []
    meta_rows, in_meta = scan_database(f"sqlite:///{home / 'airflow.db'}", forms, set())
    state_rows, in_state = scan_database(world.state_url, forms, ENCRYPTED)
    found += in_files + in_reports + in_lineage + in_meta + in_state
    lineage = len(events.read_text().splitlines()) if events.exists() else 0
    print(
        f"scanned {sum(map(len, outputs.values()))} characters of task output, {files} log files, {reports} "
        f"report files, {lineage} OpenLineage events, {meta_rows} Airflow metadata rows, "
        f"{state_rows} state rows"
    )
    return found, reports, lineage


def lineage_env(events: Path) -> dict[str, str]:
    """The environment of a child run that writes its OpenLineage events to ``events`` and logs at DEBUG."""
    transport = {"type": "file", "log_file_path": str(events), "append": True}
    return {
        **os.environ,
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(transport),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "classxpm-leak-test",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "DEBUG",
    }


@pytest.mark.timeout(900)  # one `airflow dags test` in a child process: minutes on a loaded machine
def test_no_tfn_from_the_class_api_reaches_any_artifact(sync_world, class_sim, tmp_path):
    from classxpm.db import make_engine
    from classxpm.mapping.api_source import load_api_source_mapping
    from classxpm.source.class_api.source import ClassApiSource
    from classxpm.source.demo_data import generate
    from classxpm.state.class_grants import ClassGrantStore
    from classxpm.state.crypto import load_cipher
    from fixtures.class_api import class_api_config, class_api_connection

    world = sync_world
    funds = len(world_query(world.class_url, "SELECT fund_id FROM funds"))
    class_sim.seed(funds, 11)  # sync_world's demo data: the same TFNs, planted faults included
    tfns = [fund["tfn"] for chunk in generate(funds, 11) for fund in chunk.funds if fund["tfn"]]
    forms = tfn_forms(tfns)
    source = ClassApiSource(class_api_config(class_sim), load_api_source_mapping())
    state = make_engine(world.state_url)
    ClassGrantStore(state, load_cipher()).save(
        world.business_id, "password", source.identity.password_grant()
    )
    source.close()
    state.dispose()
    # Class's limit is met on the way (10 calls a second) and one fund's TFN comes back masked.
    class_sim.patch_config(minute_limit=10, time_scale=60.0)
    masked = world_query(world.class_url, "SELECT scope_code FROM funds ORDER BY scope_code")[0][0]
    class_sim.change_fund(masked, {"tfn": "*****" + tfns[0][-4:]})
    events = tmp_path / "openlineage.jsonl"
    env = {**lineage_env(events), "CLASSXPM_SOURCE": "class_api"}
    env["AIRFLOW_CONN_CLASS_API"] = class_api_connection(class_sim)
    env.pop("AIRFLOW_CONN_CLASS_DB")
    since = time.time() - 1
    real = dags_test(env, {}, timeout=600)

    found, reports, lineage = scan_artifacts(world, {"run output": real}, forms, since, events)
    print(f"TFN scan (Class API): {len(tfns)} TFNs in {len(forms)} forms, {len(world.clients())} clients")
    assert found == []
    assert class_sim.statuses()["200"] == funds + 1, "every fund read once, the 429s waited out"
    assert "quarantined" in real
    assert masked not in {client["ExportCode"] for client in world.clients()}, "its masked TFN held it back"
    assert reports > 0
    assert lineage > 0


def world_query(url: str, statement: str, **params) -> list:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(statement), params).all()
    engine.dispose()
    return rows


def test_no_screenshot_kept_by_the_browser_tests_shows_a_tfn():
    pictures = sorted(SCREENSHOTS.rglob("*.png"))
    if not pictures:
        pytest.skip(f"no browser test has kept a screenshot in {SCREENSHOTS} in this checkout")
    texts = [picture.with_suffix(".txt") for picture in pictures]
    missing = [str(text) for text in texts if not text.exists()]
    found = [
        hit for text in texts if text.exists() for hit in hits(text.read_text(), shown_tfn_forms(), str(text))
    ]
    print(f"TFN scan of screenshots: {len(pictures)} pictures in {SCREENSHOTS}: {len(found)} hits")
    assert missing == [], "every screenshot keeps the text it shows"
    assert found == []
