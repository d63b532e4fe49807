"""Benchmark: the backtest engine vs vectorbt on the same long/flat signals over 100,000 one-minute
bars: one backtest, and a sweep of 1,000 (fast, slow) moving-average window pairs. Checks that
both give the same results, and prints seconds, the speed ratio (vectorbt time / ares time; the
target is >= 10x) and the peak memory of each side.

The strategy: long at a bar's close while SMA(fast) > SMA(slow) of the closes, flat otherwise;
fee 0.1% and slippage 0.05% per side, all the equity in each trade. For ares the base and the
fine bars are the same one-minute bars. How vectorbt is fed the same thing:

- ares decides at a bar's close and fills at the NEXT bar's open, so vectorbt gets the signals
  shifted by one bar and `price=open` (and `close` to value the position at each bar);
- sizing and costs already agree (verified by the checks, not assumed): `size=np.inf` buys
  `cash / (fill * (1 + fee))` units, an exit is worth `units * fill * (1 - fee)`, and slippage
  moves the fill against the trade; `init_cash=1.0` as ares' equity starts at 1.0;
- the one convention that differs: ares closes a position still open after the last bar at that
  bar's close (with slippage and fee), vectorbt leaves it open, valued at the close without costs.
  The checks neutralise it after the timing: vectorbt's open position is closed arithmetically
  at the last close, the same way (its last equity mark and that trade's exit price).

Both sides get their inputs ready-made (the signal arrays or the window pairs) and are timed on
what a user calls to get the engine's outputs: for one backtest, the equity per bar, the returns
and the trade list (`backtest` vs `Portfolio.from_signals` + `value()` + `returns()` + trades);
for the sweep, the final equity and the trade count of every combination, starting from the
closes (`sweep_sma_crossover` vs `MA.run` x2, `ma_above`, the shift, `from_signals`,
`final_value()`, `trades.count()`: vectorbt's documented broadcasting way, in one call each). A
third row shows the plain way in ares: `backtest` called once per combination. Both sides
compute the SMAs from running prefix sums of the closes (vectorbt's rolling mean, ares'
`sma_crossover_side`), so their signals agree bit for bit. The ares sweep spreads the pairs over
all CPUs (threads); vectorbt 1.2.0 has no parallel option for this and runs in one thread. The
vectorbt engine is its default: numba, or Rust when `vectorbt-rust` is installed (`--engine`).

Each side runs in its own subprocess, after a warm-up call (JIT compile or numba cache load,
reported separately): the best of `--repeat` timings, and the peak resident memory above the
process's memory after the warm-up (the kernel's high-water mark, reset after the warm-up;
numba's allocations are invisible to tracemalloc). Nothing here asserts a time; the process
exits 1 when the results differ.

vectorbt is not a dependency: it lives in `.venv-bench`, which `make bench` builds. One vectorbt
sweep takes about a minute and 5 GB here, hence one timing of each sweep by default.

Usage: python -m benchmarks.bench_backtest [--bars 100000] [--repeat 50] [--sweep-repeat 1]
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

FEE = 0.001
SLIPPAGE = 0.0005
SINGLE = (20, 120)  # (fast, slow) of the single backtest: one of the sweep's pairs
FAST_GRID = np.arange(5, 45)  # 40 fast windows
SLOW_GRID = np.arange(50, 300, 10)  # x 25 slow windows = 1,000 pairs
MINUTES_PER_YEAR = 365 * 24 * 60
RTOL = 1e-9
TARGET = 10.0
ROOT = Path(__file__).resolve().parents[1]


# --- data and signals (rebuilt identically, from the seed, in every subprocess) ---------------

@dataclass(frozen=True)
class Bars:
    """Seeded synthetic one-minute OHLC: a random walk with small gaps at the opens, so an
    open differs from the previous close (a fill at the wrong one would show)."""

    time_us: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray


def make_bars(n: int, seed: int) -> Bars:
    rng = np.random.default_rng(seed)
    close = 2000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.0008, n)))
    open_ = np.concatenate(([2000.0], close[:-1])) * np.exp(rng.normal(0.0, 0.0001, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, 0.0003, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, 0.0003, n)))
    time_us = 1_704_067_200_000_000 + np.arange(n, dtype=np.int64) * 60_000_000
    return Bars(time_us, open_, high, low, close)


def window_pairs() -> tuple[np.ndarray, np.ndarray]:
    """The sweep's 1,000 (fast, slow) pairs, fast-major (the column order vectorbt builds)."""
    return (np.repeat(FAST_GRID, SLOW_GRID.size).astype(np.int64),
            np.tile(SLOW_GRID, FAST_GRID.size).astype(np.int64))


