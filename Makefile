# EXPLORE: `make run` serves the platform on http://127.0.0.1:8000; `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export EXPLORE_DATA_DIR ?= $(CURDIR)/var

.PHONY: run test bench lint docs install clean-data help

help:
	@echo "make run    - install, prepare the demo data and serve on http://127.0.0.1:8000"
	@echo "make test   - install and run the whole test suite"
	@echo "make bench  - run every benchmark in benchmarks/"
	@echo "make lint   - ruff"
	@echo "make docs   - build the user guide (MkDocs) into site/"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test,docs]'
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/explore serve

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	@set -e; for script in benchmarks/*.py; do \
		echo "== $$script"; $(BIN)/python $$script $(BENCH_ARGS); done

lint: $(STAMP)
	$(BIN)/ruff check explore tests benchmarks

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

clean-data:
	rm -rf var
