# The two commands on a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/ares run-all --exchange binance --symbol ETHUSDT

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check ares_cli tests benchmarks

bench: $(STAMP)
	$(BIN)/python -m benchmarks.bench_bars
	$(BIN)/python -m benchmarks.bench_ingest

clean:
	rm -rf $(VENV) artifacts/objects artifacts/actions artifacts/runs artifacts/refs artifacts/locks
