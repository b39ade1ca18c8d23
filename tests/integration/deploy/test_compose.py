"""docker-compose.yaml, .env.example and the Dockerfile checked without a Docker engine.

The compose file is interpolated from .env.example the way Compose does it, validated against the Compose
Specification's JSON schema (vendored next to this file, see compose-spec.SOURCE.md), and held to what
the code reads: connection ids, pool names and environment variables come from the package or from a grep
of its source, so renaming one there fails here. ``docker-compose config`` runs too when Debian's
docker-compose is installed (.ci/apt-packages lists it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml
from cryptography.fernet import Fernet

from classxpm.airflow.connections import (
    CLASS_DB_CONN_ID,
    STATE_CONN_ID,
    XPM_CONN_ID,
    database_url_from,
    get_connection,
)
from classxpm.airflow.hooks.xpm import XpmHook
from classxpm.demo import free_port
from classxpm.mapping.loader import MAPPINGS_DIR_ENV
from classxpm.source.demo_data import DEMO_BUSINESS_ID
from classxpm.state.crypto import KEY_ENV
from classxpm.state.migrations import upgrade
from classxpm.validation.report import REPORTS_ENV
from classxpm.xpm import config as xpm_defaults
from classxpm.xpm_sim.config import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from classxpm.xpm_sim.testing import SimulatorHandle

ROOT = Path(__file__).resolve().parents[3]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
ENV_EXAMPLE = ROOT / ".env.example"
SCHEMA = Path(__file__).with_name("compose-spec.json")

AIRFLOW_SERVICES = {
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-worker",
    "airflow-triggerer",
}
ALWAYS_ON = AIRFLOW_SERVICES | {"postgres", "redis"}
DEMO_ONLY = {"class-db", "class-db-seed", "xpm-sim", "xpm-sim-link"}
LIVE_ONLY = {"xpm-login"}
ONE_SHOT = {"airflow-init", "class-db-seed", "xpm-sim-link", "xpm-login"}
REQUIRED_SECRETS = {
    "AIRFLOW__CORE__FERNET_KEY",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__API__SECRET_KEY",
    "AIRFLOW_ADMIN_PASSWORD",
}
LIVE_XPM_URLS = (
    "XPM_API_BASE_URL",
    "XPM_AUTHORIZE_URL",
    "XPM_TOKEN_URL",
    "XPM_REVOCATION_URL",
    "XPM_CONNECTIONS_URL",
)

_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=value lines, skipping comments and blanks; values are literal (no quotes, no inline comments)."""
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key] = value
    return values


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's interpolation: $$, ${VAR}, $VAR, ${VAR:-default}, ${VAR-default}, ${VAR:?error}."""

    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["bare"]
        value, op = env.get(name), match["op"]
        if op in (":-", "-"):
            return (value or match["arg"]) if op == ":-" else (match["arg"] if value is None else value)
        if op in (":?", "?") and (value is None or (op == ":?" and not value)):
            raise ValueError(f"{name}: {match['arg']}")
        return value or ""

    return _VARIABLE.sub(substitute, text)


