"""How many base bars the pipeline needs before anything is fitted, and the "too little data"
message that says so as soon as the data's span and resolution are known (step 2, before any
later step runs): the data's real span, the bars it makes, what is needed and why, and a
setting that passes the gate when followed, or the plain statement that none can."""

from __future__ import annotations

import polars as pl

from ares_cli.data.bars import BarsConfig, infer_step_ms
from ares_cli.errors import InsufficientData
from ares_cli.ml.features.regimes import RegimesConfig, bars_needed, span_words
from ares_cli.ml.features.splits import SplitConfig, plan_windows
from ares_cli.util.timeutil import timeframe_ms, timeframe_name

__all__ = ["bars_to_split", "base_bars_needed", "enough_bars", "enough_span"]

# base timeframes a "too little data" message may suggest (longest first), and fine ones
SUGGESTED_BASES = ("4h", "2h", "1h", "30m", "15m", "10m", "5m", "3m", "2m", "1m", "30s",
                   "10s", "2s")
FINE_CHOICES = ("1m", "30s", "10s", "5s", "2s", "1s")


def bars_to_split(config: SplitConfig) -> int:
    """The fewest bars from which step 3 can split every longer series too: each window must
    hold more bars than the purge + embargo gap (window edges are floored, so the search asks
    that no longer series within a margin fails)."""
    gap = config.purge_bars + config.embargo_bars

    def splits(n: int) -> bool:
        try:
            plan_windows(n, config.train, config.validation, config.purge_bars,
                         config.embargo_bars, min_window=gap + 1)
        except ValueError:
            return False
        return True

    low = 3 * (gap + 1) + 2 * gap  # three windows and two gaps
    margin = 4 * (gap + 1) + 16
    n = low
    while not all(splits(m) for m in range(n, n + margin)):
        n += 1
    return n


def base_bars_needed(regimes: RegimesConfig, split: SplitConfig) -> tuple[int, str]:
    """(base bars needed, why): the regime fit's warm-up plus `min_fit_bars` in the train
    window, or step 3's three windows wider than their gaps, whichever needs more."""
    fit = bars_needed(regimes, split.train)
    cut = bars_to_split(split)
    if fit >= cut:
        return fit, (f"a warm-up plus regimes.min_fit_bars = {regimes.min_fit_bars} in the "
                     f"first split.train = {split.train:.0%}")
    gap = split.purge_bars + split.embargo_bars
    return cut, ("train, validation and test windows each longer than their gaps of "
                 f"split.purge_bars + split.embargo_bars = {gap} bars")


def _head(raw: pl.DataFrame, n_bars: int, base: str, need: int, why: str,
          aside: str = "") -> tuple[str, int]:
    first, last = raw["timestamp"].min(), raw["timestamp"].max()
    span_ms = int((last - first).total_seconds() * 1000)
    return (f"the data span {span_words(span_ms)} ({first.isoformat()} to {last.isoformat()}), "
            f"which makes {n_bars} bar{'' if n_bars == 1 else 's'} of {base}{aside}; the "
            f"pipeline needs at least {need} ({why})", span_ms)


def enough_bars(n_bars: int, raw: pl.DataFrame, *, trades: bool, regimes: RegimesConfig,
                split: SplitConfig, bars: BarsConfig) -> None:
    """Fail before any later step when the data make too few base bars, with a bars.base (and
    a bars.fine that fits it) that passes this gate, or the plain statement that none can."""
    need, why = base_bars_needed(regimes, split)
    if n_bars >= need:
        return
    head, span_ms = _head(raw, n_bars, bars.base, need, why)
    # candles cannot make bars shorter than themselves; trades go down to seconds
    step = 1000 if trades else infer_step_ms(raw)

    def fine_for(base_ms: int) -> str | None:
        if bars.fine_ms < base_ms and base_ms % bars.fine_ms == 0:
            return bars.fine
        return next((f for f in FINE_CHOICES if timeframe_ms(f) < base_ms
                     and base_ms % timeframe_ms(f) == 0), None)

    works = [b for b in SUGGESTED_BASES
             if (ms := timeframe_ms(b)) < bars.base_ms and ms >= step and ms % step == 0
             and span_ms // ms + 1 >= need and fine_for(ms) is not None]
    if works:
        base = works[0]
        fine = fine_for(timeframe_ms(base))
        hint = f"--set bars.base={base}" + (f" --set bars.fine={fine}"
                                            if fine != bars.fine else "")
        raise InsufficientData(f"{head}: a shorter base bar makes enough, e.g. {hint} (a "
                               "later step may still need more data), or collect more")
    raise InsufficientData(f"{head}: no bar size can make that many from this span; collect "
                           f"at least {span_words(need * bars.base_ms)} of data at "
                           f"bars.base = {bars.base}")


def enough_span(raw: pl.DataFrame, *, candle_ms: int, base_ms: int, regimes: RegimesConfig,
                split: SplitConfig) -> None:
    """Candles that cannot build `bars.base` are a setting to change (exit 2) only when the
    base bar they allow, `base_ms`, would make enough bars; otherwise no setting can, and the
    run stops here with exit 3 saying so."""
    need, why = base_bars_needed(regimes, split)
    first, last = raw["timestamp"].min(), raw["timestamp"].max()
    n_bars = int((last - first).total_seconds() * 1000) // base_ms + 1
    if n_bars >= need:
        return
    candle, base = timeframe_name(candle_ms), timeframe_name(base_ms)
    head, _ = _head(raw, n_bars, base, need, why,
                    aside=f" (the shortest base bar {candle} candles can build)")
    raise InsufficientData(f"{head}: no bar size can make that many from this span; collect "
                           f"at least {span_words(need * base_ms)} of these candles")
