# The two everyday commands are `make up` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: up test lint bench-routing bench-availability bench-release bench-load install clean

up: $(STAMP)  ## start the whole embedded stack and print where to look
	$(BIN)/python -m devstack up

test: $(STAMP)  ## run the full test suite against real Temporal, PostgreSQL and SMTP
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

bench-routing: $(STAMP)
	$(BIN)/python bench/routing.py

bench-availability: $(STAMP)
	$(BIN)/python bench/availability.py

bench-release: $(STAMP)
	$(BIN)/python bench/release_latency.py

bench-load: $(STAMP)  ## 2000 orders with faults on PostgreSQL, then the audit (about 20 minutes)
	$(BIN)/python bench/load.py --orders 2000

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

clean:
	rm -rf $(VENV) .oms .pytest_cache
