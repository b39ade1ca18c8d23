"""The whole sync from the Class API source, against the Class and XPM simulators, leaves XPM exactly as
the Class database source does for the same demo data: a full run, a change in Class, an incremental run."""

from __future__ import annotations

import pytest

from classxpm.airflow.connections import database_connection
from classxpm.xpm_sim.records import CLIENT_FLAG_FIELDS, CLIENT_TEXT_FIELDS, CONTACT_TEXT_FIELDS
from fixtures.class_api import class_api_connection
from fixtures.sync_world import ROOT, authorise, connection_env

FUNDS, SEED = 30, 11
PHONE, EMAIL = "03 9999 0000", "changed.member@example.com"


def _run(dag_id: str) -> str:
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(ROOT / "dags" / f"{dag_id}.py")).dags[dag_id]
    for task in dag.tasks:
        task.retries = 0
    return str(dag.test().state)


def _xpm(sim) -> dict[str, tuple[dict, list]]:
    """Every client by ExportCode with its fields and its contacts' fields: what XPM holds, no ids."""
    state = sim.state()
    contacts = {contact["UUID"]: contact for contact in state["contacts"]}
    held = {}
    for client in state["clients"]:
        fields = {name: client.get(name) for name in (*CLIENT_TEXT_FIELDS, *CLIENT_FLAG_FIELDS)}
        linked = [
            {
                **{name: contacts[link["UUID"]].get(name) for name in CONTACT_TEXT_FIELDS},
                "Position": link.get("Position"),
                "IsPrimary": link.get("IsPrimary"),
            }
            for link in client.get("_contacts", [])
        ]
        held[client["ExportCode"]] = (fields, sorted(linked, key=repr))
    return held


def _writes(sim) -> int:
    by_endpoint = sim.calls()["by_endpoint"]
    return sum(n for key, n in by_endpoint.items() if key.split()[0] in {"POST", "PUT"} and ".api/" in key)


@pytest.fixture
def worlds(tmp_path, pg_url, xpm_sim, class_sim, fernet_key, monkeypatch):
    from classxpm.source.demo_data import write_demo_data
    from classxpm.xpm.governor import PROCESS_GOVERNORS

    class_url = f"sqlite:///{tmp_path / 'class.db'}"
    write_demo_data(class_url, FUNDS, SEED)
    class_sim.seed(FUNDS, SEED)
    xpm_sim.patch_config(minute_limit=100_000)
    PROCESS_GOVERNORS.forget()
    monkeypatch.setenv("CLASSXPM_REPORTS_DIR", str(tmp_path / "reports"))
    return class_url


def _sync_from_database(class_url, state_url, xpm_sim, monkeypatch) -> tuple[dict, int]:
    import sqlalchemy as sa

    from classxpm.source.demo_data import DEMO_BUSINESS_ID
    from classxpm.state.migrations import upgrade

    upgrade(state_url)
    for name, value in connection_env(class_url, state_url, xpm_sim, minute_limit=100_000).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CLASSXPM_SOURCE", "class_db")
    authorise(state_url, xpm_sim, DEMO_BUSINESS_ID)
    assert _run("class_xpm_sync") == "success"
    engine = sa.create_engine(class_url)
    with engine.begin() as conn:
        fund_id, member_id = _changed(conn)
        conn.execute(
            sa.text("UPDATE funds SET phone = :p, updated_at = '2030-01-01' WHERE fund_id = :f"),
            {"p": PHONE, "f": fund_id},
        )
        conn.execute(
            sa.text("UPDATE members SET email = :e, updated_at = '2030-01-01' WHERE member_id = :m"),
            {"e": EMAIL, "m": member_id},
        )
    engine.dispose()
    xpm_sim.admin.delete("/_sim/calls")
    assert _run("class_xpm_incremental") == "success"
    return _xpm(xpm_sim), _writes(xpm_sim)


def _changed(conn) -> tuple[str, str]:
    """A fund (the fifth by code) and its first member: what is changed 'in Class' between the runs."""
    import sqlalchemy as sa

    fund_id = conn.execute(
        sa.text("SELECT fund_id FROM funds ORDER BY scope_code LIMIT 1 OFFSET 4")
    ).scalar_one()
    member_id = conn.execute(
        sa.text("SELECT member_id FROM members WHERE fund_id = :f ORDER BY created_at, member_id LIMIT 1"),
        {"f": fund_id},
    ).scalar_one()
    return fund_id, member_id


def test_the_api_source_leaves_xpm_exactly_as_the_database_source_does(
    worlds, tmp_path, pg_url, xpm_sim, class_sim, monkeypatch
):
    import sqlalchemy as sa

    from classxpm.db import make_engine
    from classxpm.mapping.api_source import load_api_source_mapping
    from classxpm.source.class_api.source import ClassApiSource
    from classxpm.source.demo_data import DEMO_BUSINESS_ID
    from classxpm.state.class_grants import ClassGrantStore
    from classxpm.state.crypto import load_cipher
    from classxpm.state.migrations import upgrade
    from fixtures.class_api import class_api_config

    class_url = worlds
    from_database, database_writes = _sync_from_database(
        class_url, f"sqlite:///{tmp_path / 'state.db'}", xpm_sim, monkeypatch
    )

    xpm_sim.reset()
    xpm_sim.patch_config(minute_limit=100_000)
    upgrade(pg_url)
    monkeypatch.setenv("AIRFLOW_CONN_CLASSXPM_STATE", database_connection(pg_url))
    monkeypatch.delenv("AIRFLOW_CONN_CLASS_DB")  # the API source never reads the Class database
    monkeypatch.setenv("AIRFLOW_CONN_CLASS_API", class_api_connection(class_sim))
    monkeypatch.setenv("CLASSXPM_SOURCE", "class_api")
    source = ClassApiSource(class_api_config(class_sim), load_api_source_mapping())
    state = make_engine(pg_url)
    ClassGrantStore(state, load_cipher()).save(DEMO_BUSINESS_ID, "password", source.identity.password_grant())
    source.close()
    authorise(pg_url, xpm_sim, DEMO_BUSINESS_ID)
    assert _run("class_xpm_sync") == "success"

    engine = sa.create_engine(class_url)
    with engine.connect() as conn:
        fund_id, member_id = _changed(conn)
        code = conn.execute(
            sa.text("SELECT scope_code FROM funds WHERE fund_id = :f"), {"f": fund_id}
        ).scalar_one()
    engine.dispose()
    class_sim.change_fund(code, {"phone": PHONE}, [{"member_id": member_id, "email": EMAIL}])
    xpm_sim.admin.delete("/_sim/calls")
    class_sim.clear_calls()
    assert _run("class_xpm_incremental") == "success"
    from_api = _xpm(xpm_sim)
    state.dispose()

    assert from_api == from_database
    assert len(from_api) > FUNDS * 0.8, "the funds that pass the gate are in XPM"
    changed = from_api[code]
    assert changed[0]["Phone"] == PHONE
    assert EMAIL in {contact["Email"] for contact in changed[1]}
    assert _writes(xpm_sim) == database_writes > 0, "only the changed fund went on to XPM"
    assert class_sim.calls() == {"GET fund-list": 1, "GET fund-reference-data-export": FUNDS}
