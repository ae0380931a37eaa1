# Seiketsu: `make run` sets everything up and serves on http://127.0.0.1:8000 (embedded: SQLite, in-process
# jobs, local speech); `make test` runs the whole suite against a real PostgreSQL and Redis.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run install migrate test lint typecheck pytest services clean

run: install migrate
	$(BIN)/seiketsu serve --host 127.0.0.1 --port 8000

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11 or newer is required") if sys.version_info < (3, 11) else None'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

migrate: install
	$(BIN)/seiketsu migrate

services:
	scripts/ensure-services

test: install services lint typecheck pytest

lint: install
	$(BIN)/ruff check .

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
