"""Run one task's own code in a child process, so a test can kill -9 it at a moment the test picks.

``python task_child.py upsert '<run ref JSON>'`` runs the sync's upsert step through the task glue;
``python task_child.py refresh`` runs the xpm_token_refresh task. Connections come from AIRFLOW_CONN_*.
"""

from __future__ import annotations

import json
import sys


def main(argv: list[str]) -> None:
    if argv[1] == "upsert":
        from classxpm.airflow.sync_tasks import run_step
        from classxpm.sync import steps
        from classxpm.sync.run import RunRef

        ref = RunRef.from_xcom(json.loads(argv[2]))
        print(json.dumps(run_step(lambda env: steps.upsert_funds(env, ref))))
    elif argv[1] == "refresh":
        from classxpm.airflow.token_refresh import refresh_all_grants

        print(json.dumps(refresh_all_grants()))
    else:
        raise SystemExit(f"unknown task {argv[1]!r}")


if __name__ == "__main__":
    main(sys.argv)
