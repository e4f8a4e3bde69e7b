# Tandem: `make run` runs everything on this machine; `make test` runs the whole suite.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: install run test test-sqlite test-postgresql test-fast test-browser screenshots lint typecheck bench validate-deploy docs clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed

run: install
	$(VENV)/bin/tandem run

# `make test` is two passes. SQLite: every test. PostgreSQL (127.0.0.1:5432, or TANDEM_TEST_PG): only the
# tests that use a database (tests/conftest.py marks them), each service on a fresh database of its own;
# pure tests (crypto vectors, property tests, bus-only tests) would repeat identical work and are
# deselected. Browser tests (marker `browser`) run in the SQLite pass only: their stacks keep SQLite files
# and Chromium is the slowest part of the suite. Tests marked `sqlite_pass_only` (slow, database use
# incidental) are skipped in the PostgreSQL pass with their reason. Exit code 5 ("no tests collected")
# is fine for the PostgreSQL pass when PYTEST_ARGS selects only pure tests.
test: install
	$(PY) -m pytest -q -p no:cacheprovider --database=sqlite $(PYTEST_ARGS)
	$(PY) -m pytest -q -p no:cacheprovider --database=postgresql -m "not browser" $(PYTEST_ARGS) || [ $$? -eq 5 ]

test-sqlite: install
	$(PY) -m pytest -q -p no:cacheprovider --database=sqlite $(PYTEST_ARGS)

test-postgresql: install
	$(PY) -m pytest -q -p no:cacheprovider --database=postgresql -m "not browser" $(PYTEST_ARGS)

test-fast: install
	$(PY) -m pytest -q -p no:cacheprovider -m "not integration and not browser" $(PYTEST_ARGS)

test-browser: install
	$(PY) -m pytest -q -p no:cacheprovider -m browser $(PYTEST_ARGS)

# Browser tests save screenshots under test-artifacts/webapp/; this copies them into docs/screenshots/.
screenshots: test-browser
	$(PY) docs/screenshots/refresh.py

lint: install
	$(VENV)/bin/ruff check services shared deploy tests bench

typecheck: install
	$(VENV)/bin/mypy

# Compose, kustomize + strict Kubernetes schemas, hadolint and Tandem's own rules (static: no engine).
validate-deploy: install
	$(PY) -m deploy.validate

# Regenerate the configuration tables and the event catalogue in README.md and docs/.
docs: install
	$(PY) -m deploy.docs

bench: install
	@for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
