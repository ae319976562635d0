PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# The main job; later presets widen it (see README).
RUN_ARGS ?= reproduce --preset quick --out results

.PHONY: run test fuzz lint format bench clean install install-dev

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e ".[construct]"
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) install -q -e ".[dev,ray,construct]"
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: $(VENV)/.installed
	$(VENV)/bin/dyncontract $(RUN_ARGS)

# The quickstart notebook runs as a test (nbmake) with a few seconds of training.
QUICKSTART_MINUTES ?= 0.05

test: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check src tests benchmarks
	DYNCONTRACT_QUICKSTART_MINUTES=$(QUICKSTART_MINUTES) $(PY) -m pytest -q -n 2 tests --nbmake examples

# Thousands of fuzzed CLI inputs (the test suite runs a few hundred).
fuzz: $(VENV)/.installed-dev
	$(PY) benchmarks/fuzz_cli.py --examples 3000

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff format src tests benchmarks
	$(VENV)/bin/ruff check --fix src tests benchmarks

bench: $(VENV)/.installed-dev
	$(PY) benchmarks/bench_solver.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache
