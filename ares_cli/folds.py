"""Walk-forward folds executed: each fold re-runs steps 4 to 12 on its own past, in memory, then
trades its test span with what it chose. Folds are independent, so they go through joblib:
local processes by default, a Dask cluster with `[compute] backend = "dask"`.

A fold reads the bars up to the end of its test span and nothing later. Its regime classifier is
fitted on its own training part, its windows are the fold's (steps 4 to 12 never read outcomes
of the "test" window, which here is the fold's test span), and its searches use the walk-forward
trial budgets. Every choice it trades with (models, recipe, ensemble, calibrators, thresholds,
rules) comes out of that pipeline; the digests of those choices are returned so a test can check
that scrambling the test span changes none of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from ares_cli.errors import AresError, InsufficientData, StepFailed
from ares_cli.ml.evaluation.walk_forward import ComputeConfig, Fold

if TYPE_CHECKING:
    import threading

    from ares_cli.ml.trading.engine import Backtest, Market
    from ares_cli.steps.base import Step

__all__ = ["CHOICES", "FoldResult", "Stitched", "fold_state_key", "run_fold", "run_folds",
           "start_folds_early", "stitch", "warm_workers"]

# The artifacts a fold trades with: none may depend on a row of its test span.
CHOICES = ("analyst_models", "analyst_models_enhanced", "analyst_ensemble_model",
           "tactician_models", "tactician_ensemble_model", "calibrators", "params")


@dataclass(frozen=True)
class FoldResult:
    """One fold's out-of-sample record and what it chose."""

    fold: Fold
    returns: pl.DataFrame  # bar_index (global), timestamp, fold, ret, position, benchmark_ret
    trades: pl.DataFrame  # the engine's trade table plus fold, entry_bar, exit_bar (global)
    params: dict[str, Any]  # step 12's chosen params of this fold
    metrics: dict[str, Any]  # test-span metrics of the chosen rules and of buy-and-hold
    validation: dict[str, Any]  # step 12's (selected, optimistic) validation metrics
    trials: int  # configurations tried by the fold's searches (steps 6 and 12)
    choices: dict[str, str]  # artifact name -> sha256 of its encoded bytes


def _fold_config(config: Any, wf: Any) -> Any:
    """The fold's config: the run's, with the walk-forward trial budgets (validated by the
    config's own class, so the config assembly stays out of step 13's code digest)."""
    raw = config.to_dict()
    raw["enhance"]["n_trials"] = wf.enhance_trials
    raw["optimize"]["trials"] = wf.optimize_trials
    raw["optimize"]["population"] = min(raw["optimize"]["population"], wf.optimize_trials)
    return type(config).model_validate(raw)


def fold_inputs(fold: Fold, bars: pl.DataFrame, fine: pl.DataFrame, config: Any,
                base_ms: int) -> dict[str, Any]:
    """The catalog a fold's steps 4 to 12 start from: its bars (its past and test span only),
    the fine bars inside them, regimes fitted on its training part and its windows."""
    from ares_cli.ml.features.regimes import classify_bars
    from ares_cli.ml.features.splits import SplitPlan, assign

    part = _causal_gaps(bars.slice(fold.start, fold.test[1] - fold.start),
                        fold.test[0] - fold.start)
    lo = part["timestamp"][0]
    hi = part["timestamp"][-1] + timedelta(milliseconds=base_ms)
    fine_part = fine.filter((pl.col("timestamp") >= lo) & (pl.col("timestamp") < hi))
    n = part.height
    train_len = fold.train[1] - fold.start
    regimes, _, _ = classify_bars(part, config.regimes, (train_len + 0.5) / n)
    local = {name: (a - fold.start, b - fold.start) for name, (a, b) in
             (("train", fold.train), ("validation", fold.validation), ("test", fold.test))}
    plan = SplitPlan(n, local, fold.validation[0] - fold.train[1])
    splits = assign(regimes["timestamp"], regimes["regime"], plan)
    return {"bars": part, "bars_fine": fine_part, "regimes": regimes, "splits": splits}


