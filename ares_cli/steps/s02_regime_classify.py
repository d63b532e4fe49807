"""Step 2 `regime-classify`: OHLCV bars (base and fine) and a causal regime label per base bar."""

from __future__ import annotations

from ares_cli.artifacts import Artifact
from ares_cli.steps.base import Step, StepContext, StepResult


def run(ctx: StepContext) -> StepResult:
    from ares_cli.config import timeframe_ms
    from ares_cli.data.bars import market_bars
    from ares_cli.errors import DataError
    from ares_cli.ml.regime_labels import classify_bars

    trades = ctx.load("trades") if "trades" in ctx.available else None
    candles = ctx.load("candles") if "candles" in ctx.available else None
    base_ms, fine_ms = timeframe_ms(ctx.config.bars.base), timeframe_ms(ctx.config.bars.fine)
    ctx.progress(0.1, f"building {ctx.config.bars.base} and {ctx.config.bars.fine} bars")
    try:
        base, fine, notes = market_bars(trades, candles, base_ms, fine_ms)
    except ValueError as exc:
        raise DataError(f"cannot build bars: {exc}") from None
    ctx.progress(0.6, "classifying regimes")
    truth = ctx.load("true_regimes") if "true_regimes" in ctx.available else None
    regimes, model, metrics = classify_bars(
        base, ctx.config.regimes, ctx.config.split.train, truth
    )
    metrics.update(
        base_bars=base.height, fine_bars=fine.height,
        empty_base_bars=int(base["filled"].sum()), empty_fine_bars=int(fine["filled"].sum()),
        **notes,
    )
    outputs = {
        "bars": Artifact.table(base),
        "bars_fine": Artifact.table(fine),
        "regimes": Artifact.table(regimes),
        "regime_model": Artifact.json(model),
    }
    return StepResult(outputs, metrics)


STEP = Step(
    number=2,
    name="regime-classify",
    summary="trades -> OHLCV bars (base and fine); causal regime label per bar",
    inputs=(),
    optional_inputs=("trades", "candles", "true_regimes"),
    outputs=("bars", "bars_fine", "regimes", "regime_model"),
    config_keys=("bars", "regimes", "split.train"),
    version=1,
    run=run,
)
