# Tandem: `make run` runs everything on this machine; `make test` runs the whole suite.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: install run test test-fast test-browser screenshots lint typecheck bench validate-deploy docs clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed

run: install
	$(VENV)/bin/tandem run

test: install
	$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

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
