# The README's two commands are `make run` and `make test`; both create .venv when needed.
# `make run` installs the runtime alone; the targets that test, lint or benchmark add the rest:
# the backends' drivers, the test and lint tools, and nudenet (`.[people]`, AGPL-3.0), which
# only the tests of the people analyser use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-runtime
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test fuzz services bench-tools lint format typecheck bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet -e .
	touch $(STAMP)

$(DEV_STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet -e '.[dev,people]'
	touch $(STAMP) $(DEV_STAMP)

run: $(STAMP)  ## start Bit-image on http://127.0.0.1:8000 with embedded defaults
	@echo "The bitimage command: $(BIN)/bitimage, or 'source $(BIN)/activate' first;"
	@echo "or 'pipx install .' for one on your PATH (see 'Getting the CLI' in README.md)."
	$(BIN)/bitimage serve

# Test files run in TEST_WORKERS processes (pytest-xdist), a file's tests in one of them, so a
# module's server or database is started once; every worker makes its own PostgreSQL database
# and picks free ports. Two: the race tests and the servers want a core each, and CI's machine
# has two. TEST_WORKERS=0 runs everything in this process.
TEST_WORKERS ?= 2
test: $(DEV_STAMP) services  ## the whole test suite (SQLite, PostgreSQL, moto S3, beanstalkd)
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadfile

# Schemathesis without CI's bounds: many more examples per operation, a new random seed each run.
FUZZ_EXAMPLES ?= 1000
FUZZ_SECONDS ?= 3600
fuzz: $(DEV_STAMP) services  ## schemathesis against /openapi.json, unbounded (CI runs it bounded)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_SEED=random \
	FUZZ_SECONDS=$(FUZZ_SECONDS) $(BIN)/pytest -q tests/api/test_schemathesis.py

# The tests start their own beanstalkd on a free port; they need the binary (Debian package).
# PostgreSQL is expected at 127.0.0.1:5432 (BITIMAGE_TEST_POSTGRES_URL to point elsewhere);
# scripts/install-pgvector.sh builds pgvector for it from Debian's source when it lacks it.
services:
	@command -v beanstalkd >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get install -y -qq beanstalkd >/dev/null 2>&1 || \
		{ $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq beanstalkd; }; }
	@# pgvector for the test server (Debian 12 has no package of it for PostgreSQL 15).
	@scripts/install-pgvector.sh
	@# tests/browser drive Debian's Chromium through Playwright (`playwright install` is not used).
	@command -v chromium >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get install -y -qq chromium >/dev/null 2>&1 || \
		{ $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium; }; }

lint: $(DEV_STAMP)  ## ruff, mypy and the import contracts, as CI runs them
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(DEV_STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# bench_ingest_cost counts instructions under valgrind's callgrind (Debian package).
bench-tools:
	@command -v valgrind >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get install -y -qq valgrind >/dev/null 2>&1 || \
		{ $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq valgrind; }; }

bench: $(DEV_STAMP) bench-tools  ## every benchmark; figures are printed as ratios against same-run baselines
	for script in bench/bench_*.py; do $(BIN)/python -m bench.$$(basename $$script .py) $(BENCH_ARGS) || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
