# OpenNRM — the two set-up commands are `make run` and `make test` (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := help
PY := .venv/bin/python
MANAGE := $(PY) manage.py
TEST_INSTANCE := $(CURDIR)/build/test-instance
PYTEST_WORKERS ?= 2

.PHONY: help run test venv venv-dev system-deps messages check-messages lint typecheck migrations-check pytest pytest-postgres clean

help:
	@echo "make run    start OpenNRM with demo data (SQLite, web server and task worker)"
	@echo "make test   run the whole test suite with lint, types, migration and translation checks"

venv:
	@scripts/bootstrap.sh

venv-dev:
	@scripts/bootstrap.sh dev

system-deps:
	@scripts/system_deps.sh

run: venv
	@scripts/system_deps.sh --runtime
	@$(MANAGE) compilemessages --ignore=.venv -v 0
	@$(MANAGE) collectstatic --no-input -v 0
	@OPENNRM_HTTPS=$${OPENNRM_HTTPS:-false} $(MANAGE) migrate --no-input -v 0
	@OPENNRM_HTTPS=$${OPENNRM_HTTPS:-false} $(MANAGE) load_demo
	@OPENNRM_HTTPS=$${OPENNRM_HTTPS:-false} $(MANAGE) run_platform

test: venv-dev system-deps lint typecheck check-messages migrations-check pytest pytest-postgres
	@echo "make test: all checks passed"

lint:
	@echo "== ruff"
	@.venv/bin/ruff check src tests benchmarks scripts manage.py
	@.venv/bin/ruff format --check src tests benchmarks scripts manage.py

typecheck:
	@echo "== mypy"
	@OPENNRM_INSTANCE_DIR=$(TEST_INSTANCE) .venv/bin/mypy

check-messages:
	@echo "== translation catalogues"
	@OPENNRM_INSTANCE_DIR=$(TEST_INSTANCE) $(PY) scripts/messages.py check

messages:
	@OPENNRM_INSTANCE_DIR=$(TEST_INSTANCE) $(PY) scripts/messages.py update

migrations-check:
	@echo "== migrations"
	@DJANGO_SETTINGS_MODULE=tests.settings OPENNRM_INSTANCE_DIR=$(TEST_INSTANCE) $(MANAGE) makemigrations --check --dry-run -v 1

pytest:
	@echo "== tests on SQLite"
	@OPENNRM_INSTANCE_DIR=$(TEST_INSTANCE) $(MANAGE) compilemessages --ignore=.venv -v 0
	@env -u DATABASE_URL OPENNRM_INSTANCE_DIR=$(TEST_INSTANCE) .venv/bin/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

pytest-postgres:
	@if [ -n "$$TEST_DATABASE_URL" ]; then \
	  echo "== tests on PostgreSQL"; \
	  DATABASE_URL="$$TEST_DATABASE_URL" OPENNRM_INSTANCE_DIR=$(TEST_INSTANCE) .venv/bin/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS); \
	else echo "== PostgreSQL: TEST_DATABASE_URL is not set, suite ran on SQLite only"; fi

clean:
	rm -rf build .venv
