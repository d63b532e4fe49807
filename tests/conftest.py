"""Shared fixtures: the real market data folder, and a tiny market built once per test session.

Every implemented step on the tiny synthetic market runs once per session into a store
(`built_store`), read back as an in-memory catalog (`tiny_pipeline`); a test that needs a store
gets its own copy (`store_copy`), so no test pays for rebuilding the pipeline and none can
disturb another.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ares_cli.steps import STEPS

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"

# A month of a small regime market with a fast model recipe: every step has real work to do.
TINY = {
    "data": {"days": 30, "trades_per_day": 1500},
    "split": {"min_regime_rows": 100},
    "analyst": {"num_boost_round": 40, "n_threads": 1},
    "enhance": {"n_trials": 2},
    "optimize": {"trials": 12, "population": 6, "min_trades": 3},
}
TINY_SETS = [f"{section}.{key}={value}" for section, values in TINY.items()
             for key, value in values.items()]
# The session fixtures build every implemented step up to 12 on the tiny market. Walk-forward
# and what follows need a longer history (a month leaves a fold no validation proposals):
# they use SMALL (tests/steps/test_walk_forward.py and later).
TINY_LAST_STEP = min(12, max(s.number for s in STEPS if s.implemented))

# Two months of the regime market, the fold budgets small: enough for two walk-forward folds.
SMALL = {
    **TINY,
    "data": {"days": 60, "trades_per_day": 1000},
    "walk_forward": {"folds": 2, "enhance_trials": 1, "optimize_trials": 12},
}


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Root of ../shared/data; tests using it are skipped when the folder is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


def shared_file(relative: str) -> Path:
    """Path of one file under ../shared/data, or skip the calling test when it is absent."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"shared data file not found: {path}")
    return path


@pytest.fixture(scope="session")
def tiny_config():
    from ares_cli.config import build_config

    return build_config(TINY)


@pytest.fixture(scope="session")
def tiny_pipeline(built_store):
    """Steps 1..TINY_LAST_STEP of the tiny market as an in-memory catalog (values and step
    outcomes), read from the session's store. `tests/steps/test_contract.py` runs the same
    steps in memory and checks they give the store's bytes."""
    from ares_cli.artifacts import decode
    from ares_cli.pipeline import PipelineResult, StepOutcome
    from ares_cli.store.objects import Store

    store = Store(built_store)
    manifest = store.list_runs()[-1]
    result = PipelineResult({})
    for record in manifest.steps[:TINY_LAST_STEP]:
        for name, digest in record.outputs.items():
            result.catalog[name] = decode(store.get(digest), record.kinds[name], store)
        result.steps[record.number] = StepOutcome(dict(record.outputs), dict(record.kinds),
                                                  record.metrics, record.warnings,
                                                  record.message)
    return result


def _shared_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder every xdist worker of this test session shares (the session's own without
    xdist): each worker's base is <this run's folder>/popen-gwN."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextmanager
def _once(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[Path]:
    """Hold the session-wide lock `name` in the shared folder: the first worker to get it
    builds, the others wait and then find what it built."""
    import fcntl

    shared = _shared_folder(tmp_path_factory)
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield shared


@pytest.fixture(scope="session")
def built_store(tmp_path_factory, tiny_config) -> Path:
    """A store holding one run of steps 1..TINY_LAST_STEP of the tiny market (read-only use),
    built once per test session however many xdist workers share it."""
    from ares_cli.console import PlainReporter
    from ares_cli.runner import Runner, RunOptions
    from ares_cli.store.objects import Store

    with _once(tmp_path_factory, "built_store") as shared:
        root = shared / "built" / "store"
        if (shared / "built" / "done").exists():
            return root
        store = Store(root)
        with open(os.devnull, "w") as quiet, store.lock("binance", "ETHUSDT"):
            runner = Runner(store, tiny_config, RunOptions(), PlainReporter(quiet))
            manifest = runner.new_manifest(["fixture"])
            outcome = runner.execute(manifest, list(range(1, TINY_LAST_STEP + 1)))
        assert outcome.exit_code == 0, [r.message for r in manifest.steps if r.message]
        (shared / "built" / "done").touch()
        return root


@pytest.fixture
def store_copy(built_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of `built_store`, set as ARES_STORE, with the working folder in tmp."""
    root = tmp_path / "store"
    shutil.copytree(built_store, root)
    for path in root.rglob("*"):  # objects are read-only; a copy must stay deletable
        if path.is_file():
            path.chmod(0o644)
    for path in (root / "objects").rglob("*"):
        if path.is_file():
            path.chmod(0o444)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ARES_STORE", str(root))
    return root


@pytest.fixture(scope="session")
def small_config():
    from ares_cli.config import build_config

    return build_config(SMALL)


@pytest.fixture(scope="session")
def small_pipeline(small_config, tmp_path_factory):
    """Every step of the SMALL market in memory (walk-forward with local processes), built
    once per test session across xdist workers (pickled in the folder they share)."""
    import pickle

    from ares_cli.pipeline import run_steps

    with _once(tmp_path_factory, "small_pipeline") as shared:
        cache = shared / "small_pipeline.pickle"
        if cache.exists():
            return pickle.loads(cache.read_bytes())
        last = max(s.number for s in STEPS if s.implemented)
        result = run_steps(STEPS[:last], {}, small_config)
        cache.write_bytes(pickle.dumps(result))
        return result