def _causal_gaps(part: pl.DataFrame, test_start: int) -> pl.DataFrame:
    """The fold's bars with a gap column its past can know: whether an empty stretch is an
    outage or a quiet market is told by the trade after it, so a stretch running from the
    fold's past into its test span is taken as a gap in the past (the conservative cut) rather
    than classified by a trade of the test span."""
    from ares_cli.data.gaps import GAP_COLUMN

    if GAP_COLUMN not in part.columns or not 0 < test_start < part.height:
        return part
    filled = part["filled"].to_numpy().astype(bool)
    if not (filled[test_start - 1] and filled[test_start]):
        return part
    k = test_start - 1
    while k >= 0 and filled[k]:
        k -= 1
    gap = part[GAP_COLUMN].to_numpy().astype(bool).copy()
    gap[k + 1:test_start] = True
    return part.with_columns(pl.Series(GAP_COLUMN, gap))


def fold_state_key(state_key: str, fold: Fold) -> str:
    """The state key of a fold's steps: its Optuna studies are named after it, so it must
    change with the data, config and code (the step's action key) and with the fold's bounds.
    A fixed key would let a persistent study of an earlier run, scored on other data (possibly
    this fold's test span), choose this fold's recipe. Short enough to survive the steps'
    16-character cut of the key (8 hex digits, the fold number, the step number)."""
    import hashlib

    digest = hashlib.sha256(f"{state_key}:{fold.to_dict()}".encode()).hexdigest()[:8]
    return f"{digest}-f{fold.number}"


def run_fold(fold: Fold, bars: pl.DataFrame, fine: pl.DataFrame, config: Any,
             steps: Sequence[Step], *, exchange: str, symbol: str,
             state_key: str = "memory", progress_file: str | None = None) -> FoldResult:
    """`steps` (4 to 12) on the fold's past, then its test span traded with what it chose.
    `state_key` is the walk-forward step's action key (see `fold_state_key`); the step being
    replayed is written to `progress_file`, for the parent process to show."""
    from ares_cli.ml.trading.optimize import trade
    from ares_cli.ml.trading.policy import Policy, gate_counts
    from ares_cli.ml.trading.windows import window_market, window_signals
    from ares_cli.pipeline import run_steps

    wf = config.walk_forward
    fold_cfg = _fold_config(config, wf)
    base_ms = config.bars.base_ms
    catalog = fold_inputs(fold, bars, fine, config, base_ms)
    local_test = np.arange(fold.test[0] - fold.start, fold.test[1] - fold.start, dtype=np.int64)
    try:
        result = run_steps(steps, catalog, fold_cfg, exchange=exchange, symbol=symbol,
                           state_key=fold_state_key(state_key, fold),
                           on_step=None if progress_file is None else
                           lambda step, fraction: _note_progress(progress_file, step.number,
                                                                 fraction))
    except InsufficientData as exc:
        # Too little of something in this fold's own past (labelled rows, proposals, a
        # regime's rows): the pipeline could not have trained then, so nothing trades on the
        # test span. A flat fold is the true record of that; it is not skipped, which would
        # let the data decide which spans count. Any other error (invalid data, a bug) still
        # stops the run.
        return _untrained_fold(fold, catalog, local_test, config, base_ms, exc.message)
    out = result.catalog
    params = out["params"]
    market = window_market(out["bars"], out["bars_fine"], local_test, base_ms)
    frame = window_signals(
        local_test, bars=out["bars"], splits=out["splits"],
        calibrated_analyst=out["calibrated_analyst"],
        calibrated_tactician=out["calibrated_tactician"],
        tactician_predictions=out["tactician_predictions"],
        member_names=tuple(params["member_names"]),
        tactician_calibrator=out["calibrators"]["tactician"], atr_window=params["atr_window"])
    policy = None if params["policy"] is None else Policy.from_dict(params["policy"])
    bt = trade(market, frame, policy, fee=params["fee"], slippage=params["slippage"],
               bars_per_year=params["bars_per_year"])
    digests = {name: d for outcome in result.steps.values() for name, d in outcome.digests.items()}
    step12 = next(o for o in result.steps.values() if "params" in o.digests).metrics
    return _traded(fold, out["bars"], market, local_test, bt, params,
                   gates=(gate_counts(frame, policy) if policy is not None
                          else {"proposals": int((frame.side != 0).sum())}),
                   validation=step12["validation"]["chosen"],
                   trials=int(step12["data"]["trials_search_total"]),
                   choices={name: digests[name] for name in CHOICES})


