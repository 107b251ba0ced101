# The two everyday commands are `make up` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: up test test-unit lint bench-routing bench-availability bench-release bench-load install clean

up: $(STAMP)  ## start the whole embedded stack and print where to look
	$(BIN)/python -m devstack up

test: lint  ## lint, then the full test suite against real Temporal, PostgreSQL and SMTP
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-unit: $(STAMP)  ## the fast tests: tests/unit starts no server (under a minute)
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

lint: $(STAMP)  ## ruff, formatting, types, import rules, the one-home vocabulary check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m devstack.checks.vocabulary

bench-routing: $(STAMP)
	$(BIN)/python bench/routing.py

bench-availability: $(STAMP)
	$(BIN)/python bench/availability.py

bench-release: $(STAMP)
	$(BIN)/python bench/release_latency.py

bench-load: $(STAMP)  ## 2000 orders with faults on PostgreSQL, then the audit (about 20 minutes)
	$(BIN)/python bench/load.py --orders 2000

install: $(STAMP)

# -qq: errors only. A machine's pip configuration may name package indexes that lack most
# packages; pip then warns once per package, and the start command's URLs drown in them.
$(STAMP): pyproject.toml
	@echo "installing the virtualenv $(VENV) (first start: about a minute)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -qq --upgrade pip
	$(BIN)/python -m pip install -qq -e ".[dev]"
	touch $(STAMP)

clean:
	rm -rf $(VENV) .oms .pytest_cache
