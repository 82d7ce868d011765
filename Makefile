# Two commands: `make up` (the main job) and `make test`. Both bootstrap .venv from the
# pinned constraints on first use; nothing has to be installed by hand.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Node 22 for the tests that run the README's MCP Inspector commands (the machine may have
# an older Node); tests/node22.py installs it from npm into .venv/tools once.
NODE22 := $(VENV)/tools/node22/.installed

.PHONY: up test install lint format exposures bench docs clean

up: $(STAMP)
	$(BIN)/telcopulse up

test: $(STAMP) $(NODE22)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/sqlfluff lint dbt_project
	$(BIN)/pytest -q -p no:cacheprovider $(PYTEST_ARGS)

install: $(STAMP)

# Reinstall whenever the pins or the project metadata change.
$(STAMP): constraints.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

$(NODE22): $(STAMP) tests/node22.py
	$(BIN)/python -c "from tests.node22 import node22_bin_dir; print('Node 22 for the Inspector tests:', node22_bin_dir())"
	@touch $(NODE22)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/sqlfluff lint dbt_project

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The dbt exposures of the analyses are generated from their specs (analyses/*.py, SPEC).
exposures: $(STAMP)
	$(BIN)/python -m orchestration.defs.dbt.exposures

bench: $(STAMP)
	$(BIN)/uv pip install --quiet --python $(BIN)/python -c constraints.txt -e '.[dev,bench]'
	$(BIN)/python -m bench.generator_throughput
	$(BIN)/python -m bench.pipeline_scaling
	$(BIN)/python -m bench.mcp_latency
	$(BIN)/python -m bench.analysis_latency
	$(BIN)/python -m bench.notification_latency
	$(BIN)/python -m bench.export_throughput
	$(BIN)/python -m bench.chart_interactive
	$(BIN)/python -m bench.import_throughput
	$(BIN)/python -m bench.profile_mcp

docs: $(STAMP)
	$(BIN)/telcopulse docs

clean:
	rm -rf $(VENV) dbt_project/target dbt_project/logs .pytest_cache .ruff_cache
