"""``make cluster``: a real Airflow deployment on this machine, with the CeleryExecutor and two workers.

Everything runs from the project's own files on the services every machine here has: the Airflow metadata
database, the pipeline's state database and a demo Class database are PostgreSQL databases of the
cluster's own on 127.0.0.1:5432, and Celery's broker is a Redis database number of its own on
127.0.0.1:6379. It starts the XPM simulator, authorises the demo business against it headlessly (as
``make demo`` and the compose ``xpm-sim-link`` service do), then Airflow's scheduler, dag-processor,
triggerer, api-server and two Celery workers, each named in its task instances' ``hostname``.

Airflow's settings come from ``deploy/airflow.env``, the file docker-compose.yaml reads too; the cluster
adds its own addresses and secrets, and shortens only what ``LOCAL_TUNING`` lists. Every process it starts
leads a process group of its own and is recorded by pid (with its start time, so a reused pid is never
taken for it) in ``<run folder>/cluster.json``; ``down`` stops exactly those groups. Databases and the run
folder stay unless ``down --drop`` is asked for.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

ROOT = Path(__file__).resolve().parents[2]
SETTINGS_FILE = ROOT / "deploy" / "airflow.env"
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
WORKERS = ("worker-1", "worker-2")
"""The workers a cluster starts by default; ``--workers N`` names them worker-1 to worker-N."""
ADMIN = "admin"
XPM_POOL_SLOTS = 5
START_TIMEOUT = 900.0
"""Seconds the whole start may take: Airflow starts slowly on 2 busy cores; every wait ends on a condition."""
STOP_TIMEOUT = 30.0

LOCAL_TUNING = {
    # A worker killed on this machine is noticed within half a minute, not five...
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_SEC": "3",
    # ...and its task retried seconds later, on another worker.
    "CLASSXPM_RETRY_DELAY_SECONDS": "3",
    # Two cores shared with other work: one API server process, and patience with its answers...
    "AIRFLOW__API__WORKERS": "1",
    # ...and two task slots a worker, not four: four task processes already keep both cores busy, and the
    # cluster's three databases share one PostgreSQL (100 connections) with whatever else runs here.
    "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
    "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "60",
}
"""The only shared settings a local cluster changes, each for a reason given above."""


def read_settings(path: Path = SETTINGS_FILE) -> dict[str, str]:
    """``KEY=value`` lines of an env file (as Compose reads ``env_file``), skipping comments and blanks."""
    settings = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not re.fullmatch(r"[A-Z_][A-Z0-9_]*", key):
            raise click.ClickException(f"{path}:{number}: expected KEY=value, got {line!r}")
        settings[key] = value
    return settings


@dataclass(frozen=True)
class ClusterSpec:
    """Which cluster: its name (databases and Celery queue), run folder, Redis database and demo size.

    Clusters of different names share a Redis database safely: each has a Celery queue of its own.
    """

    name: str
    run_dir: Path
    redis_db: int
    funds: int = 200
    time_scale: float = 30.0
    minute_limit: int | None = None
    day_limit: int | None = None
    workers: int = len(WORKERS)
    pg_admin_url: str = PG_ADMIN_URL
    settings: tuple[tuple[str, str], ...] = ()
    """Settings every process gets after ``LOCAL_TUNING`` (a bench's log levels); none in ``make cluster``."""

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z][a-z_]*", self.name):
            raise click.ClickException(f"cluster name {self.name!r}: lower-case letters and _ only")

    @property
    def worker_names(self) -> tuple[str, ...]:
        """The names its Celery workers report as their task instances' hostname."""
        return tuple(f"worker-{n}" for n in range(1, self.workers + 1))

    def database(self, role: str) -> str:
        """The PostgreSQL database name of one of the cluster's roles: airflow, state or class."""
        return f"{self.name}_{role}"

    def database_url(self, role: str, driver: str = "postgresql+psycopg") -> str:
        """The URL of one of the cluster's databases, on the admin URL's server."""
        import sqlalchemy as sa

        url = sa.make_url(self.pg_admin_url).set(drivername=driver, database=self.database(role))
        return url.render_as_string(hide_password=False)

    @property
    def state_file(self) -> Path:
        """Where the started processes, ports and URLs are recorded."""
        return self.run_dir / "cluster.json"

    @property
    def secrets_file(self) -> Path:
        """Keys and the admin password, made once and kept: the state database stays encrypted with them."""
        return self.run_dir / "secrets.json"


