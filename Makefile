# Two commands for a newcomer: `make run` (set up, start web + relay on SQLite) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TOOLS := .tools
BUN_VERSION := 1.4.5
export PATH := $(CURDIR)/$(TOOLS)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)
export REFLEX_USE_SYSTEM_BUN := 1
export REFLEX_TELEMETRY_ENABLED := false
export REFLEX_CHECK_LATEST_VERSION := false
export PYTHONUNBUFFERED := 1

.PHONY: setup run test lint typecheck pytest build clean

setup: $(VENV)/.installed $(TOOLS)/node_modules/.bin/bun

$(VENV)/.installed: requirements.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $@

$(TOOLS)/node_modules/.bin/bun:
	mkdir -p $(TOOLS)
	npm install --prefix $(TOOLS) --no-audit --no-fund --loglevel=error bun@$(BUN_VERSION)

# Starts the relay (:3001) and the web app (:3000, UI + /api); Ctrl-C stops both.
run: setup
	@trap 'kill -TERM $$relay $$web 2>/dev/null; wait' INT TERM; \
	$(PY) -m relay_ws & relay=$$!; \
	reflex run --env prod --single-port & web=$$!; \
	wait -n $$relay $$web; kill -TERM $$relay $$web 2>/dev/null; wait

lint: setup
	$(VENV)/bin/ruff check relay_core relay_ws relay_app tests bench rxconfig.py

typecheck: setup
	$(VENV)/bin/mypy relay_core relay_ws

pytest: setup
	$(PY) -m pytest

test: lint typecheck pytest

clean:
	rm -rf .web .states data test-artifacts .pytest_cache .mypy_cache .ruff_cache
