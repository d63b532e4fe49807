# The two commands on a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# vectorbt is a benchmark baseline only: it lives in its own venv, never in the project's.
BENCH_VENV := .venv-bench
BENCH_BIN := $(BENCH_VENV)/bin
BENCH_STAMP := $(BENCH_VENV)/.installed
VECTORBT ?= vectorbt==1.2.0

.PHONY: install demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(BENCH_STAMP): pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_BIN)/pip install --quiet --upgrade pip
	$(BENCH_BIN)/pip install --quiet -e . '$(VECTORBT)'
	touch $(BENCH_STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/ares run-all --exchange binance --symbol ETHUSDT

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check ares_cli tests benchmarks

bench: $(STAMP) $(BENCH_STAMP)
	$(BIN)/python -m benchmarks.bench_bars
	$(BIN)/python -m benchmarks.bench_ingest
	$(BENCH_BIN)/python -m benchmarks.bench_backtest

clean:
	rm -rf $(VENV) $(BENCH_VENV) artifacts/objects artifacts/actions artifacts/runs artifacts/refs artifacts/locks