def _secrets(spec: ClusterSpec) -> dict[str, str]:
    if spec.secrets_file.exists():
        return json.loads(spec.secrets_file.read_text())
    from cryptography.fernet import Fernet

    made = {
        "airflow_fernet_key": Fernet.generate_key().decode(),
        "classxpm_fernet_key": Fernet.generate_key().decode(),
        "jwt_secret": secrets.token_hex(32),
        "api_secret_key": secrets.token_hex(32),
        "admin_password": secrets.token_urlsafe(18),
    }
    spec.run_dir.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(spec.secrets_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as out:
        json.dump(made, out)
    return made


def airflow_environment(
    spec: ClusterSpec, ports: Mapping[str, int], keys: Mapping[str, str], base: Mapping[str, str] = os.environ
) -> dict[str, str]:
    """The environment every cluster process runs with.

    The shared settings (``deploy/airflow.env``), then the cluster's own addresses, secrets and connections,
    then ``LOCAL_TUNING``. Airflow settings and connections inherited from ``base`` are dropped, so nothing
    from the calling shell (``make`` exports a few) changes what the cluster runs.
    """
    from classxpm.airflow.connections import database_connection
    from classxpm.demo import xpm_connection

    api_url = f"http://127.0.0.1:{ports['api']}"
    airflow_db = spec.database_url("airflow", "postgresql+psycopg2")
    env = {k: v for k, v in base.items() if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "CLASSXPM_"))}
    env |= read_settings()
    env |= {
        "AIRFLOW_HOME": str(spec.run_dir / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__CORE__FERNET_KEY": keys["airflow_fernet_key"],
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(spec.run_dir / "passwords.json"),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api_url}/execution/",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": airflow_db,
        "AIRFLOW__CELERY__BROKER_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/{spec.redis_db}",
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + airflow_db.replace("+psycopg2", ""),
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE": spec.name,
        "AIRFLOW__API_AUTH__JWT_SECRET": keys["jwt_secret"],
        "AIRFLOW__API__SECRET_KEY": keys["api_secret_key"],
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(ports["api"]),
        "AIRFLOW__API__BASE_URL": api_url,
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(ports["scheduler_health"]),
        "AIRFLOW_CONN_CLASS_DB": database_connection(spec.database_url("class")),
        "AIRFLOW_CONN_CLASSXPM_STATE": database_connection(spec.database_url("state")),
        "AIRFLOW_CONN_XPM_DEFAULT": xpm_connection(
            f"http://127.0.0.1:{ports['sim']}",
            spec.time_scale,
            minute_limit=spec.minute_limit,
            day_limit=spec.day_limit,
        ),
        "AIRFLOW_CONN_AIRFLOW_API": json.dumps(
            {"conn_type": "http", "host": api_url, "login": ADMIN, "password": keys["admin_password"]}
        ),
        "CLASSXPM_FERNET_KEY": keys["classxpm_fernet_key"],
        "CLASSXPM_REPORTS_DIR": str(spec.run_dir / "reports"),
    }
    return env | LOCAL_TUNING | dict(spec.settings)


def cluster_environment(spec: ClusterSpec, state: Mapping[str, Any]) -> dict[str, str]:
    """The environment of a started cluster's processes (its recorded ports, its secrets), for one more."""
    return airflow_environment(spec, state["ports"], _secrets(spec))