def curve_sample(m: int) -> list[int]:
    """The combinations whose full equity curves are compared."""
    return sorted({int(k) for k in np.linspace(0, m - 1, 10)})


# --- measuring ----------------------------------------------------------------------------

def _status_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def reset_peak() -> tuple[int, bool]:
    """Hand the memory freed so far back to the system (glibc keeps freed blocks resident,
    which would hide the next run's allocations), reset the kernel's resident high-water mark
    (Linux >= 4.0) and return the resident memory now in KB, and whether the reset worked (if
    not, the peak includes the setup and the warm-up)."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to hand back
        ctypes.CDLL(None).malloc_trim(0)
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        reset = True
    except OSError:
        reset = False
    return _status_kb("VmRSS"), reset


def timed(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    """Fastest of `repeat` wall-clock timings of `fn()`, and its last result (as
    `benchmarks.timing.best_of`, which drops the result)."""
    best, result = float("inf"), None
    for _ in range(repeat):
        result = None  # let the previous result go before the next run
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


# --- the two sides ------------------------------------------------------------------------

class Side:
    """One library on one case: `first()` (warm-up), `run()` (timed), `results()`."""

    def first(self) -> Any:
        return self.run()

    def run(self) -> Any:
        raise NotImplementedError

    def results(self, out: Any) -> dict[str, np.ndarray]:
        raise NotImplementedError


class AresSide(Side):
    def __init__(self, bars: Bars, case: str) -> None:
        from ares_cli.ml.trading.engine import Market, Orders, Rules
        from ares_cli.ml.trading.sweep import sma_crossover_side

        n = bars.close.size
        self.case = case
        self.market = Market(bars.time_us, bars.open, bars.high, bars.low, bars.close,
                             np.arange(n, dtype=np.int64), bars.time_us)
        self.rules = Rules(fee=FEE, slippage=SLIPPAGE, exit_on_flat=True)
        self.orders = Orders.constant(sma_crossover_side(bars.close, *SINGLE), size=1.0)
        self.close = bars.close
        self.fast, self.slow = window_pairs()
        self.sample = curve_sample(self.fast.size)

    def first(self) -> Any:
        if self.case == "single":
            return self.run()
        from ares_cli.ml.trading.sweep import sweep_sma_crossover

        return sweep_sma_crossover(self.market, self.fast[:2], self.slow[:2], self.rules)

    def run(self) -> Any:
        from ares_cli.ml.trading.engine import Orders, backtest
        from ares_cli.ml.trading.sweep import sma_crossover_side, sweep_sma_crossover

        if self.case == "single":
            return backtest(self.market, self.orders, self.rules,
                            bars_per_year=MINUTES_PER_YEAR)
        if self.case == "sweep":
            return sweep_sma_crossover(self.market, self.fast, self.slow, self.rules,
                                       keep_curves=self.sample)
        final, trades = np.empty(self.fast.size), np.empty(self.fast.size, dtype=np.int64)
        for k, (fast, slow) in enumerate(zip(self.fast, self.slow, strict=True)):
            side = sma_crossover_side(self.close, int(fast), int(slow))
            one = backtest(self.market, Orders.constant(side), self.rules,
                           bars_per_year=MINUTES_PER_YEAR)
            final[k], trades[k] = one.equity[-1], one.n_trades
        return final, trades

    def results(self, out: Any) -> dict[str, np.ndarray]:
        if self.case == "single":
            t = out.trades
            return {"equity": out.equity, "entry_index": t["entry_index"],
                    "exit_index": t["exit_index"], "entry_price": t["entry_price"],
                    "exit_price": t["exit_price"]}
        if self.case == "sweep":
            return {"final_equity": out.final_equity, "n_trades": out.n_trades,
                    "curves": np.stack([out.curves[k] for k in self.sample])}
        return {"final_equity": out[0], "n_trades": out[1]}


class VectorbtSide(Side):
    def __init__(self, bars: Bars, case: str, engine: str) -> None:
        import pandas as pd
        import vectorbt as vbt

        from ares_cli.ml.trading.sweep import sma_crossover_side

        vbt.settings["engine"] = engine
        self.vbt, self.case = vbt, case
        # tz-naive (UTC implied): with a tz-aware index, vectorbt 1.2.0 on pandas 3 turns the
        # index into an object array each time it wraps a result (~100x slower here)
        index = pd.to_datetime(bars.time_us, unit="us")
        self.close = pd.Series(bars.close, index=index, name="close")
        self.open = pd.Series(bars.open, index=index, name="open")
        long = pd.Series(sma_crossover_side(bars.close, *SINGLE) == 1, index=index)
        # decided at bar t's close, filled at bar t + 1's open
        self.entries = long.shift(1, fill_value=False)
        self.exits = (~long).shift(1, fill_value=False)
        self.fast, self.slow = window_pairs()
        self.sample = curve_sample(self.fast.size)

    def portfolio(self, entries: Any, exits: Any) -> Any:
        return self.vbt.Portfolio.from_signals(
            self.close, entries, exits, price=self.open, size=np.inf, fees=FEE,
            slippage=SLIPPAGE, init_cash=1.0, direction="longonly", freq="1min")

    def sweep(self, fast: np.ndarray, slow: np.ndarray) -> Any:
        vbt = self.vbt
        # few unique windows, many repeats: the case the docs enable run_unique for
        fast_ma = vbt.MA.run(self.close, fast, short_name="fast", run_unique=True)
        slow_ma = vbt.MA.run(self.close, slow, short_name="slow", run_unique=True)
        long = fast_ma.ma_above(slow_ma)  # one column per pair
        pf = self.portfolio(long.shift(1, fill_value=False), (~long).shift(1, fill_value=False))
        return pf, pf.final_value(), pf.trades.count()

    def first(self) -> Any:
        if self.case == "single":
            return self.run()
        return self.sweep(self.fast[:2], self.slow[:2])

    def run(self) -> Any:
        if self.case == "single":
            pf = self.portfolio(self.entries, self.exits)
            return pf, pf.value(), pf.returns(), pf.trades.values
        return self.sweep(self.fast, self.slow)

    def _close_at_end(self, pf: Any) -> tuple[np.ndarray, np.ndarray]:
        """Per column: the amount to add to the last value mark to close a position still
        open at the end as ares does (at the last close, with slippage and fee), and that
        position's size (0 when flat)."""
        positions = pf.positions.values
        open_ = positions[positions["status"] == 0]  # PositionStatus.Open
        size = np.zeros(pf.wrapper.shape_2d[1])
        size[open_["col"]] = open_["size"]
        last = float(self.close.iloc[-1])
        return size * last * (1.0 - SLIPPAGE) * (1.0 - FEE) - size * last, size

    def results(self, out: Any) -> dict[str, np.ndarray]:
        pf = out[0]
        adjust, held = self._close_at_end(pf)
        if self.case == "single":
            equity = out[1].to_numpy().copy()
            equity[-1] += adjust[0]
            trades = out[3]
            exit_price = trades["exit_price"].copy()
            if held[0] > 0:  # the open trade's exit: the last close, moved by the slippage
                exit_price[trades["status"] == 0] *= 1.0 - SLIPPAGE
            return {"equity": equity, "entry_index": trades["entry_idx"],
                    "exit_index": trades["exit_idx"], "entry_price": trades["entry_price"],
                    "exit_price": exit_price, "open_at_end": held[:1] > 0}
        curves = pf.value().to_numpy()[:, self.sample].T.copy()
        curves[:, -1] += adjust[self.sample]
        return {"final_equity": out[1].to_numpy() + adjust,
                "n_trades": out[2].to_numpy().astype(np.int64), "curves": curves,
                "open_at_end": held > 0}