def _untrained_fold(fold: Fold, catalog: dict[str, Any], local_test: np.ndarray, config: Any,
                    base_ms: int, why: str) -> FoldResult:
    """A fold whose steps 4 to 12 stopped for too little data in its past: flat on its test
    span, with the reason where step 12 would put its own reason for staying flat."""
    from ares_cli.ml.trading.engine import YEAR_MS
    from ares_cli.ml.trading.optimize import trade
    from ares_cli.ml.trading.windows import window_market

    market = window_market(catalog["bars"], catalog["bars_fine"], local_test, base_ms)
    params = {"policy": None, "trial": None, "untrained": True,
              "why": f"its past was too short to train on ({why})",
              "fee": config.costs.fee, "slippage": config.costs.slippage,
              "bars_per_year": YEAR_MS / base_ms}
    bt = trade(market, None, None, fee=params["fee"], slippage=params["slippage"],
               bars_per_year=params["bars_per_year"])
    # trials 0: no search of this fold completed a choice (a step-6 search that ran before
    # the shortfall chose nothing that trades)
    return _traded(fold, catalog["bars"], market, local_test, bt, params, gates={},
                   validation={"sharpe": None}, trials=0, choices={})


def _traded(fold: Fold, part: pl.DataFrame, market: Market, local_test: np.ndarray,
            bt: Backtest, params: dict[str, Any], *, gates: dict[str, int],
            validation: dict[str, Any], trials: int, choices: dict[str, str]) -> FoldResult:
    """The fold's record: its test span's returns and trades in global bar numbers, beside
    buy-and-hold on the same bars."""
    from ares_cli.data.gaps import gap_flags, gaps_in
    from ares_cli.ml.trading.optimize import buy_and_hold

    hold = buy_and_hold(market, fee=params["fee"], slippage=params["slippage"],
                        bars_per_year=params["bars_per_year"])
    global_index = local_test + fold.start
    returns = pl.DataFrame({
        "bar_index": global_index,
        "timestamp": part["timestamp"].gather(local_test),
        "fold": np.full(local_test.size, fold.number, dtype=np.int64),
        "ret": bt.returns,
        "position": bt.position,
        "benchmark_ret": hold.returns,
    })
    trades = bt.trade_table(market)
    entry_bar = np.searchsorted(market.first_fine, bt.trades["entry_index"], side="right") - 1
    exit_bar = np.searchsorted(market.first_fine, bt.trades["exit_index"], side="right") - 1
    trades = trades.with_columns(
        fold=pl.lit(fold.number, dtype=pl.Int64),
        entry_bar=pl.Series(global_index[entry_bar] if entry_bar.size else [], dtype=pl.Int64),
        exit_bar=pl.Series(global_index[exit_bar] if exit_bar.size else [], dtype=pl.Int64),
    )
    return FoldResult(
        fold=fold, returns=returns, trades=trades, params=params,
        metrics={"rules": bt.metrics(), "buy_and_hold": hold.metrics(),
                 # what kept the test span's proposals from trading (the shared gate names)
                 "gates": gates,
                 "data_gaps": gaps_in(gap_flags(part), int(local_test[0]),
                                      int(local_test[-1]) + 1)},
        validation=validation, trials=trials, choices=choices)


@dataclass(frozen=True)
class _FoldRun:
    """What a fold's process sends back: its result or its failure, and the library warnings
    raised there (a worker's stderr would print them over the progress display)."""

    result: FoldResult | None
    error: tuple[int, str, str] | None  # fold number, exception class, message
    warnings: list[tuple[str, str]]  # (category, message), each distinct one once


