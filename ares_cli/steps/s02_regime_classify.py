"""Step 2 `regime-classify`: OHLCV bars (base and fine) and a causal regime label per base bar."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ares_cli.artifacts import Artifact
from ares_cli.steps.base import Step, StepEnv, StepResult

if TYPE_CHECKING:
    from ares_cli.config_view import ConfigView


def run(inputs: Mapping[str, Any], cfg: ConfigView, env: StepEnv) -> StepResult:
    import polars as pl

    from ares_cli.data.bars import CandleResolutionError, market_bars
    from ares_cli.data.chunks import trade_span
    from ares_cli.data.gaps import GAP_COLUMN, bar_gaps
    from ares_cli.errors import ConfigError, DataError
    from ares_cli.ml.features.data_needs import enough_bars, enough_span
    from ares_cli.ml.features.regimes import classify_bars
    from ares_cli.util.timeutil import timeframe_name

    bars_cfg = cfg.bars
    env.progress(0.1, f"building {bars_cfg.base} and {bars_cfg.fine} bars")
    trades = inputs.get("trades")  # day chunks (a store from before chunks: one table)
    try:
        base, fine, notes, trade_ids = market_bars(trades, inputs.get("candles"),
                                                   bars_cfg.base_ms, bars_cfg.fine_ms)
    except CandleResolutionError as exc:  # a setting the data cannot serve: exit 2 ...
        # ... unless no setting can: then too little data, exit 3
        enough_span(inputs["candles"], candle_ms=exc.candle_ms, base_ms=exc.suggested_ms,
                    regimes=cfg.regimes, split=cfg.split)
        raise ConfigError(f"cannot build bars: {exc}") from None
    except ValueError as exc:
        raise DataError(f"cannot build bars: {exc}") from None
    gap, gap_facts = bar_gaps(base, trade_ids, base_ms=bars_cfg.base_ms,
                              max_gap=cfg.data.max_gap)
    base = base.with_columns(pl.Series(GAP_COLUMN, gap))
    raw = trade_span(trades) if trades is not None else inputs["candles"]
    enough_bars(base.height, raw, trades=trades is not None,
                regimes=cfg.regimes, split=cfg.split, bars=bars_cfg)
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
    fine_from = f"bars.fine = {bars_cfg.fine}"
    summary = ""
    if notes.get("fine_is_candles"):
        itself = ("; it is the base bar itself, so stops and targets inside a bar resolve "
                  "conservatively: stop first" if fine_ms >= bars_cfg.base_ms else "")
        fine_from = (f"the {timeframe_name(fine_ms)} candles (coarser than bars.fine = "
                     f"{bars_cfg.fine}: the finest path the data has{itself})")
        summary = f"{base.height} {bars_cfg.base} bars; fine path: {fine_from}"
    metrics["data"]["fine_from"] = fine_from
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
    config=("bars", "regimes", "split.train", "split.validation", "split.purge_bars",
            "split.embargo_bars", "data.max_gap", "data.max_gap_share"),
    run=run,
)