# --- processes, recorded by pid -------------------------------------------------------------------------


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (``/proc/<pid>/stat`` field 22), None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return None if fields[0] == "Z" else fields[19]


def is_running(record: Mapping[str, Any]) -> bool:
    """True while the recorded process (same pid, same start time) is alive."""
    return _start_time(record["pid"]) == record["started"]


def _load(spec: ClusterSpec) -> dict[str, Any]:
    return json.loads(spec.state_file.read_text()) if spec.state_file.exists() else {}


def _save(spec: ClusterSpec, state: Mapping[str, Any]) -> None:
    spec.run_dir.mkdir(parents=True, exist_ok=True)
    temporary = spec.state_file.with_suffix(".tmp")
    temporary.write_text(json.dumps(state, indent=2))
    temporary.replace(spec.state_file)


def _spawn(
    spec: ClusterSpec, state: dict[str, Any], name: str, argv: list[str], env: Mapping[str, str]
) -> None:
    """Start a long-running component and record it (pid, start time, log) at once."""
    process = _one_off(spec, name, argv, env)
    log = str(spec.run_dir / "logs" / f"{name}.log")
    state["processes"][name] = {"pid": process.pid, "started": _start_time(process.pid), "log": log}
    _save(spec, state)


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def _wait(what: str, ready: Callable[[], bool], state: Mapping[str, Any], deadline: float) -> None:
    """Poll ``ready`` until it holds; fail at once, with the log's tail, if a recorded process exits."""
    while time.monotonic() < deadline:
        for name, record in state["processes"].items():
            if not is_running(record):
                tail = Path(record["log"]).read_text(errors="replace")[-3000:]
                raise click.ClickException(f"{name} exited while waiting for {what}:\n{tail}")
        if ready():
            return
        time.sleep(0.5)
    raise click.ClickException(f"gave up waiting for {what} after {START_TIMEOUT:.0f} s")


def _answers(url: str, check: Callable[[Any], bool] = lambda _: True) -> bool:
    import httpx

    try:
        answer = httpx.get(url, timeout=5)
    except httpx.TransportError:
        return False
    return answer.status_code == 200 and check(answer)


def _all_healthy(answer: Any) -> bool:
    body = answer.json()
    parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
    return all((body.get(part) or {}).get("status") == "healthy" for part in parts)


def _logged(path: str, pattern: str) -> bool:
    return bool(re.search(pattern, Path(path).read_text(errors="replace")))


# --- databases and one-off set-up -----------------------------------------------------------------------


def create_databases(spec: ClusterSpec) -> None:
    """Create the cluster's three databases where missing (a bench fills the Class one before ``up``)."""
    import sqlalchemy as sa

    admin = sa.create_engine(spec.pg_admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            existing = set(conn.execute(sa.text("SELECT datname FROM pg_database")).scalars())
            for role in ("airflow", "state", "class"):
                if spec.database(role) not in existing:
                    conn.execute(sa.text(f'CREATE DATABASE "{spec.database(role)}"'))
    except sa.exc.OperationalError as exc:
        raise click.ClickException(f"PostgreSQL is not answering at 127.0.0.1:5432: {exc.orig}") from None
    finally:
        admin.dispose()


def drop_databases(spec: ClusterSpec) -> list[str]:
    """Drop the cluster's three databases; returns the names dropped."""
    import sqlalchemy as sa

    admin = sa.create_engine(spec.pg_admin_url, isolation_level="AUTOCOMMIT")
    names = [spec.database(role) for role in ("airflow", "state", "class")]
    with admin.connect() as conn:
        for name in names:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
    return names


def _empty_queue(spec: ClusterSpec) -> None:
    """Delete the cluster's Celery queue (named after it) and its binding; other queues in the db stay."""
    import redis

    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=spec.redis_db)
    client.delete(spec.name, f"_kombu.binding.{spec.name}")
    client.close()