def _guarded(fold: Fold, *args: Any, fit_threads: int | None = None,
             **kwargs: Any) -> _FoldRun:  # kwargs: run_fold's (progress_file among them)
    """`run_fold`, turning a failure into a picklable record naming the fold and the cause
    (exception classes with keyword arguments do not always survive a process boundary), and
    catching the fold's warnings for the parent to log. `fit_threads` sets this process's
    threads for model fits (folds in several processes share the cores; None keeps the
    caller's setting)."""
    import contextlib
    import os
    import warnings

    if fit_threads is not None:
        from ares_cli.ml.models.parallel import set_fit_threads

        set_fit_threads(fit_threads)
    result, error = None, None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = run_fold(fold, *args, **kwargs)
        except Exception as exc:
            error = (fold.number, type(exc).__name__,
                     exc.message if isinstance(exc, AresError) else str(exc))
        finally:  # a finished fold is counted as done, not as still replaying its last step
            if kwargs.get("progress_file"):
                with contextlib.suppress(OSError):
                    os.remove(kwargs["progress_file"])
    seen = dict.fromkeys((w.category.__name__, str(w.message)) for w in caught)
    return _FoldRun(result, error, list(seen))


def _reraise_warnings(runs: list[_FoldRun], folds: list[Fold]) -> None:
    """Raise each fold's warnings again here, where the runner logs them to the run log."""
    import builtins
    import warnings

    for fold, run in zip(folds, runs, strict=True):
        for category, message in run.warnings:
            cls = getattr(builtins, category, None)
            if not (isinstance(cls, type) and issubclass(cls, Warning)):
                cls = UserWarning
            warnings.warn(f"walk-forward fold {fold.number}: {message}", cls, stacklevel=2)


_WARMING: list[Any] = []  # the thread starting the worker processes, joined before use
_WARMED: list[int] = []  # the process ids it warmed


def _import_fold_code() -> int:
    """What a fold imports first (XGBoost alone brings scikit-learn and SciPy, and pandas
    where it is installed: about 2 s a process on this machine), and numba for the backtest
    loop (about 0.6 s; its compiled code still loads from the disk cache at the first
    backtest); the worker's process id."""
    import os

    import optuna  # noqa: F401
    import xgboost  # noqa: F401

    import ares_cli.pipeline  # noqa: F401
    from ares_cli.ml.trading.engine import compiled_loop

    compiled_loop()
    return os.getpid()


def _note_progress(path: str, number: int, fraction: float = 0.0) -> None:
    """Write the number of the step a fold is replaying and how far that step says it is
    (whole or not at all: a rename)."""
    import os

    tmp = f"{path}.tmp"
    try:  # progress is for show: a full /tmp must not fail the fold
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(f"{number} {max(0.0, min(1.0, fraction)):.3f}")
        os.replace(tmp, path)
    except OSError:
        pass


class _FoldProgress:
    """Reads the folds' progress files every second while they run and reports the whole:
    finished folds plus the replayed share of those in flight, so the bar moves during a long
    first fold too (it sat at 2 % for a minute)."""

    def __init__(self, folds: list[Fold], steps: Sequence[Step],
                 report: Callable[[float, str], None]) -> None:
        import tempfile
        import threading

        self.folder = tempfile.mkdtemp(prefix="ares-folds-")
        self.folds, self.numbers = folds, sorted(s.number for s in steps)
        self.names = {s.number: s.name for s in steps}
        self.report, self.done, self.shown = report, 0, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="ares-fold-progress",
                                        daemon=True)

    def path(self, fold: Fold) -> str:
        import os

        return os.path.join(self.folder, f"fold-{fold.number}")

    def __enter__(self) -> _FoldProgress:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        import shutil

        self._stop.set()
        self._thread.join()
        shutil.rmtree(self.folder, ignore_errors=True)

    def finished(self, k: int) -> None:
        self.done = k
        self.shown = max(self.shown, 0.05 + 0.85 * k / len(self.folds))
        self.report(self.shown, f"{k} of {len(self.folds)} folds done")

    def _poll(self) -> None:
        last = ""
        while not self._stop.wait(1.0):
            share, parts = 0.0, []
            for fold in self.folds:
                try:
                    with open(self.path(fold), encoding="utf-8") as handle:
                        number_text, fraction_text = handle.read().split()
                    number, fraction = int(number_text), float(fraction_text)
                except (OSError, ValueError):
                    continue
                if number in self.numbers:
                    share += (self.numbers.index(number) + fraction) / len(self.numbers)
                    parts.append(f"fold {fold.number}: {number} {self.names[number]} "
                                 f"{fraction:.0%}")
            text = "; ".join(parts)
            if text and text != last:
                last = text
                whole = min(self.done + share, len(self.folds))
                # a fold that finished before the one ahead of it in the results is not yet
                # counted as done, yet no longer replaying: the bar never moves back for it
                self.shown = max(self.shown, 0.05 + 0.85 * whole / len(self.folds))
                self.report(self.shown, f"{self.done} of {len(self.folds)} folds done; {text}")


