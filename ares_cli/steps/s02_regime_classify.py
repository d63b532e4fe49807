"""Step 2 `regime-classify`: OHLCV bars (base and fine) and a causal regime label per base bar."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ares_cli.artifacts import Artifact
from ares_cli.steps.base import Step, StepEnv, StepResult

if TYPE_CHECKING:
    from ares_cli.config_view import ConfigView


# base timeframes a "too little data" message may suggest (longest first), and fine ones
SUGGESTED_BASES = ("4h", "2h", "1h", "30m", "15m", "10m", "5m", "3m", "2m", "1m", "30s",
                   "10s", "2s")
FINE_CHOICES = ("1m", "30s", "10s", "5s", "2s", "1s")


def _enough_bars(inputs: Mapping[str, Any], n_bars: int, cfg: ConfigView) -> None:
    """Fail before any later step when the data make too few base bars for the regime fit,
    with the data's real span (first to last trade or candle), the bars it makes, the bars
    needed, and a bars.base (with a bars.fine that fits it) that passes this gate, or the
    plain statement that none can."""
    from ares_cli.data.bars import infer_step_ms
    from ares_cli.errors import InsufficientData
    from ares_cli.ml.features.regimes import bars_needed
    from ares_cli.util.timeutil import timeframe_ms

    bars_cfg = cfg.bars
    need = bars_needed(cfg.regimes, cfg.split.train)
    if n_bars >= need:
        return
    trades = inputs.get("trades")
    raw = trades if trades is not None else inputs["candles"]
    first, last = raw["timestamp"].min(), raw["timestamp"].max()
    span_ms = int((last - first).total_seconds() * 1000)
    # candles cannot make bars shorter than themselves; trades go down to seconds
    step = 1000 if trades is not None else infer_step_ms(raw)

    def fine_for(base_ms: int) -> str | None:
        if bars_cfg.fine_ms < base_ms and base_ms % bars_cfg.fine_ms == 0:
            return bars_cfg.fine
        return next((f for f in FINE_CHOICES if timeframe_ms(f) < base_ms
                     and base_ms % timeframe_ms(f) == 0), None)

    works = [b for b in SUGGESTED_BASES
             if (ms := timeframe_ms(b)) < bars_cfg.base_ms and ms >= step and ms % step == 0
             and span_ms // ms + 1 >= need and fine_for(ms) is not None]
    head = (f"the data span {_span(span_ms)} ({first.isoformat()} to {last.isoformat()}), "
            f"which makes {n_bars} bars of {bars_cfg.base}; regime-classify needs at least "
            f"{need} (a warm-up plus regimes.min_fit_bars = {cfg.regimes.min_fit_bars} in the "
            f"first split.train = {cfg.split.train:.0%})")
    if works:
        base = works[0]
        fine = fine_for(timeframe_ms(base))
        hint = f"--set bars.base={base}" + (f" --set bars.fine={fine}"
                                            if fine != bars_cfg.fine else "")
        raise InsufficientData(f"{head}: a shorter base bar makes enough, e.g. {hint} (a "
                               "later step may still need more data), or collect more")
    raise InsufficientData(f"{head}: no bar size can make that many from this span; collect "
                           f"at least {_span(need * bars_cfg.base_ms)} of data at "
                           f"bars.base = {bars_cfg.base}")


def _span(ms: int) -> str:
    seconds = ms / 1000
    return (f"{seconds:.0f} s" if seconds < 3600 else f"{seconds / 3600:.1f} h"
            if seconds < 3 * 86400 else f"{seconds / 86400:.1f} days")


def run(inputs: Mapping[str, Any], cfg: ConfigView, env: StepEnv) -> StepResult:
    from ares_cli.data.bars import CandleResolutionError, market_bars
    from ares_cli.errors import ConfigError, DataError
    from ares_cli.ml.features.regimes import classify_bars
    from ares_cli.util.timeutil import timeframe_name

    bars_cfg = cfg.bars
    env.progress(0.1, f"building {bars_cfg.base} and {bars_cfg.fine} bars")
    try:
        base, fine, notes = market_bars(inputs.get("trades"), inputs.get("candles"),
                                        bars_cfg.base_ms, bars_cfg.fine_ms)
    except CandleResolutionError as exc:  # a setting the data cannot serve: exit 2
        raise ConfigError(f"cannot build bars: {exc}") from None
    except ValueError as exc:
        raise DataError(f"cannot build bars: {exc}") from None
    import polars as pl

    from ares_cli.data.gaps import GAP_COLUMN, bar_gaps

    gap, gap_facts = bar_gaps(base, inputs.get("trades"), base_ms=bars_cfg.base_ms,
                              max_gap=cfg.data.max_gap)
    base = base.with_columns(pl.Series(GAP_COLUMN, gap))
    _enough_bars(inputs, base.height, cfg)
    env.progress(0.6, "classifying regimes")
    regimes, model, metrics = classify_bars(base, cfg.regimes, cfg.split.train,
                                            timeframe=bars_cfg.base)
    metrics["data"].update(
        base_bars=base.height, fine_bars=fine.height,
        empty_base_bars=int(base["filled"].sum()), empty_fine_bars=int(fine["filled"].sum()),
        **notes, **gap_facts,
    )
    outputs = {
        "bars": Artifact.table(base),
        "bars_fine": Artifact.table(fine),
        "regimes": Artifact.table(regimes),
        "regime_model": Artifact.json(model),
    }
    fine_ms = int(notes.get("fine_ms", bars_cfg.fine_ms))
    metrics["data"]["fine"] = timeframe_name(fine_ms)
    metrics["data"]["fine_from"] = (
        f"the {timeframe_name(fine_ms)} candles (coarser than bars.fine = {bars_cfg.fine}: the "
        "finest path the data has" + ("; it is the base bar itself, so stops and targets "
                                      "inside a bar resolve conservatively: stop first"
                                      if fine_ms >= bars_cfg.base_ms else "") + ")"
        if notes.get("fine_is_candles") else f"bars.fine = {bars_cfg.fine}")
    summary = (f"{base.height} {bars_cfg.base} bars; fine path: {metrics['data']['fine_from']}"
               if notes.get("fine_is_candles") else "")
    warnings = []
    if gap_facts["gaps"] and gap_facts["gap_share"] > cfg.data.max_gap_share:
        longest = gap_facts["longest_gap"]
        warnings.append(
            f"{gap_facts['gaps']} gaps in the data (outages: {gap_facts['gap_bars']} of "
            f"{base.height} {bars_cfg.base} bars, {gap_facts['gap_share']:.1%}), the longest "
            f"{longest['bars']} bars from {longest['start']}: no label or trade spans one "
            f"(data.max_gap = {cfg.data.max_gap} bars, data.max_gap_share = "
            f"{cfg.data.max_gap_share:g})")
    return StepResult(outputs, metrics, warnings=warnings, summary=summary)


STEP = Step(
    number=2,
    name="regime-classify",
    summary="trades -> OHLCV bars (base and fine); causal regime label per bar",
    inputs=(),
    optional_inputs=("trades", "candles"),
    outputs=("bars", "bars_fine", "regimes", "regime_model"),
    config=("bars", "regimes", "split.train", "data.max_gap", "data.max_gap_share"),
    run=run,
)
