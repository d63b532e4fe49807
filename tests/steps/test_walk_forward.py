"""Step 13 `walk-forward` on the SMALL market: stitching, the names the JSON relies on, no fold
choice depending on its test span (spy), and the Dask backend giving the local digests."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from ares_cli.folds import CHOICES, run_fold, run_folds
from ares_cli.ml.evaluation.walk_forward import ComputeConfig, Fold
from ares_cli.steps.s13_walk_forward import REPLAYED

pytestmark = pytest.mark.slow


def _folds(small_pipeline) -> list[Fold]:
    raw = small_pipeline.catalog["walk_forward_folds"]["folds"]
    return [Fold(f["fold"], f["start"], tuple(f["train"]), tuple(f["validation"]),
                 tuple(f["test"])) for f in raw]


def test_stitched_out_of_sample_record_and_json_names(small_pipeline) -> None:
    m = small_pipeline.steps[13].metrics["walk_forward"]
    for key in ("sharpe", "max_drawdown", "total_return", "trades", "trials"):
        assert isinstance(m[key], int | float), key
    assert len(m["folds"]) == 2 and m["trials"] == sum(f["trials"] for f in m["folds"])
    returns = small_pipeline.catalog["walk_forward"]
    folds = _folds(small_pipeline)
    # the test spans tile the end of the history, the last ends with the data
    n = small_pipeline.catalog["bars"].height
    assert folds[-1].test[1] == n and folds[0].test[1] == folds[1].test[0]
    assert returns["bar_index"].to_list() == list(range(folds[0].test[0], n))
    equity = np.cumprod(1 + returns["ret"].to_numpy())
    assert m["total_return"] == pytest.approx(equity[-1] - 1, rel=1e-9)
    trades = small_pipeline.catalog["walk_forward_trades"]
    assert trades.height == m["trades"]
    for f in folds:  # every trade lies inside its fold's test span
        own = trades.filter(pl.col("fold") == f.number)
        assert own["entry_bar"].min() is None or own["entry_bar"].min() >= f.test[0]
        assert own["exit_bar"].max() is None or own["exit_bar"].max() < f.test[1]
    assert "parameter_stability" in m
    for record in small_pipeline.catalog["walk_forward_folds"]["folds"]:
        gates = record["metrics"]["gates"]  # what step 14 names when a record is too thin
        if record["params"]["policy"] is not None:
            assert gates["passed"] <= gates["proposals"]
            assert record["metrics"]["rules"]["trades"] <= gates["passed"]


def test_no_choice_a_fold_trades_with_depends_on_its_test_span(small_pipeline,
                                                                small_config) -> None:
    """Scramble every price from the last fold's test span on: its models, recipe, ensemble,
    calibrators, thresholds and rules stay bit-identical; only its test-span trading changes.
    (Mutation: letting the fold choose on its test span, i.e. validation running to its end,
    fails this. Fitting the regime classifier on all its bars does not: its labels are causal
    whatever the fit range.)"""
    fold = _folds(small_pipeline)[-1]
    bars, fine = small_pipeline.catalog["bars"], small_pipeline.catalog["bars_fine"]
    start = bars["timestamp"][fold.test[0]]
    rng = np.random.default_rng(1)

    def scramble(frame: pl.DataFrame) -> pl.DataFrame:
        later = (frame["timestamp"] >= start).to_numpy()
        factor = pl.Series(np.where(later, rng.uniform(0.8, 1.2, frame.height), 1.0))
        return frame.with_columns(pl.col(c) * factor for c in ("open", "high", "low", "close"))

    scrambled = run_fold(fold, scramble(bars), scramble(fine), small_config, REPLAYED,
                         exchange="binance", symbol="ETHUSDT")
    original = small_pipeline.catalog["walk_forward_folds"]["folds"][-1]
    assert set(scrambled.choices) == set(CHOICES)
    assert scrambled.choices == original["choices"]
    assert scrambled.params == original["params"]
    before = small_pipeline.catalog["walk_forward"].filter(pl.col("fold") == fold.number)
    assert not np.allclose(scrambled.returns["benchmark_ret"].to_numpy(),
                           before["benchmark_ret"].to_numpy())


def test_dask_local_cluster_gives_the_local_digests(small_pipeline, small_config) -> None:
    """Where the folds run is a resource: a Dask cluster gives the local run's choices and
    returns bit for bit (so [compute] rightly stays out of step 13's action key)."""
    distributed = pytest.importorskip("distributed")

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, host="127.0.0.1") as cluster:
        compute = ComputeConfig(backend="dask", scheduler=cluster.scheduler_address)
        results = run_folds(_folds(small_pipeline), small_pipeline.catalog["bars"],
                            small_pipeline.catalog["bars_fine"], small_config, REPLAYED,
                            exchange="binance", symbol="ETHUSDT", compute=compute)
    local = small_pipeline.catalog["walk_forward_folds"]["folds"]
    assert [r.choices for r in results] == [f["choices"] for f in local]
    stitched = pl.concat([r.returns for r in results]).sort("bar_index")
    assert stitched["ret"].equals(small_pipeline.catalog["walk_forward"]["ret"])


