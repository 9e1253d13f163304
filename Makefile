# Two commands on a fresh machine: `make run` and `make test`.
# Both create .venv from a bare python3 (3.11) when it is missing and install the
# exact versions in requirements.lock; re-running with nothing changed installs nothing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(abspath $(VENV))/bin
STAMP := $(VENV)/.installed
SPARK_STAMP := $(VENV)/.installed-spark
SCALE ?= small
export PATH := $(BIN):$(PATH)
export GX_ANALYTICS_ENABLED := false
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DO_NOT_TRACK := 1
# Dagster's run history, schedules and sensor cursors: shared by `make run` and `make ui`.
# Its dagster.yaml (orchestration/dagster_instance.py) turns telemetry off, queues UI/daemon
# runs one at a time and sets leadscore's event log storage.
export DAGSTER_HOME ?= $(abspath data/dagster_home)

.PHONY: setup run test test-spark lint dbt-test pytest ui bench docs docs-serve clean

setup: $(STAMP)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required, found " + sys.version' \
		|| { echo "Set PYTHON=/path/to/python3.11"; exit 1; }
	@echo "make: creating the virtual environment $(VENV) ..."
	@$(PYTHON) -m venv $(VENV)

$(STAMP): requirements.lock pyproject.toml | $(BIN)/python
	@echo "make: installing the pinned packages of requirements.lock into $(VENV) (the first time takes a few minutes) ..."
	@start=$$(date +%s); $(BIN)/python -m pip install -qq -r requirements.lock \
		&& $(BIN)/python -m pip install -qq --no-deps --no-build-isolation -e . \
		&& echo "make: installed in $$(( $$(date +%s) - start )) s"
	@touch $(STAMP)

run: $(STAMP)
	@echo "make: leadscore run --demo-if-empty (a demo shop is generated when data/landing is empty; progress below, the summary at the end)"
	@$(BIN)/leadscore run --demo-if-empty

test: $(STAMP)
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory dbt-test
	$(MAKE) --no-print-directory pytest

lint: $(STAMP)
	$(BIN)/sqlfluff lint models tests/dbt --processes 2

# dbt build (every model, seed, data test and unit test) on a small generated data set
# in a throw-away folder, so it never touches the demo warehouse.
dbt-test: $(STAMP)
	$(BIN)/python -m orchestration.testing.dbt_smoke

pytest: $(STAMP)
	$(BIN)/pytest

# The same models on Apache Spark (dbt-spark, session mode; needs Java 17): builds one small
# generated shop on DuckDB and on Spark, full then incremental, and compares the marts
# (tests/spark). Its packages (requirements-spark.lock) go into .venv on first use.
$(SPARK_STAMP): $(STAMP) requirements-spark.lock
	@command -v java >/dev/null || { echo "make test-spark needs Java 17 (e.g. apt-get install openjdk-17-jre-headless)"; exit 1; }
	@echo "make: installing the Spark packages of requirements-spark.lock into $(VENV) ..."
	@$(BIN)/python -m pip install -qq -c requirements.lock -r requirements-spark.lock
	@touch $(SPARK_STAMP)

test-spark: $(SPARK_STAMP)
	$(BIN)/pytest tests/spark

ui: $(STAMP)
	@$(BIN)/python -m orchestration.dagster_instance "$(DAGSTER_HOME)" > /dev/null
	$(BIN)/dagster dev -m orchestration.definitions --host 127.0.0.1 --port 3000

bench: $(STAMP)
	$(BIN)/leadscore bench --scale $(SCALE)

# The dbt docs site in target/docs (column types read from the demo warehouse when it
# exists, else from a small generated shop in a temp folder; see orchestration/docs.py).
docs: $(STAMP)
	$(BIN)/python -m orchestration.docs

DOCS_PORT ?= 8080
docs-serve: $(STAMP)
	@test -f target/docs/index.html || $(MAKE) --no-print-directory docs
	@echo "dbt docs on http://127.0.0.1:$(DOCS_PORT) (Ctrl-C stops the server)"
	$(BIN)/python -m http.server $(DOCS_PORT) --bind 127.0.0.1 --directory target/docs

clean:
	rm -rf target logs dbt_packages data/warehouse.duckdb data/serving
