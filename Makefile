# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
# make serve: nginx listens on SERVE_HOST:SERVE_PORT, one app server per APP_PORTS entry behind it.
SERVE_HOST ?= 127.0.0.1
SERVE_PORT ?= 8080
APP_PORTS ?= 8001 8002

.PHONY: install env run serve test lint migrate demo clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

env: install
	@$(PY) -m atmsite.devenv .env

migrate: install env
	mkdir -p var
	$(PY) manage.py migrate --noinput

# Demo data is loaded once; the marker file remembers the demo cards it printed.
var/demo-cards.txt: | migrate
	mkdir -p var
	$(PY) manage.py generate_demo_data --customers 200 --transactions 20000 --seed 42 --days 90 > var/demo-cards.tmp
	$(PY) manage.py ensure_demo_admin >> var/demo-cards.tmp
	mv var/demo-cards.tmp var/demo-cards.txt

demo: var/demo-cards.txt

run: migrate demo
	$(PY) manage.py collectstatic --noinput -v0
	$(PY) -m atmsite.runall --host $(HOST) --port $(PORT) --logins var/demo-cards.txt

# The production shape (README "Production"): nginx + two app servers + Celery worker and beat, on
# PostgreSQL and Redis from the environment (DATABASE_URL, CELERY_BROKER_URL and the secrets; no .env
# is written here). Migrates and collects the static files nginx serves first.
serve: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v0
	$(PY) -m atmsite.runall --host $(SERVE_HOST) --port $(SERVE_PORT) --app-ports $(APP_PORTS)

test: install
	$(BIN)/pytest $(PYTEST_ARGS)

# Style (ruff), the architecture's import contracts (.importlinter) and types (mypy, settings in pyproject.toml).
lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

clean:
	rm -rf var/test-media .pytest_cache