def _loky_workers() -> list[int]:
    """This process's joblib worker processes (not their resource tracker)."""
    import os
    from pathlib import Path

    found = []
    for proc in Path("/proc").iterdir():
        try:
            stat = (proc / "stat").read_text()
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if (proc.name.isdigit() and int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid()
                and b"popen_loky" in cmdline):
            found.append(int(proc.name))
    return found


def test_folds_begun_early_are_what_the_step_takes(small_pipeline, small_config,
                                                   monkeypatch) -> None:
    """Folds begun in the background while steps 4-12 run give the step's choices and returns
    bit for bit, and the step takes them instead of running the folds again."""
    import ares_cli.folds as folds_module

    folds = _folds(small_pipeline)
    bars, fine = small_pipeline.catalog["bars"], small_pipeline.catalog["bars_fine"]
    args = (folds, bars, fine, small_config, REPLAYED)
    assert folds_module.start_folds_early(*args, exchange="binance", symbol="ETHUSDT",
                                          compute=ComputeConfig(n_jobs=2), state_key="k-early")

    def ran_again(*_args, **_kwargs):
        raise AssertionError("the folds ran again instead of being taken")

    monkeypatch.setattr(folds_module, "_run_jobs", ran_again)
    shown: list[float] = []
    results = run_folds(*args, exchange="binance", symbol="ETHUSDT", state_key="k-early",
                        progress=lambda f, _m: shown.append(f))
    local = small_pipeline.catalog["walk_forward_folds"]["folds"]
    assert [r.choices for r in results] == [f["choices"] for f in local]
    stitched = pl.concat([r.returns for r in results]).sort("bar_index")
    assert stitched["ret"].equals(small_pipeline.catalog["walk_forward"]["ret"])
    assert shown and shown[-1] == pytest.approx(0.9)  # the last progress, shown when taken


def test_folds_nobody_takes_stop_with_their_processes(small_pipeline, small_config) -> None:
    """A run that fails before walk-forward cancels its early folds: the thread ends and the
    worker processes computing them are gone, instead of computing on behind the run."""
    import time

    from ares_cli.folds import start_folds_early
    from ares_cli.util import early

    folds = _folds(small_pipeline)
    assert start_folds_early(folds, small_pipeline.catalog["bars"],
                             small_pipeline.catalog["bars_fine"], small_config, REPLAYED,
                             exchange="binance", symbol="ETHUSDT",
                             compute=ComputeConfig(n_jobs=2), state_key="k-cancel")
    deadline = time.monotonic() + 60
    while len(_loky_workers()) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(_loky_workers()) == 2
    time.sleep(1.0)  # folds in flight
    began = time.monotonic()
    early.cancel_all(timeout=30)
    assert time.monotonic() - began < 15 and early.pending() == []
    deadline = time.monotonic() + 10
    while _loky_workers() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _loky_workers() == []
    assert not [t for t in __import__("threading").enumerate()
                if t.name.startswith("ares-early-")]