def _check_redis(spec: ClusterSpec) -> None:
    import redis

    try:
        redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=spec.redis_db, socket_timeout=5).ping()
    except redis.RedisError as exc:
        raise click.ClickException(f"Redis is not answering at {REDIS_HOST}:{REDIS_PORT}: {exc}") from None


def _one_off(spec: ClusterSpec, name: str, argv: list[str], env: Mapping[str, str]) -> subprocess.Popen:
    """Start ``argv`` as the leader of a new session (its own process group), its output to its log."""
    logs = spec.run_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with (logs / f"{name}.log").open("ab") as out:
        return subprocess.Popen(  # noqa: S603 - our own console scripts, arguments built here
            argv,
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def _finish(spec: ClusterSpec, name: str, job: subprocess.Popen, deadline: float) -> None:
    """Wait for a one-off command; its log's tail in the error when it fails."""
    try:
        code = job.wait(timeout=max(deadline - time.monotonic(), 1))
    except subprocess.TimeoutExpired:
        raise click.ClickException(f"{name} did not finish within {START_TIMEOUT:.0f} s") from None
    if code:
        tail = (spec.run_dir / "logs" / f"{name}.log").read_text(errors="replace")[-3000:]
        raise click.ClickException(f"{name} failed (exit {code}):\n{tail}")


def _prepare_pipeline(spec: ClusterSpec, keys: Mapping[str, str]) -> None:
    """The sign-in file, the state database at head, and the demo Class database when it has no tables."""
    import sqlalchemy as sa

    from classxpm.source.demo_data import write_demo_data
    from classxpm.state.migrations import upgrade

    passwords = spec.run_dir / "passwords.json"
    passwords.write_text(json.dumps({ADMIN: keys["admin_password"]}))
    passwords.chmod(0o600)
    upgrade(spec.database_url("state"))
    engine = sa.create_engine(spec.database_url("class"))
    with engine.connect() as conn:
        filled = sa.inspect(conn).has_table("funds")
    engine.dispose()
    if not filled:
        write_demo_data(spec.database_url("class"), spec.funds)


def _authorise(env: Mapping[str, str]) -> str:
    from classxpm.demo import authorise
    from classxpm.source.demo_data import DEMO_BUSINESS_ID

    status = subprocess.run(  # noqa: S603
        [_bin("classxpm"), "auth", "status", "--business", DEMO_BUSINESS_ID],
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
    )
    if status.returncode == 0:
        return status.stdout.splitlines()[0]
    return authorise(DEMO_BUSINESS_ID, dict(env))


# --- up and down ----------------------------------------------------------------------------------------


def up(spec: ClusterSpec, echo: Callable[[str], None] = click.echo) -> dict[str, Any]:
    """Start the cluster, or leave it be when every recorded process is still running; returns its state."""
    state = _load(spec)
    records = state.get("processes", {})
    if records and all(is_running(record) for record in records.values()):
        echo(f"The cluster is already up: {state['api_url']} (make cluster-down stops it)")
        return state
    if any(is_running(record) for record in records.values()):
        down(spec, echo=echo)
    _check_redis(spec)
    create_databases(spec)
    keys = _secrets(spec)
    from classxpm.demo import free_port

    ports = {"api": free_port(), "sim": free_port(), "scheduler_health": free_port()}
    env = airflow_environment(spec, ports, keys)
    state = {
        "name": spec.name,
        "api_url": f"http://127.0.0.1:{ports['api']}",
        "sim_url": f"http://127.0.0.1:{ports['sim']}",
        "redis_db": spec.redis_db,
        "ports": ports,
        "databases": {role: spec.database(role) for role in ("airflow", "state", "class")},
        "processes": {},
    }
    _save(spec, state)
    deadline = time.monotonic() + START_TIMEOUT
    try:
        _start(spec, state, env=env, keys=keys, ports=ports, deadline=deadline, echo=echo)
    except BaseException:
        down(spec, echo=echo)
        raise
    return state


def _start(
    spec: ClusterSpec,
    state: dict[str, Any],
    *,
    env: Mapping[str, str],
    keys: Mapping[str, str],
    ports: Mapping[str, int],
    deadline: float,
    echo: Callable[[str], None],
) -> None:
    _empty_queue(spec)
    airflow = _bin("airflow")
    jobs = {"airflow-db-migrate": _one_off(spec, "airflow-db-migrate", [airflow, "db", "migrate"], env)}
    try:
        _prepare_pipeline(spec, keys)
        databases = ", ".join(state["databases"].values())
        echo(f"1. Databases {databases} on 127.0.0.1:5432; Celery on Redis db {spec.redis_db}")
        _start_simulator(spec, state, env, ports["sim"], deadline)
        echo(f"2. XPM simulator on {state['sim_url']}; {_authorise(env)}")
        _finish(spec, "airflow-db-migrate", jobs["airflow-db-migrate"], deadline)
        description = "Calls to Xero Practice Manager: Xero allows 5 at once per tenant"
        pools = [airflow, "pools", "set", "xpm_api", str(XPM_POOL_SLOTS), description]
        jobs["airflow-pools"] = _one_off(spec, "airflow-pools", pools, env)
        _start_airflow(spec, state, env, deadline)
        _finish(spec, "airflow-pools", jobs["airflow-pools"], deadline)
    finally:
        for job in jobs.values():
            if job.poll() is None:
                _signal_group(job.pid, signal.SIGKILL)
                job.wait()
    parts = f"scheduler, dag-processor, triggerer, api-server, {spec.workers} Celery workers"
    echo(f"3. Airflow on {state['api_url']}: {parts}")
    echo(f"   Sign in as {ADMIN}; the password is in {spec.secrets_file} (admin_password)")
    echo(f"   Logs in {spec.run_dir / 'logs'}; make cluster-down stops it all")


def _start_simulator(
    spec: ClusterSpec, state: dict[str, Any], env: Mapping[str, str], port: int, deadline: float
) -> None:
    from classxpm.demo import SIM_CLIENT_ID, SIM_CLIENT_SECRET

    sim = [_bin("classxpm"), "xpm-sim", "serve", "--port", str(port), "--auto-approve"]
    sim += ["--state", str(spec.run_dir / "xpm-sim.db"), "--time-scale", str(spec.time_scale)]
    sim += ["--client-id", SIM_CLIENT_ID]
    if spec.minute_limit:
        sim += ["--minute-limit", str(spec.minute_limit)]
    if spec.day_limit:
        sim += ["--day-limit", str(spec.day_limit)]
    _spawn(spec, state, "xpm-sim", sim, {**env, "XPM_SIM_CLIENT_SECRET": SIM_CLIENT_SECRET})
    _wait("the XPM simulator", lambda: _answers(f"{state['sim_url']}/_sim/health"), state, deadline)


def _start_airflow(spec: ClusterSpec, state: dict[str, Any], env: Mapping[str, str], deadline: float) -> None:
    """Start Airflow's components and the workers; return once Airflow is healthy and the workers ready."""
    airflow = _bin("airflow")
    _spawn(spec, state, "scheduler", [airflow, "scheduler"], env)
    _spawn(spec, state, "dag-processor", [airflow, "dag-processor"], env)
    _spawn(spec, state, "triggerer", [airflow, "triggerer", "--skip-serve-logs"], env)
    _spawn(spec, state, "api-server", [airflow, "api-server"], env)
    for worker in spec.worker_names:
        argv = [airflow, "celery", "worker", "--queues", spec.name, "--celery-hostname", f"{worker}@%h"]
        _spawn(spec, state, worker, [*argv, "--skip-serve-logs"], {**env, "CLASSXPM_WORKER_NAME": worker})
    health = f"{state['api_url']}/api/v2/monitor/health"
    _wait("Airflow's health check", lambda: _answers(health, _all_healthy), state, deadline)
    for worker in spec.worker_names:
        log = state["processes"][worker]["log"]
        _wait(f"{worker} to be ready", lambda log=log: _logged(log, r"\bready\."), state, deadline)


def down(
    spec: ClusterSpec,
    drop: bool = False,
    remove_files: bool = False,
    echo: Callable[[str], None] = click.echo,
) -> list[str]:
    """Stop each recorded component: SIGTERM to its group, then SIGKILL to whatever is left in its session.

    Returns the names of the components that were running.

    With ``drop``, the cluster's databases and Celery queue go too; with ``remove_files``, its run folder.
    """
    state = _load(spec)
    running = {name: r for name, r in state.get("processes", {}).items() if is_running(r)}
    for record in running.values():
        _signal_group(record["pid"], signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline and any(session_processes(r["pid"]) for r in running.values()):
        time.sleep(0.2)
    for record in running.values():
        kill_session(record["pid"])
    if state:
        state["processes"] = {}
        _save(spec, state)
    echo(f"Stopped {', '.join(running) or 'nothing (no recorded process was running)'}")
    if drop:
        dropped = ", ".join(drop_databases(spec))
        echo(f"Dropped {dropped} and Celery queue {spec.name} (Redis db {spec.redis_db})")
        _empty_queue(spec)
    if remove_files:
        import shutil

        shutil.rmtree(spec.run_dir, ignore_errors=True)
    return list(running)


def session_processes(sid: int) -> list[int]:
    """Every live process of session ``sid``: a component and all it started, task processes included.

    Airflow's task supervisor puts each task process in a process group of its own, so a component's
    process group alone would miss them; they stay in the session the component leads.
    """
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[3]) == sid:
            found.append(int(entry.name))
    return found


def kill_session(sid: int, signum: int = signal.SIGKILL) -> list[int]:
    """Send ``signum`` to every process of session ``sid``; returns their pids."""
    pids = session_processes(sid)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)
    return pids


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signum)