def _local_processes(sequential: bool = False) -> Any:
    """joblib's local processes (loky), each watching its parent from its start, so none
    outlives a killed run, even one that never got a task; the warm-up and the folds ask for
    the same settings, so joblib hands the folds the warmed processes."""
    import os

    import joblib

    if sequential:
        return joblib.parallel_config(backend="sequential")
    return joblib.parallel_config(backend="loky", initializer=_worker_start,
                                  initargs=(os.getpid(),))


def _worker_start(parent: int) -> None:
    """A fold process's start: die with the run, and collect cycles as the main process does
    (a fold allocates millions of short-lived objects in its searches)."""
    from ares_cli.util import collector
    from ares_cli.util.orphan import exit_with_parent

    exit_with_parent(parent)
    collector.for_batch()


def warm_workers(compute: ComputeConfig) -> None:
    """Start the local worker processes and their imports in the background, so `run_folds`
    finds them ready (joblib reuses the same processes). A resource, never a result: with one
    job or a Dask cluster it does nothing."""
    import threading

    if compute.backend != "local" or compute.n_jobs < 2 or _WARMING:
        return

    def start() -> None:
        import contextlib

        import joblib

        # a failed warm-up only costs the time it saves
        with contextlib.suppress(Exception), _local_processes():
            _WARMED.extend(joblib.Parallel(n_jobs=compute.n_jobs)(
                joblib.delayed(_import_fold_code)() for _ in range(compute.n_jobs)))

    thread = threading.Thread(target=start, name="ares-warm-workers", daemon=True)
    _WARMING.append(thread)
    thread.start()


def run_folds(folds: list[Fold], bars: pl.DataFrame, fine: pl.DataFrame, config: Any,
              steps: Sequence[Step], *, exchange: str, symbol: str,
              compute: ComputeConfig | None = None, state_key: str = "memory",
              progress: Callable[[float, str], None] = lambda *_: None) -> list[FoldResult]:
    """Every fold through joblib (local processes or Dask, as `compute` says: a resource that
    changes where folds run, never what they compute); results in fold order. When the runner
    began these folds early under `state_key` (`start_folds_early`), their results are taken.

    Raises:
        StepFailed / DataError: the first failed fold, with its number and cause.
    """
    from ares_cli.util import early

    begun, taken = early.take(state_key, progress) if state_key != "memory" else (False, None)
    if begun and taken[0] == folds:
        runs = taken[1]
    else:  # not begun early (or, never expected, for other folds): run them now
        runs = _run_jobs(folds, bars, fine, config, steps, exchange=exchange, symbol=symbol,
                         compute=compute, state_key=state_key, progress=progress)
    return _finish(folds, runs)


def start_folds_early(folds: list[Fold], bars: pl.DataFrame, fine: pl.DataFrame, config: Any,
                      steps: Sequence[Step], *, exchange: str, symbol: str,
                      compute: ComputeConfig | None, state_key: str) -> bool:
    """Begin the folds in the background under `state_key` (step 13's action key), for
    `run_folds` with the same key to take; local processes only (a Dask cluster is not this
    machine's idle core). False when nothing was begun."""
    import threading

    from ares_cli.util import early

    compute = compute or ComputeConfig()
    if state_key == "memory" or compute.backend != "local" or min(compute.n_jobs,
                                                                   len(folds)) < 2:
        return False
    stop = threading.Event()

    def work(progress: Callable[[float, str], None]) -> tuple[list[Fold], list[_FoldRun]]:
        return folds, _run_jobs(folds, bars, fine, config, steps, exchange=exchange,
                                symbol=symbol, compute=compute, state_key=state_key,
                                progress=progress, stop=stop)

    def cancel() -> None:
        stop.set()
        _kill_local_workers()

    return early.start(state_key, work, cancel)


