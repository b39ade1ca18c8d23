"""The cluster's pure parts: the shared settings file, process records, worker names, the retry delay."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import click
import pytest

from classxpm.airflow.hostname import WORKER_NAME_ENV, worker_hostname
from classxpm.airflow.sync_dag import RETRY_DELAY_ENV, retry_delay
from classxpm.cluster import SETTINGS_FILE, ClusterSpec, _start_time, is_running, read_settings
from classxpm.xpm.errors import ConfigurationError


def test_the_shared_settings_file_reads_as_key_value_pairs():
    settings = read_settings(SETTINGS_FILE)
    assert settings["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert settings["AIRFLOW__CORE__HOSTNAME_CALLABLE"] == "classxpm.airflow.hostname.worker_hostname"
    assert settings[RETRY_DELAY_ENV] == "120"


def test_the_workers_celery_settings_are_airflows_own_with_the_sync_modules_imported_at_start():
    from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

    module, _, name = read_settings(SETTINGS_FILE)["AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS"].rpartition(".")
    configured = dict(getattr(importlib.import_module(module), name))
    imports = configured.pop("imports")
    assert configured == {k: v for k, v in DEFAULT_CELERY_CONFIG.items() if k != "imports"}
    assert imports[-1] == "classxpm.airflow.preload"
    script = (
        "import threading, classxpm.airflow.preload\n"
        "from airflow.sdk.plugins_manager import _get_plugins\n"
        "print(threading.active_count(), _get_plugins.cache_info().currsize,"
        " ','.join(sorted(p.name for p in _get_plugins()[0])))"
    )
    plugins = Path(__file__).parents[2] / "plugins"
    environ = {**os.environ, "AIRFLOW__CORE__PLUGINS_FOLDER": str(plugins)}
    preload = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=environ
    )
    threads, loaded, names = preload.stdout.splitlines()[-1].split()
    assert threads == "1", "importing the preload starts no thread a fork would lose"
    assert (loaded, "classxpm" in names.split(",")) == ("1", True), "task processes inherit loaded plugins"


def test_a_malformed_settings_line_is_named_by_file_and_line(tmp_path: Path):
    path = tmp_path / "airflow.env"
    path.write_text("# comment\nAIRFLOW__CORE__EXECUTOR=CeleryExecutor\nexport BROKEN\n")
    with pytest.raises(click.ClickException, match=r"airflow\.env:3: expected KEY=value"):
        read_settings(path)


def test_a_recorded_process_is_running_only_with_its_own_start_time():
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    record = {"pid": child.pid, "started": _start_time(child.pid)}
    assert is_running(record)
    assert not is_running({**record, "started": "1"}), "a reused pid is not the recorded process"
    child.communicate(b"")
    assert not is_running(record)


def test_a_cluster_name_is_letters_only(tmp_path: Path):
    with pytest.raises(click.ClickException, match="lower-case letters"):
        ClusterSpec("cluster1", tmp_path, 11)
    assert ClusterSpec("classxpm_cluster", tmp_path, 11).database("state") == "classxpm_cluster_state"


def test_workers_are_named_one_to_n(tmp_path: Path):
    assert ClusterSpec("classxpm_cluster", tmp_path, 11).worker_names == ("worker-1", "worker-2")
    three = ClusterSpec("classxpm_cluster", tmp_path, 11, workers=3)
    assert three.worker_names == ("worker-1", "worker-2", "worker-3")


def test_a_worker_reports_its_name_and_any_other_process_the_machines(monkeypatch):
    from airflow.utils.net import getfqdn

    monkeypatch.setenv(WORKER_NAME_ENV, "worker-2")
    assert worker_hostname() == "worker-2"
    monkeypatch.setenv(WORKER_NAME_ENV, "")
    assert worker_hostname() == getfqdn()


def test_the_retry_delay_is_a_setting_with_a_two_minute_default():
    assert retry_delay({}) == timedelta(minutes=2)
    assert retry_delay({RETRY_DELAY_ENV: "3"}) == timedelta(seconds=3)
    with pytest.raises(ConfigurationError, match=f"{RETRY_DELAY_ENV} must be a number of seconds"):
        retry_delay({RETRY_DELAY_ENV: "soon"})