# --- command line ---------------------------------------------------------------------------------------


def _spec_options(function: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--name", default="classxpm_cluster", show_default=True, help="Prefix of its databases."
        ),
        click.option(
            "--run-dir",
            type=click.Path(path_type=Path),
            default=Path(".cluster"),
            show_default=True,
            help="Where its pids, logs, secrets and Airflow home live.",
        ),
        click.option("--redis-db", type=click.IntRange(0, 15), default=11, show_default=True),
    ]
    for option in reversed(options):
        function = option(function)
    return function


@click.group()
def main() -> None:
    """A local Airflow cluster: CeleryExecutor, two workers, the XPM simulator and the demo business."""


@main.command("up")
@_spec_options
@click.option("--funds", default=200, show_default=True, help="Demo funds in a new Class database.")
@click.option("--time-scale", default=30.0, show_default=True, help="The simulator's speed-up of time.")
@click.option("--minute-limit", type=int, help="XPM calls per tenant a minute, simulator and client [60].")
@click.option("--day-limit", type=int, help="XPM calls per tenant a day, simulator and client [5000].")
@click.option("--workers", type=click.IntRange(1, 16), default=len(WORKERS), show_default=True)
def up_command(name: str, run_dir: Path, redis_db: int, **demo: Any) -> None:
    """Start the cluster (nothing is started twice)."""
    up(ClusterSpec(name, run_dir.resolve(), redis_db, **demo))


@main.command("down")
@_spec_options
@click.option("--drop", is_flag=True, help="Also drop its databases, Celery queue and run folder.")
def down_command(name: str, run_dir: Path, redis_db: int, drop: bool) -> None:
    """Stop every process the cluster started, by pid."""
    down(ClusterSpec(name, run_dir.resolve(), redis_db), drop=drop, remove_files=drop)


if __name__ == "__main__":
    main()