def worker(args: argparse.Namespace) -> None:
    """Measure one side on one case; print a JSON line, save the results to `--out`."""
    bars = make_bars(args.bars, args.seed)
    start = time.perf_counter()
    if args.worker == "ares":
        side: Side = AresSide(bars, args.case)
    else:
        side = VectorbtSide(bars, args.case, args.engine)
    setup = time.perf_counter() - start  # imports included
    start = time.perf_counter()
    side.first()
    first = time.perf_counter() - start
    baseline_kb, reset = reset_peak()
    repeat = args.repeat if args.case == "single" else args.sweep_repeat
    seconds, out = timed(repeat, side.run)
    peak_kb = _status_kb("VmHWM") - baseline_kb
    np.savez(args.out, **side.results(out))
    info: dict[str, Any] = {"seconds": seconds, "first": first, "setup": setup,
                            "peak_mb": peak_kb / 1024, "baseline_mb": baseline_kb / 1024,
                            "peak_reset": reset}
    if args.worker == "vectorbt":
        import vectorbt as vbt

        info["version"] = vbt.__version__
        info["engine"] = args.engine
    print(json.dumps(info))


# --- the comparison -------------------------------------------------------------------------

def measure(side: str, case: str, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """Run one worker subprocess; its JSON line, and its results under "arrays"."""
    out = folder / f"{side}-{case}.npz"
    cmd = [sys.executable, "-m", "benchmarks.bench_backtest", "--worker", side, "--case", case,
           "--out", str(out), "--bars", str(args.bars), "--seed", str(args.seed),
           "--repeat", str(args.repeat), "--sweep-repeat", str(args.sweep_repeat),
           "--engine", args.engine]
    env = dict(os.environ)
    if args.cold_cache:  # an empty numba cache: the first call compiles everything
        env["NUMBA_CACHE_DIR"] = str(folder / f"numba-cache-{side}-{case}")
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"the {side} {case} worker failed (exit {done.returncode})")
    info = json.loads(done.stdout.strip().splitlines()[-1])
    with np.load(out) as arrays:
        info["arrays"] = {k: arrays[k] for k in arrays.files}
    return info


