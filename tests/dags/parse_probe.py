"""Parse the DAG folder in a fresh interpreter and report what parsing did.

Run as a script by tests/dags/test_integrity.py: it counts SQL statements, connection and Variable
look-ups and network connects made while the DagBag is filled, and which heavy modules got imported,
then prints one JSON object. A fresh process matters: in the test process these modules may already
be loaded by other tests.
"""

from __future__ import annotations

import json
import socket
import sys

import sqlalchemy as sa

HEAVY_MODULES = ("pandas", "great_expectations", "scipy", "authlib", "classxpm.xpm_sim")

statements: list[str] = []
lookups: list[str] = []


@sa.event.listens_for(sa.engine.Engine, "before_cursor_execute")
def _count_statement(_conn, _cursor, statement, *_args) -> None:
    statements.append(statement)


def _refuse_network(*_args, **_kwargs):
    lookups.append("network")
    raise OSError("network use at DAG parse time")


def _refuse_lookup(kind):
    def refuse(*args, **_kwargs):
        lookups.append(f"{kind}:{args[-1] if args else ''}")
        raise RuntimeError(f"{kind} look-up at DAG parse time")

    return classmethod(refuse)


def main(dag_folder: str) -> None:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk import BaseHook, Variable

    socket.socket.connect = _refuse_network
    BaseHook.get_connection = _refuse_lookup("connection")
    Variable.get = _refuse_lookup("variable")
    bag = DagBag(dag_folder=dag_folder)
    dags = {
        dag_id: {
            "tags": sorted(dag.tags),
            "catchup": dag.catchup,
            "owners": sorted({task.owner for task in dag.tasks}),
            "min_retries": min((task.retries for task in dag.tasks), default=0),
            "tasks": len(dag.tasks),
        }
        for dag_id, dag in bag.dags.items()
    }
    report = {
        "import_errors": {path: str(err) for path, err in bag.import_errors.items()},
        "dags": dags,
        "statements": statements,
        "lookups": lookups,
        "heavy_modules": [m for m in HEAVY_MODULES if m in sys.modules],
    }
    print("PROBE-REPORT " + json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1])
