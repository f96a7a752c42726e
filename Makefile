# The two commands of README: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test install migrate demo messages messages-update check lint clean bench bench-import

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

# Compiled translations (.mo) are committed; rebuild them when gettext is present.
messages: install
	@if command -v msgfmt >/dev/null 2>&1; then $(PY) manage.py compilemessages --ignore=.venv -v0; \
	else echo "msgfmt not found: using the committed .mo files"; fi

# After changing user-facing text: extract, translate the new entries in
# locale/zh_Hans/LC_MESSAGES/django.po, then `make messages`.
messages-update: install
	$(PY) manage.py makemessages -l zh_Hans --no-location --ignore=.venv --ignore=tests --ignore=staticfiles --ignore=docs

migrate: install
	$(PY) manage.py migrate --no-input -v1

demo: migrate
	$(PY) manage.py seed_demo

run: demo messages
	@echo ""
	@echo "  After-sales desk: http://$(HOST):$(PORT)/   (admin: http://$(HOST):$(PORT)/admin/)"
	@echo "  Demo logins, password demo12345:"
	@echo "    agent (A1001, 示例旗舰店)  agent_b (B2001, 小林的淘宝小店 only)  supervisor  warehouse  finance  manager (admin)"
	@echo ""
	$(PY) manage.py runserver $(HOST):$(PORT)

test: install messages
	$(PY) -m pytest $(PYTEST_ARGS)

check: install
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run

lint: install
	$(VENV)/bin/ruff check .

# The benchmark of docs/PERFORMANCE.md (not a test): builds a database of its own (never
# db.sqlite3; PostgreSQL when DATABASE_URL points there: <name>_bench, dropped afterwards),
# measures the pages, the import and the sweep, prints one table, exits 1 when a budget is
# missed. BENCH_SIZE=small (CI, about a minute) or full (the issue's 1,000,000 orders).
BENCH_SIZE ?= small
bench: install
	$(PY) manage.py bench --size $(BENCH_SIZE) $(BENCH_ARGS)

# Only the order import's speed: 100,000 generated rows in db.sqlite3, rolled back afterwards.
bench-import: migrate
	$(PY) manage.py bench_import $(BENCH_IMPORT_ARGS)

clean:
	rm -rf $(VENV) staticfiles .pytest_cache
