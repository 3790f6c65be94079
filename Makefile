# The one command surface. `make run` starts the whole system; `make test` runs the suite.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
UV_VERSION := 0.13.9
# A Python >= 3.12: the first of these that exists and is new enough.
PYTHON ?= $(shell for p in python3.13 python3.12 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null \
	&& { command -v $$p; break; }; done)

.PHONY: run test test-all test-browser lint format typecheck check bench install install-dev clean

$(VENV)/.created:
	@test -n "$(PYTHON)" || { echo "Sitter needs Python 3.12 or newer (pyenv: 'pyenv install 3.12')"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	@touch $@

$(VENV)/.installed: $(VENV)/.created requirements.lock
	VIRTUAL_ENV=$(VENV) $(BIN)/uv pip sync --quiet requirements.lock
	@rm -f $(VENV)/.installed-dev
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.created requirements-dev.lock
	VIRTUAL_ENV=$(VENV) $(BIN)/uv pip sync --quiet requirements-dev.lock
	@touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## The whole system on embedded defaults: SQLite, a file-system broker, the upstream simulator.
run: export DEBUG := true
run: export PATH := $(CURDIR)/$(BIN):$(PATH)
run: $(VENV)/.installed
	$(PY) manage.py migrate --no-input
	$(PY) manage.py bootstrap_demo
	$(BIN)/honcho start -f Procfile

## The default suite (fast). DATABASE_URL / REDIS_URL select PostgreSQL / Redis.
test: $(VENV)/.installed-dev
	$(BIN)/pytest $(PYTEST_ARGS)

## Browser, fuzz and chaos suites (slow; CI runs them too). Browser tests need Debian's chromium.
test-slow: $(VENV)/.installed-dev
	$(BIN)/pytest -m "browser or fuzz or chaos" $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy .

check: lint typecheck test

bench: $(VENV)/.installed-dev
	$(PY) -m benchmarks

lock:
	$(BIN)/uv pip compile pyproject.toml -o requirements.lock --python-version 3.12 -q
	$(BIN)/uv pip compile pyproject.toml --group dev -o requirements-dev.lock --python-version 3.12 -q

clean:
	rm -rf $(VENV) var
