# classxpm: every target sets up what it needs itself, on a fresh machine with Python 3.11.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.classxpm-installed

export AIRFLOW_HOME ?= $(CURDIR)/.airflow
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(CURDIR)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__UNIT_TEST_MODE := False
export GX_ANALYTICS_ENABLED := False
export CLASSXPM_HOME ?= $(AIRFLOW_HOME)
export PATH := $(BIN):$(PATH)
MIGRATED := $(AIRFLOW_HOME)/.migrated
BENCH_ARGS ?=
# pytest-xdist workers for make test; a test module stays on one worker (its module fixtures are set up once).
TEST_WORKERS ?= 2
CLUSTER_ARGS ?=

.PHONY: help demo cluster cluster-down test lint format lock bench clean system-deps

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): requirements.txt constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.9
	$(BIN)/uv pip install --python $(BIN)/python --compile-bytecode --quiet \
		-r requirements.txt -c constraints.txt -e .
	touch $@

$(MIGRATED): $(STAMP)
	mkdir -p $(AIRFLOW_HOME)
	$(BIN)/airflow db migrate > $(AIRFLOW_HOME)/db-migrate.log 2>&1 || { cat $(AIRFLOW_HOME)/db-migrate.log; exit 1; }
	$(BIN)/airflow pools set xpm_api 5 "Calls to Xero Practice Manager: Xero allows 5 at once per tenant" \
		>> $(AIRFLOW_HOME)/db-migrate.log 2>&1
	touch $@

demo: $(MIGRATED)  ## the main job on embedded defaults (SQLite, the XPM simulator); SOURCE=class_api reads the Class API simulator
	$(BIN)/python -m classxpm.demo --source $(or $(SOURCE),class_db)

cluster: $(STAMP)  ## a local CeleryExecutor cluster: 2 workers, the simulator, the demo business (.cluster/)
	$(BIN)/python -m classxpm.cluster up $(CLUSTER_ARGS)

cluster-down: $(STAMP)  ## stop what make cluster started, by pid (CLUSTER_ARGS=--drop: its databases too)
	$(BIN)/python -m classxpm.cluster down $(CLUSTER_ARGS)

test: $(MIGRATED) system-deps  ## the whole test suite (needs PostgreSQL on 127.0.0.1:5432)
	$(BIN)/python -m pytest --numprocesses $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

bench: $(MIGRATED)  ## run the benchmarks and write bench/RESULTS.md
	$(BIN)/python -m bench.run $(BENCH_ARGS)

system-deps:  ## install the Debian packages the tests need (.ci/apt-packages), when missing
	@bash .ci/install-system-deps

lint: $(STAMP)  ## ruff as linter and formatter check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)  ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

lock: $(STAMP)  ## re-resolve constraints.txt from requirements.txt
	$(BIN)/uv pip compile --python 3.11 --no-header requirements.txt -o constraints.txt

clean:  ## remove the venv and the local Airflow home
	rm -rf $(VENV) $(AIRFLOW_HOME)