def max_rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.abs(b))) if a.size else 0.0


def compare(ours: dict[str, np.ndarray], theirs: dict[str, np.ndarray]) -> tuple[bool, str]:
    """Equal within RTOL (floats) or exactly (integers), key by key; and a one-line account."""
    ok, notes = True, []
    for key, a in ours.items():
        b = theirs[key]
        if a.shape != b.shape:
            ok = False
            notes.append(f"{key}: shape {a.shape} vs {b.shape}")
        elif np.issubdtype(a.dtype, np.floating):
            same = bool(np.allclose(a, b, rtol=RTOL, atol=0.0))
            ok &= same
            notes.append(f"{key} max rel diff {max_rel(a, b):.1e}")
        else:
            same = bool(np.array_equal(a, b))
            ok &= same
            notes.append(f"{key} {'equal' if same else 'DIFFER'}")
    return ok, ", ".join(notes)


def orchestrate(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("vectorbt") is None:
        print("vectorbt is not installed here: run from .venv-bench (`make bench` builds it)",
              file=sys.stderr)
        return 2
    m = int(FAST_GRID.size * SLOW_GRID.size)
    print(f"backtest vs vectorbt: {args.bars:,} one-minute bars (seed {args.seed}), "
          f"SMA({SINGLE[0]})/SMA({SINGLE[1]}) long/flat for one backtest, {m:,} window pairs "
          f"for the sweep; fee {FEE:g}, slippage {SLIPPAGE:g}; {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}")
    rows, firsts, checks, equal_all = [], [], [], True
    with tempfile.TemporaryDirectory(prefix="ares-bench-") as tmp:
        folder = Path(tmp)
        single = {s: measure(s, "single", args, folder) for s in ("ares", "vectorbt")}
        sweep = {s: measure(s, "sweep", args, folder) for s in ("ares", "vectorbt")}
        naive = measure("ares", "naive", args, folder) if not args.skip_naive else None

    version = sweep["vectorbt"]["version"]
    cases = [("single backtest", single["ares"], single["vectorbt"], True),
             (f"sweep, {m:,} pairs", sweep["ares"], sweep["vectorbt"], True)]
    if naive is not None:
        cases.append(("sweep via backtest() each", naive, sweep["vectorbt"], False))
    for label, ours, theirs, targeted in cases:
        ok, note = compare(ours["arrays"], {k: theirs["arrays"][k] for k in ours["arrays"]})
        equal_all &= ok
        ratio = theirs["seconds"] / ours["seconds"]
        rows.append((label, ours, theirs, ratio, ok, targeted))
        checks.append(f"  {label}: {note}")
    for label, info in (("ares single", single["ares"]), ("vectorbt single", single["vectorbt"]),
                        ("ares sweep", sweep["ares"]), ("vectorbt sweep", sweep["vectorbt"])):
        firsts.append(f"{label} {info['first']:.2f}s (imports and setup {info['setup']:.2f}s)")
    trades = single["ares"]["arrays"]["entry_index"].size
    held = int(sweep["vectorbt"]["arrays"]["open_at_end"].sum())
    held_single = bool(single["vectorbt"]["arrays"]["open_at_end"][0])

    header = (f"{'case':<27} {'ares s':>9} {'vectorbt s':>11} {'speed ratio':>12} "
              f"{'ares peak MB':>13} {'vbt peak MB':>12} {'equal':>6}")
    print(header)
    print("-" * len(header))
    for label, ours, theirs, ratio, ok, _ in rows:
        print(f"{label:<27} {ours['seconds']:>9.4f} {theirs['seconds']:>11.4f} "
              f"{ratio:>11.1f}x {ours['peak_mb']:>13.1f} {theirs['peak_mb']:>12.1f} "
              f"{'yes' if ok else 'NO':>6}")
    cache = "an empty numba cache: full JIT compile" if args.cold_cache else (
        "numba's disk cache as left by earlier runs: compile or cache load")
    print(f"first call, excluded above ({cache}):\n  " + "\n  ".join(firsts))
    print(f"single backtest: {trades} trades, open at the end: {'yes' if held_single else 'no'};"
          f" sweep: {held} of {m:,} pairs hold a position at the end (closed at the last close "
          "for vectorbt as ares does)")
    print(f"checks (rtol {RTOL:g}):")
    print("\n".join(checks))
    for label, _, _, ratio, _, targeted in rows:
        if targeted:
            verdict = "met" if ratio >= TARGET else f"NOT met ({TARGET / ratio:.1f}x short)"
            print(f"target >= {TARGET:g}x faster than vectorbt, {label}: {ratio:.1f}x, {verdict}")
    if not all(r[1]["peak_reset"] and r[2]["peak_reset"] for r in rows):
        print("note: the peak memory could not be reset after the warm-up here, so it includes "
              "the warm-up")
    print(f"vectorbt {version} (engine {sweep['vectorbt']['engine']}), numpy {np.__version__}; "
          f"best of {args.repeat} (single) / {args.sweep_repeat} (sweeps); peak = resident "
          "high-water mark above the memory after the warm-up, each side in its own process")
    if args.summary:  # for the benchmark table (benchmarks/bench_table.py)
        Path(args.summary).write_text(json.dumps([
            {"case": label, "ares_s": ours["seconds"], "vectorbt_s": theirs["seconds"],
             "ratio": ratio, "ares_peak_mb": ours["peak_mb"], "vbt_peak_mb": theirs["peak_mb"],
             "equal": ok} for label, ours, theirs, ratio, ok, _ in rows]))
    if not equal_all:
        print("RESULTS DIFFER", file=sys.stderr)
        return 1
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bars", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=50, help="timings of one backtest")
    parser.add_argument("--sweep-repeat", type=int, default=1, help="timings of each sweep")
    parser.add_argument("--engine", default="auto", choices=("auto", "numba", "rust"),
                        help="vectorbt's engine ('auto': Rust when vectorbt-rust is installed)")
    parser.add_argument("--skip-naive", action="store_true",
                        help="skip the sweep via one backtest() call per pair")
    parser.add_argument("--cold-cache", action="store_true",
                        help="give each worker an empty numba cache, so the first call "
                        "includes the whole JIT compile")
    parser.add_argument("--worker", choices=("ares", "vectorbt"), help=argparse.SUPPRESS)
    parser.add_argument("--case", choices=("single", "sweep", "naive"), help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--summary", help="also write the rows as JSON to this file")
    args = parser.parse_args()
    if args.worker:
        worker(args)
    else:
        raise SystemExit(orchestrate(args))


if __name__ == "__main__":
    main()