class _Cancelled(Exception):
    """Early folds stopped because their run ended without taking them."""


def _kill_local_workers() -> None:
    """End joblib's local worker processes now, folds in flight included (the next folds get
    new ones)."""
    import contextlib

    from joblib.externals.loky import reusable_executor

    executor = getattr(reusable_executor, "_executor", None)
    if executor is not None:
        with contextlib.suppress(Exception):
            executor.shutdown(wait=False, kill_workers=True)


def _run_jobs(folds: list[Fold], bars: pl.DataFrame, fine: pl.DataFrame, config: Any,
              steps: Sequence[Step], *, exchange: str, symbol: str,
              compute: ComputeConfig | None, state_key: str,
              progress: Callable[[float, str], None],
              stop: threading.Event | None = None) -> list[_FoldRun]:
    """The folds' runs (results, errors, warnings) in fold order."""
    import joblib

    compute = compute or ComputeConfig()
    for thread in _WARMING:
        thread.join()  # the processes it started are the ones joblib hands the folds to
    n_jobs = min(compute.n_jobs, len(folds))
    # local processes share this machine's fit threads. A Dask worker runs a fold in one of
    # its task threads beside its event loop and its profiler, which samples every thread's
    # stack: fit threads of our own there (and their short GIL switch interval) made a GIL
    # convoy in which a fold crawled for minutes; there a fold fits one model at a time
    per_process = (1 if compute.backend == "dask" else
                   max(1, compute.fit_threads // n_jobs) if n_jobs > 1 else None)
    # the longest fold first (longest processing time first): with three folds on two
    # processes the two short ones share a process while the long one runs, instead of the
    # long one starting last; results are put back in fold order below
    order = sorted(range(len(folds)), key=lambda k: (folds[k].start - folds[k].test[1], k))
    with _FoldProgress(folds, steps, progress) as tracker:
        local = compute.backend != "dask"  # a Dask worker's files are on its own machine
        jobs = [joblib.delayed(_guarded)(folds[k], bars, fine, config, tuple(steps),
                                         exchange=exchange, symbol=symbol,
                                         state_key=state_key, fit_threads=per_process,
                                         progress_file=tracker.path(folds[k]) if local
                                         else None)
                for k in order]
        results = _dispatch(jobs, compute, n_jobs, tracker, stop)
    return [r for _, r in sorted(zip(order, results, strict=True), key=lambda p: p[0])]


def _finish(folds: list[Fold], runs: list[_FoldRun]) -> list[FoldResult]:
    """The folds' results, their warnings raised again here and the first error raised."""
    from ares_cli import errors

    _reraise_warnings(runs, folds)
    for run in runs:
        if run.error is not None:
            number, kind, message = run.error
            cls = getattr(errors, kind, None)
            text = f"walk-forward fold {number} failed: {kind}: {message}"
            if isinstance(cls, type) and issubclass(cls, AresError):
                raise cls(text)
            raise StepFailed(text)
    return [run.result for run in runs if run.result is not None]


def _dispatch(jobs: list[Any], compute: ComputeConfig, n_jobs: int,
              tracker: _FoldProgress, stop: threading.Event | None = None) -> list[Any]:
    """The jobs' results in job order, through local processes or a Dask cluster."""
    import joblib

    from ares_cli import errors

    if compute.backend == "dask":
        if not compute.scheduler:
            raise errors.ConfigError("compute.backend = 'dask' needs compute.scheduler "
                                     "(e.g. tcp://host:8786)")
        try:
            from distributed import Client
        except ImportError:
            raise errors.ConfigError("compute.backend = 'dask' needs the 'distributed' "
                                     "package: pip install 'ares-cli[dask]'") from None
        try:
            client = Client(compute.scheduler, timeout="10s")
        except OSError as exc:
            raise errors.ExternalServiceError(
                f"cannot reach the Dask scheduler at {compute.scheduler}: {exc}") from None
        with client, joblib.parallel_config(backend="dask"):
            return _collect(joblib.Parallel(n_jobs=-1, return_as="generator")(jobs), tracker)
    with _local_processes(sequential=n_jobs == 1):
        return _collect(joblib.Parallel(n_jobs=n_jobs, return_as="generator")(jobs), tracker,
                        stop)


def _collect(generator: Any, tracker: _FoldProgress,
             stop: threading.Event | None = None) -> list[Any]:
    out = []
    for k, r in enumerate(generator, start=1):
        if stop is not None and stop.is_set():
            raise _Cancelled("walk-forward begun early: its run ended without it")
        out.append(r)
        tracker.finished(k)
    return out


@dataclass(frozen=True)
class Stitched:
    """The folds' test spans as one out-of-sample record."""

    returns: pl.DataFrame  # per test bar: ret, position, benchmark_ret and both equity curves
    trades: pl.DataFrame  # every fold's trades
    metrics: dict[str, Any]  # the engine's metrics of the stitched returns
    buy_and_hold: dict[str, Any]  # the same of buy-and-hold on the same bars
    bars_per_year: float
    per_fold: list[dict[str, Any]]  # each fold's span, test record and selection
    stability: dict[str, Any]  # how the chosen parameters vary across folds
    trials: int  # configurations tried by every fold's searches
    folds_json: dict[str, Any]  # the `walk_forward_folds` artifact


def stitch(results: list[FoldResult]) -> Stitched:
    """One out-of-sample record of the folds' test spans, in bar order."""
    from ares_cli.ml.evaluation.walk_forward import parameter_stability
    from ares_cli.ml.trading.engine import metrics as bt_metrics

    returns = pl.concat([r.returns for r in results]).sort("bar_index")
    returns = returns.with_columns(equity=(1 + pl.col("ret")).cum_prod(),
                                   benchmark_equity=(1 + pl.col("benchmark_ret")).cum_prod())
    trades = pl.concat([r.trades for r in results], how="vertical_relaxed")
    bars_per_year = float(results[0].params["bars_per_year"])
    r = returns["ret"].to_numpy()
    # metrics() reads only the trades' pnl here (no fine bars: exposure is set from positions)
    stitched = bt_metrics(r, np.cumprod(1 + r), {"pnl": trades["pnl"].to_numpy()},
                          bars_per_year)
    bench = returns["benchmark_ret"].to_numpy()
    stitched_bench = bt_metrics(bench, np.cumprod(1 + bench), {"pnl": np.zeros(0)},
                                bars_per_year)
    stitched["exposure"] = float(np.mean(returns["position"].to_numpy() != 0))
    per_fold = []
    for res in results:
        rules = res.metrics["rules"]
        per_fold.append({
            **res.fold.to_dict(),
            "test_start": str(res.returns["timestamp"][0]),
            "test_end": str(res.returns["timestamp"][-1]),
            "sharpe": rules["sharpe"], "max_drawdown": rules["max_drawdown"],
            "total_return": rules["total_return"], "trades": rules["trades"],
            "buy_and_hold_sharpe": res.metrics["buy_and_hold"]["sharpe"],
            "buy_and_hold_return": res.metrics["buy_and_hold"]["total_return"],
            "validation_sharpe_selected": res.validation["sharpe"],
            "trials": res.trials, "chosen_trial": res.params["trial"],
            "data_gaps": res.metrics.get("data_gaps"),
        })
    stability = parameter_stability([{**(res.params["policy"] or {}),
                                      "flat": res.params["policy"] is None} for res in results])
    trials = int(sum(res.trials for res in results))
    folds_json = {"folds": [{**res.fold.to_dict(), "params": res.params,
                             "metrics": res.metrics, "validation_selected": res.validation,
                             "trials": res.trials, "choices": res.choices}
                            for res in results],
                  "stability": stability, "trials": trials}
    return Stitched(returns, trades, stitched, stitched_bench, bars_per_year, per_fold,
                    stability, trials, folds_json)
