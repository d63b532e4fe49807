# The two commands on a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Exact versions every install here uses (pyproject keeps the lower bounds for users).
LOCK := requirements.lock
# vectorbt is a benchmark baseline only: it lives in its own venv, never in the project's.
BENCH_VENV := .venv-bench
BENCH_BIN := $(BENCH_VENV)/bin
BENCH_STAMP := $(BENCH_VENV)/.installed
VECTORBT ?= vectorbt==1.2.0

.PHONY: install bytecode demo test test-all lint bench power lock clean

$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c $(LOCK) -e '.[dev]'
	touch $(STAMP)

$(BENCH_STAMP): pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_BIN)/pip install --quiet --upgrade pip
	$(BENCH_BIN)/pip install --quiet -e . '$(VECTORBT)'  # vectorbt pins its own ranges
	touch $(BENCH_STAMP)

install: $(STAMP) bytecode

# Bytecode for ares_cli itself: pip compiles the packages it installs, not an editable one, and
# where PYTHONDONTWRITEBYTECODE is set every process (walk-forward's workers too) would compile
# ~140 modules again. Only changed files are recompiled.
bytecode: $(STAMP)
	@$(BIN)/python -m compileall -q ares_cli

demo: $(STAMP) bytecode
	$(BIN)/ares run-all --exchange binance --symbol ETHUSDT

# The fast tier (everything not marked slow), run every few minutes.
test: $(STAMP) bytecode
	$(BIN)/python -m pytest -q -m "not slow"

# Everything, the slow tier included: what CI runs.
test-all: $(STAMP) bytecode
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check ares_cli tests benchmarks
	$(BIN)/python -m pytest -q -p no:xdist -o addopts="" tests/test_layers.py

# Re-resolve the newest versions pyproject allows into the lock; `git diff requirements.lock`
# shows what moved.
lock:
	rm -rf .venv-lock
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet --upgrade pip
	.venv-lock/bin/pip install --quiet -e '.[dev,dask,mlflow]'
	.venv-lock/bin/pip freeze --exclude-editable | grep -v '^ares-cli' > $(LOCK)
	rm -rf .venv-lock

# One table of ratios, every row side by side in one run (about 15 minutes): docs/bench-table.md.
bench: $(STAMP) $(BENCH_STAMP) bytecode
	$(BIN)/python -m benchmarks.bench_table

# The verdict's size and power over seeds x drift levels (long: resumes from its stores).
power: $(STAMP) bytecode
	$(BIN)/python -m benchmarks.verdict_power

clean:
	rm -rf $(VENV) $(BENCH_VENV) .venv-lock artifacts/objects artifacts/actions artifacts/runs artifacts/refs artifacts/locks
