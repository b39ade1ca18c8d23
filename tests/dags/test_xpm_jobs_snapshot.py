"""The xpm_jobs_snapshot DAG: its shape, and a whole run with Airflow's dag.test() against the simulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from classxpm.db import make_engine
from classxpm.jobs.tables import snapshot_jobs, snapshot_tasks
from classxpm.state.crypto import TokenCipher
from classxpm.state.migrations import upgrade
from classxpm.state.tokens import TokenStore
from classxpm.sync.tables import fund_links
from fixtures.xpm_auth import headless_login, sim_config

DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / "xpm_jobs_snapshot.py"
BUSINESS = "biz-dag"


@pytest.fixture(scope="module")
def snapshot_dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=DAG_FILE)
    assert bag.import_errors == {}
    return bag.dags["xpm_jobs_snapshot"]


def test_hourly_on_the_xpm_pool_with_retries(snapshot_dag):
    task = snapshot_dag.get_task("snapshot_jobs")
    assert snapshot_dag.schedule == "@hourly"
    assert task.pool == "xpm_api"
    assert task.retries >= 2
    assert task.owner == "practice-data"


def xpm_connection(handle) -> str:
    config = sim_config(handle)
    extra = {name: getattr(config, name) for name in ("authorize_url", "token_url", "revocation_url")}
    extra |= {"connections_url": config.connections_url, "attempts": 2}
    return json.dumps(
        {
            "conn_type": "xpm",
            "login": handle.client_id,
            "password": handle.client_secret,
            "host": config.api_base_url,
            "extra": extra,
        }
    )


@pytest.fixture
def linked_business(sqlite_url, fernet_key, xpm_sim, xpm_session, monkeypatch):
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    tokens = headless_login(xpm_session).for_tenant(xpm_sim.tenant_id)
    connection = xpm_session.api_for_tokens(tokens).connections()[0]
    TokenStore(engine, TokenCipher(fernet_key)).save(BUSINESS, tokens, connection.tenant_name, connection.id)
    client = xpm_sim.seed({"clients": [{"Name": "Smith Super Fund", "ExportCode": "SMITH"}]})["clients"][0]
    xpm_sim.seed(
        {
            "jobs": [
                {
                    "client_uuid": client["uuid"],
                    "ID": "J-9",
                    "Name": "2026 audit",
                    "Tasks": [{"Name": "Audit"}],
                }
            ]
        }
    )
    with engine.begin() as conn:
        conn.execute(
            sa.insert(fund_links).values(
                business_id=BUSINESS,
                fund_id="f-1",
                tenant_id=xpm_sim.tenant_id,
                scope_code="SMITH",
                client_uuid=client["uuid"],
                last_status="synced",
            )
        )
    monkeypatch.setenv("AIRFLOW_CONN_XPM_DEFAULT", xpm_connection(xpm_sim))
    monkeypatch.setenv(
        "AIRFLOW_CONN_CLASSXPM_STATE", json.dumps({"conn_type": "sqlite", "host": sqlite_url[10:]})
    )
    yield engine
    engine.dispose()


def test_a_run_fills_the_snapshot_and_the_launch_link(snapshot_dag, linked_business):
    run = snapshot_dag.test()

    assert run.state == "success"
    with linked_business.connect() as conn:
        assert conn.execute(sa.select(snapshot_jobs.c.job_number)).scalars().all() == ["J-9"]
        assert conn.execute(sa.select(snapshot_tasks.c.name)).scalars().all() == ["Audit"]
        assert conn.execute(sa.select(fund_links.c.web_url)).scalar().startswith("http")
