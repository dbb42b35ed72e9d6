# Command: `make run` starts the product, `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test lint install install-dev env migrate worker web superuser bench chaos chaos-short audit clean

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] >= (3, 11) else "Command needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@ $(VENV)/.runtime

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

# Secrets for this machine, generated once and kept in .env (never committed).
.env:
	@$(PY) -c 'import secrets, base64; print("SECRET_KEY=" + secrets.token_urlsafe(50)); print("COMMAND_SECRET_KEYS=" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())' > .env
	@echo "Wrote .env with a new SECRET_KEY and COMMAND_SECRET_KEYS for this machine."

env: install .env

migrate: env
	@$(PY) manage.py migrate --no-input -v0
	@$(PY) manage.py createcachetable
	@$(PY) manage.py collectstatic --no-input -v0

run: migrate
	@$(PY) -m command_site.port_check "$(PORT)"
	@echo ""
	@echo "  Command is starting at http://127.0.0.1:$(PORT)/"
	@echo "  First time? Create an account at http://127.0.0.1:$(PORT)/accounts/signup/"
	@echo "  (or an admin with: $(PY) manage.py createsuperuser). Ctrl-C stops everything."
	@echo ""
	@PORT=$(PORT) $(VENV)/bin/honcho start -f Procfile

web: migrate
	$(PY) -m command_site.web -b 127.0.0.1 -p $(PORT) command_site.asgi:application

worker: migrate
	$(PY) -m command_site.worker

superuser: migrate
	$(PY) manage.py createsuperuser

# Tests run against whatever DATABASE_URL / REDIS_URL say (the embedded default when unset).
test: install-dev
	@mkdir -p var
	SECRET_KEY=test-secret-key-not-for-production \
	COMMAND_SECRET_KEYS=$${COMMAND_SECRET_KEYS_TEST:-MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=} \
	COMMAND_ENV_FILE= DEBUG=false \
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install-dev
	$(VENV)/bin/ruff check .

# Benchmarks against a private PostgreSQL + Redis (see bench/README.md): make bench ARGS="--only latency,diff"
bench: install-dev
	$(PY) -m bench.run $(ARGS)

# Fault injection on a private PostgreSQL + Redis with real daphne and qcluster processes (chaos/run.py).
chaos: install-dev
	$(PY) -m chaos.run $(ARGS)

# The short form CI runs (about 3 minutes).
chaos-short: install-dev
	$(PY) -m chaos.run --short $(ARGS)

# The truthfulness audit of this machine's database and snapshot store.
audit: env
	@$(PY) manage.py audit

clean:
	rm -rf var/test-*.sqlite3* .pytest_cache
