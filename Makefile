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

# uv installs the locked set in parallel (about 5 s where pip took about 95 s); it comes from PyPI
# like everything else, pinned here. The installed packages are then compiled to bytecode on both
# cores, since PYTHONDONTWRITEBYTECODE may be set and every process would compile them again:
# all but test suites, pip's own tooling and the asynchronous halves of ccxt nothing here imports.
UV_VERSION ?= 0.13.9
NO_BYTECODE := '/(tests?|pip|setuptools)/|/ccxt/(async_support|pro)/'
# $(call compile_installed,BIN_DIR): bytecode for what that venv's python has installed
compile_installed = $(1)/python -m compileall -q -j 0 -x $(NO_BYTECODE) \
    "$$($(1)/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')" > /dev/null \
    || echo "some installed modules did not compile to bytecode (they still import)" >&2

$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet 'uv==$(UV_VERSION)'
	$(BIN)/uv pip install --quiet --python $(BIN)/python -c $(LOCK) -e '.[dev]'
	$(call compile_installed,$(BIN))
	touch $(STAMP)

$(BENCH_STAMP): pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_BIN)/pip install --quiet 'uv==$(UV_VERSION)'
	$(BENCH_BIN)/uv pip install --quiet --python $(BENCH_BIN)/python -e . '$(VECTORBT)'  # vectorbt pins its own ranges
	$(call compile_installed,$(BENCH_BIN))
	touch $(BENCH_STAMP)

install: $(STAMP) bytecode

# Bytecode for ares_cli itself: the install compiles the packages it installs, not an editable one, and
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
	.venv-lock/bin/pip install --quiet 'uv==$(UV_VERSION)'
	.venv-lock/bin/uv pip install --quiet --python .venv-lock/bin/python -e '.[dev,dask,mlflow]'
	.venv-lock/bin/uv pip freeze --python .venv-lock/bin/python --exclude-editable | grep -v -e '^ares-cli' -e '^uv==' -e '^pip==' > $(LOCK)
	rm -rf .venv-lock

# One table of ratios, every row side by side in one run (about 15 minutes): docs/bench-table.md.
bench: $(STAMP) $(BENCH_STAMP) bytecode
	$(BIN)/python -m benchmarks.bench_table

# The verdict's size and power over seeds x drift levels (long: resumes from its stores).
power: $(STAMP) bytecode
	$(BIN)/python -m benchmarks.verdict_power

clean:
	rm -rf $(VENV) $(BENCH_VENV) .venv-lock artifacts/objects artifacts/actions artifacts/runs artifacts/refs artifacts/locks