def interpolated(node: Any, env: dict[str, str]) -> Any:
    """Interpolate every string value of a loaded compose file."""
    if isinstance(node, dict):
        return {key: interpolated(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolated(value, env) for value in node]
    return interpolate(node, env) if isinstance(node, str) else node


def variables_used(text: str) -> set[str]:
    """Names of the variables a compose file interpolates (not the $$-escaped shell ones)."""
    return {m["braced"] or m["bare"] for m in _VARIABLE.finditer(text) if not m["escaped"]}


def compose_with(env: dict[str, str]) -> dict[str, Any]:
    """The compose file as Compose sees it with ``env``."""
    return interpolated(yaml.safe_load(COMPOSE_FILE.read_text()), env)


def enabled_services(compose: dict[str, Any], profiles: set[str]) -> set[str]:
    """Services Compose starts with these active profiles: those with no profile, or a matching one."""
    return {
        name
        for name, service in compose["services"].items()
        if not service.get("profiles") or profiles & set(service["profiles"])
    }


def source_env_vars() -> set[str]:
    """Environment variables the package reads, found by grepping its source (not by importing names)."""
    patterns = (
        r"os\.environ\.get\(\s*\"([A-Z][A-Z0-9_]+)\"",
        r"os\.getenv\(\s*\"([A-Z][A-Z0-9_]+)\"",
        r"os\.environ\[\s*\"([A-Z][A-Z0-9_]+)\"\]",
        r"envvar=\"([A-Z][A-Z0-9_]+)\"",
        r"^[A-Z_]*ENV\s*=\s*\"([A-Z][A-Z0-9_]+)\"",
    )
    found: set[str] = set()
    for path in (ROOT / "src" / "classxpm").rglob("*.py"):
        text = path.read_text()
        for pattern in patterns:
            found |= set(re.findall(pattern, text, flags=re.MULTILINE))
    return found


def source_pools() -> set[str]:
    """Pool names the DAG files and the package put tasks in."""
    names: set[str] = set()
    for path in [*(ROOT / "dags").glob("*.py"), *(ROOT / "src" / "classxpm").rglob("*.py")]:
        names |= set(re.findall(r"pool=\"([A-Za-z0-9_.-]+)\"", path.read_text()))
        names |= set(re.findall(r"^[A-Z_]*POOL\s*=\s*\"([A-Za-z0-9_.-]+)\"", path.read_text(), re.MULTILINE))
    return names


def env_files(compose: dict[str, Any], name: str) -> list[Path]:
    """The service's env_file entries, as paths (Compose reads them relative to the compose file)."""
    listed = compose["services"][name].get("env_file") or []
    return [COMPOSE_FILE.parent / entry for entry in ([listed] if isinstance(listed, str) else listed)]


def service_env(compose: dict[str, Any], name: str) -> dict[str, str]:
    """What a service's container gets: its env files, then its environment (which wins, as in Compose)."""
    environment = compose["services"][name].get("environment") or {}
    assert isinstance(environment, dict), f"{name}: environment as a mapping, so it can be checked"
    merged: dict[str, str] = {}
    for path in env_files(compose, name):
        merged |= read_env_file(path)
    return merged | {key: "" if value is None else str(value) for key, value in environment.items()}


def init_script(compose: dict[str, Any]) -> str:
    return compose["services"]["airflow-init"]["command"][-1]


@pytest.fixture(scope="module")
def example_env() -> dict[str, str]:
    return read_env_file(ENV_EXAMPLE)


@pytest.fixture(scope="module")
def compose(example_env: dict[str, str]) -> dict[str, Any]:
    return compose_with(example_env)


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA.read_text())
    # Its $schema reads "http://json-schema.org/draft/2019-09/schema#", a spelling jsonschema does not map.
    jsonschema.Draft201909Validator.check_schema(schema)
    return jsonschema.Draft201909Validator(schema)


def schema_errors(validator: jsonschema.protocols.Validator, document: dict[str, Any]) -> list[str]:
    """Schema errors, plus the spec's per-service constraint (an image or a build) the schema holds apart."""
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]
    constraint = validator.schema["definitions"]["constraints"]["service"]
    for name, service in document.get("services", {}).items():
        errors += [f"{name}: {e.message}" for e in validator.evolve(schema=constraint).iter_errors(service)]
    return errors


# --- the files themselves ---------------------------------------------------------------------------


def test_env_example_lines_read_the_same_in_compose_v1_and_v2() -> None:
    for number, line in enumerate(ENV_EXAMPLE.read_text().splitlines(), start=1):
        if line.strip() and not line.startswith("#"):
            assert re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", line), f".env.example:{number}: {line!r}"


def test_every_variable_the_compose_file_uses_is_named_in_env_example(example_env: dict[str, str]) -> None:
    used = variables_used(COMPOSE_FILE.read_text())
    assert used - set(example_env) == set(), "used in docker-compose.yaml but missing from .env.example"
    assert set(example_env) - used == {"COMPOSE_PROFILES"}, "named in .env.example but never used"


def test_no_secret_is_committed(example_env: dict[str, str]) -> None:
    secret_like = {key for key in example_env if re.search(r"SECRET|PASSWORD|FERNET", key)}
    demo_app_secret = {"XPM_CLIENT_SECRET"}
    assert {key for key in secret_like - demo_app_secret if example_env[key]} == set()
    assert example_env["XPM_CLIENT_SECRET"] == DEFAULT_CLIENT_SECRET, "only the simulator's published secret"
    assert example_env["XPM_CLIENT_ID"] == DEFAULT_CLIENT_ID
    assert ".env" in (ROOT / ".gitignore").read_text().splitlines()


def test_compose_file_validates_against_the_compose_specification(
    validator: jsonschema.protocols.Validator, compose: dict[str, Any]
) -> None:
    assert schema_errors(validator, compose) == []


def test_the_schema_check_catches_a_broken_file(
    validator: jsonschema.protocols.Validator, compose: dict[str, Any]
) -> None:
    broken = json.loads(json.dumps(compose))
    broken["services"]["airflow-worker"]["healthcheck"]["interval"] = 30
    broken["services"]["redis"]["restart_policy"] = "always"
    del broken["services"]["postgres"]["image"]
    assert len(schema_errors(validator, broken)) == 3


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="Debian's docker-compose is not installed")
def test_docker_compose_config_accepts_the_file_with_the_example_env() -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("COMPOSE_")}
    result = subprocess.run(
        ["docker-compose", "--env-file", str(ENV_EXAMPLE), "-f", str(COMPOSE_FILE), "config", "--quiet"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert (result.returncode, result.stderr) == (0, "")


def test_dockerfile_builds_on_the_pinned_airflow_and_python() -> None:
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", (ROOT / "requirements.txt").read_text(), re.M))
    locked = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", (ROOT / "constraints.txt").read_text(), re.M))
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    python = re.fullmatch(r">=(\d+\.\d+),<\d+\.\d+", requires).group(1)
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.findall(r"^FROM (\S+)", dockerfile, re.M) == [
        f"apache/airflow:{pins['apache-airflow']}-python{python}"
    ]
    assert locked["apache-airflow"] == pins["apache-airflow"]
    assert re.search(r"pip install .*-c /opt/classxpm/constraints\.txt /opt/classxpm\b", dockerfile)


# --- services, profiles, healthchecks, volumes ------------------------------------------------------


def test_services_and_profiles(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == ALWAYS_ON | DEMO_ONLY | LIVE_ONLY
    assert enabled_services(compose, {"demo"}) == ALWAYS_ON | DEMO_ONLY
    assert enabled_services(compose, {"live"}) == ALWAYS_ON | LIVE_ONLY
    assert compose["services"]["airflow-worker"]["command"] == "celery worker"
    assert service_env(compose, "airflow-worker")["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"


def test_live_services_never_wait_for_a_demo_service(compose: dict[str, Any]) -> None:
    for name in enabled_services(compose, {"live"}):
        waits_for = set(compose["services"][name].get("depends_on") or {})
        assert waits_for <= enabled_services(compose, {"live"}), name


def test_long_running_services_have_healthchecks_and_one_shots_do_not_restart(
    compose: dict[str, Any],
) -> None:
    for name, service in compose["services"].items():
        if name in ONE_SHOT:
            assert "restart" not in service, name
        else:
            assert service["healthcheck"]["test"], name
            assert service["restart"] == "always", name


def test_airflow_services_start_after_airflow_init(compose: dict[str, Any]) -> None:
    for name in AIRFLOW_SERVICES - {"airflow-init"} | {"xpm-sim-link", "xpm-login"}:
        depends_on = compose["services"][name]["depends_on"]
        assert depends_on["airflow-init"] == {"condition": "service_completed_successfully"}, name
        assert depends_on["postgres"] == {"condition": "service_healthy"}, name


def test_volumes_for_dags_plugins_include_logs_and_reports(compose: dict[str, Any]) -> None:
    env = service_env(compose, "airflow-worker")
    for name in AIRFLOW_SERVICES | {"xpm-sim-link", "xpm-login"}:
        mounts = dict(volume.split(":")[:2][::-1] for volume in compose["services"][name]["volumes"])
        assert mounts["/opt/airflow/dags"] == "./dags"
        assert mounts["/opt/airflow/plugins"] == "./plugins"
        assert mounts["/opt/airflow/include"] == "./include"
        assert mounts["/opt/airflow/logs"] in compose["volumes"]
        assert mounts[env[REPORTS_ENV]] in compose["volumes"]
    mappings = Path(env[MAPPINGS_DIR_ENV]).relative_to("/opt/airflow")
    assert (ROOT / mappings / "client.yaml").is_file()
    assert (ROOT / mappings / "contact.yaml").is_file()


# --- what the code reads ----------------------------------------------------------------------------


def test_every_airflow_service_gets_the_three_connections(compose: dict[str, Any]) -> None:
    for name in AIRFLOW_SERVICES | {"xpm-sim-link", "xpm-login"}:
        env = service_env(compose, name)
        for conn_id in (CLASS_DB_CONN_ID, STATE_CONN_ID, XPM_CONN_ID):
            assert env[f"AIRFLOW_CONN_{conn_id.upper()}"], (name, conn_id)


def test_environment_variables_match_the_ones_the_code_reads(compose: dict[str, Any]) -> None:
    read_by_code = source_env_vars()
    assert {KEY_ENV, REPORTS_ENV, MAPPINGS_DIR_ENV} <= read_by_code, "the grep still finds the known ones"
    ours = {name for name in read_by_code if name.startswith(("CLASSXPM_", "XPM_"))}
    set_in_compose = {key for name in compose["services"] for key in service_env(compose, name)}
    assert ours - set_in_compose == set(), "read by the code, never set by docker-compose.yaml"
    project_keys = {key for key in set_in_compose if key.startswith(("CLASSXPM_", "XPM_"))}
    assert project_keys - read_by_code == set(), "set by docker-compose.yaml, read by nothing"


def test_pools_the_tasks_use_are_created_by_airflow_init(compose: dict[str, Any]) -> None:
    from classxpm.airflow.sync_dag import XPM_POOL

    pools = source_pools()
    assert XPM_POOL in pools
    created = set(re.findall(r"airflow pools set (\S+) 5 ", init_script(compose)))
    assert created == pools


def test_example_connections_reach_the_demo_services(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in service_env(compose, "airflow-worker").items():
        if key.startswith("AIRFLOW_CONN_"):
            monkeypatch.setenv(key, value)
    config = XpmHook(XPM_CONN_ID).get_config()
    assert config.api_base_url == "http://xpm-sim:8765/practicemanager/3.1"
    assert config.token_url == "http://xpm-sim:8765/connect/token"
    assert (config.redirect_uri, config.scopes) == (
        xpm_defaults.DEFAULT_REDIRECT_URI,
        xpm_defaults.DEFAULT_SCOPES,
    )
    assert database_url_from(get_connection(CLASS_DB_CONN_ID)).startswith(
        "postgresql+psycopg://class:class@class-db:5432/class"
    )
    assert database_url_from(get_connection(STATE_CONN_ID)).endswith("@postgres:5432/classxpm_state")


def test_live_settings_point_the_xpm_connection_at_xero(
    example_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    live = {**example_env, **dict.fromkeys(LIVE_XPM_URLS, ""), "COMPOSE_PROFILES": "live"}
    live |= {"XPM_CLIENT_ID": "app-id", "XPM_CLIENT_SECRET": "app-secret", "XPM_TIMEOUT_SECONDS": "45"}
    live |= {"XPM_DAY_LIMIT": "1000"}  # Xero's Starter tier
    env = service_env(compose_with(live), "airflow-scheduler")
    monkeypatch.setenv("AIRFLOW_CONN_XPM_DEFAULT", env["AIRFLOW_CONN_XPM_DEFAULT"])
    config = XpmHook(XPM_CONN_ID).get_config()
    assert config.api_base_url == xpm_defaults.DEFAULT_API_BASE_URL
    assert config.authorize_url == xpm_defaults.DEFAULT_AUTHORIZE_URL
    assert config.token_url == xpm_defaults.DEFAULT_TOKEN_URL
    assert config.revocation_url == xpm_defaults.DEFAULT_REVOCATION_URL
    assert config.connections_url == xpm_defaults.DEFAULT_CONNECTIONS_URL
    assert (config.client_id, config.timeout_seconds) == ("app-id", 45.0)
    assert (config.day_limit, config.reserve) == (1000, 100), "the reserve is a share of the tenant's limit"


def test_state_database_is_created_where_its_connection_points(compose: dict[str, Any]) -> None:
    state = service_env(compose, "airflow-scheduler")[f"AIRFLOW_CONN_{STATE_CONN_ID.upper()}"]
    database = state.rsplit("/", 1)[1]
    init_sql = "\n".join(p.read_text() for p in sorted((ROOT / "deploy/postgres/initdb").glob("*.sql")))
    assert re.findall(r"^CREATE DATABASE (\w+);", init_sql, re.M) == [database]
    mounts = compose["services"]["postgres"]["volumes"]
    assert "./deploy/postgres/initdb:/docker-entrypoint-initdb.d:ro" in mounts
    assert "classxpm db upgrade" in init_script(compose)


def test_demo_services_agree_on_the_class_database_and_the_app(
    compose: dict[str, Any], example_env: dict[str, str]
) -> None:
    services = compose["services"]
    class_db = service_env(compose, "class-db")
    seed_url = re.search(r"--db (\S+)", services["class-db-seed"]["command"][-1]).group(1)
    user, password, database = (class_db[f"POSTGRES_{key}"] for key in ("USER", "PASSWORD", "DB"))
    expected = f"{user}:{password}@class-db:5432/{database}"
    assert seed_url == f"postgresql+psycopg://{expected}"
    assert example_env["AIRFLOW_CONN_CLASS_DB"] == f"postgresql://{expected}"
    sim = services["xpm-sim"]["command"]
    assert sim[sim.index("--client-id") + 1] == example_env["XPM_CLIENT_ID"]
    assert service_env(compose, "xpm-sim")["XPM_SIM_CLIENT_SECRET"] == example_env["XPM_CLIENT_SECRET"]
    assert example_env["XPM_API_BASE_URL"].startswith("http://xpm-sim:8765/")
    assert example_env["CLASSXPM_BUSINESS_ID"] == DEMO_BUSINESS_ID


@pytest.mark.parametrize(
    ("filled", "missing"),
    [
        (set(), REQUIRED_SECRETS),
        (REQUIRED_SECRETS - {"AIRFLOW__API_AUTH__JWT_SECRET"}, {"AIRFLOW__API_AUTH__JWT_SECRET"}),
        (REQUIRED_SECRETS, set()),
    ],
)
def test_airflow_init_stops_until_the_required_secrets_are_set(
    example_env: dict[str, str], filled: set[str], missing: set[str]
) -> None:
    env = {**example_env, **dict.fromkeys(filled, "set")}
    compose = compose_with(env)
    check = init_script(compose).split("mkdir -p")[0] + "echo checked\n"
    container_env = {**service_env(compose, "airflow-init"), "PATH": os.environ["PATH"]}
    result = subprocess.run(
        ["/bin/bash", "-c", check], env=container_env, capture_output=True, text=True, check=False
    )
    if missing:
        assert result.returncode == 1
        assert set(result.stderr.rsplit(":", 1)[1].split()) == missing
    else:
        assert (result.returncode, result.stdout) == (0, "checked\n")


def test_xpm_sim_link_authorises_the_demo_business_once(
    example_env: dict[str, str], xpm_sim: SimulatorHandle, tmp_path: Path
) -> None:
    sim_urls = {
        key: value.replace("http://xpm-sim:8765", xpm_sim.base_url) for key, value in example_env.items()
    }
    compose = compose_with(sim_urls)
    state_url = f"sqlite:///{tmp_path / 'state.db'}"
    upgrade(state_url)
    env = {
        **service_env(compose, "xpm-sim-link"),
        "AIRFLOW_CONN_CLASSXPM_STATE": json.dumps(
            {"conn_type": "generic", "extra": {"sqlalchemy_url": state_url}}
        ),
        "CLASSXPM_FERNET_KEY": Fernet.generate_key().decode(),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "AIRFLOW_HOME": os.environ["AIRFLOW_HOME"],
    }
    command = compose["services"]["xpm-sim-link"]["command"]
    script = command[-1].replace("--port 8766", f"--port {free_port()}")

    def link() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*command[:-1], script], env=env, capture_output=True, text=True, check=False, timeout=120
        )

    first, second = link(), link()
    assert (first.returncode, second.returncode) == (0, 0), first.stdout + first.stderr
    assert "Xero Integration Authorised (Demo Practice)" in first.stdout
    assert "Open this URL" not in second.stdout, "an authorised business is left as it is"
    assert second.stdout.startswith("Xero Integration Authorised\nTenant: Demo Practice")


def test_class_db_seed_fills_an_empty_database_and_leaves_a_filled_one(
    compose: dict[str, Any], pg_url: str
) -> None:
    command = compose["services"]["class-db-seed"]["command"]
    script = re.sub(r"--db \S+", f"--db {pg_url}", command[-1]).replace("--funds 200", "--funds 5")
    env = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}

    def seed() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["/bin/bash", *command[:-1], script],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )

    first, second = seed(), seed()
    assert (first.returncode, second.returncode) == (0, 0), first.stdout + second.stdout
    assert first.stdout.startswith("Wrote 5 funds")
    assert second.stdout.endswith("class-db-seed: class-db already holds Class data; left as it is.\n")


def test_the_cli_login_receives_xeros_redirect_through_a_port_published_on_loopback_only(
    compose: dict[str, Any],
) -> None:
    from classxpm.xpm.config import DEFAULT_REDIRECT_URI

    login = compose["services"]["xpm-login"]
    port = urlsplit(DEFAULT_REDIRECT_URI).port
    assert urlsplit(DEFAULT_REDIRECT_URI).hostname == "127.0.0.1"
    assert login["ports"] == [f"127.0.0.1:{port}:{port}"], "the host's loopback only, the redirect URI's port"
    assert "--listen-host 0.0.0.0" in login["command"][-1], "inside its container the login hears the port"


# --- one source of Airflow settings for compose and `make cluster` --------------------------------------


def test_every_airflow_service_reads_the_shared_settings_file_and_restates_none_of_them(
    compose: dict[str, Any],
) -> None:
    from classxpm.cluster import SETTINGS_FILE, read_settings

    shared = read_settings(SETTINGS_FILE)
    assert {"AIRFLOW__CORE__EXECUTOR", "AIRFLOW__CORE__HOSTNAME_CALLABLE"} <= set(shared)
    for name in AIRFLOW_SERVICES | {"xpm-sim-link", "xpm-login"}:
        assert env_files(compose, name) == [SETTINGS_FILE], name
        restated = set(compose["services"][name].get("environment") or {}) & set(shared)
        assert restated == set(), f"{name} sets again what deploy/airflow.env holds"
    assert read_env_file(SETTINGS_FILE) == shared, "the test's reader and the cluster's agree on the file"


def test_the_cluster_runs_with_the_compose_files_airflow_settings_key_by_key(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    from classxpm.cluster import LOCAL_TUNING, ClusterSpec, airflow_environment

    spec = ClusterSpec("classxpm_cluster", tmp_path, 11)
    keys = dict.fromkeys(("airflow_fernet_key", "classxpm_fernet_key", "jwt_secret", "api_secret_key"), "k")
    ports = {"api": 18080, "sim": 18765, "scheduler_health": 18974}
    cluster = airflow_environment(spec, ports, keys | {"admin_password": "p"}, base={})
    worker = service_env(compose, "airflow-worker")
    shared = read_env_file(ROOT / "deploy" / "airflow.env")
    differ = {key for key in shared if cluster[key] != worker[key]}
    assert differ == set(LOCAL_TUNING) & set(shared), "only the listed local tuning differs"
    assert cluster["AIRFLOW__CORE__EXECUTOR"] == worker["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert set(LOCAL_TUNING) <= {
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_SEC",
        "CLASSXPM_RETRY_DELAY_SECONDS",
        "AIRFLOW__API__WORKERS",
        "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT",
        "AIRFLOW__CELERY__WORKER_CONCURRENCY",
    }, "a local cluster shortens timings and sizes, never what the pipeline does"
    # The cluster reads the demo Class database; class_api is the compose file's other source, unused there.
    connections = {key for key in worker if key.startswith("AIRFLOW_CONN_")} - {"AIRFLOW_CONN_CLASS_API"}
    assert connections == {key for key in cluster if key.startswith("AIRFLOW_CONN_")}
