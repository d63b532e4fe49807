"""Step 1 `collect`: trades (or candles) for one pair, cleaned, deduplicated and sorted."""

from __future__ import annotations

from typing import Any

from ares_cli.artifacts import Artifact
from ares_cli.config import Config
from ares_cli.steps.base import RunOptions, Step, StepContext, StepResult

SOURCE_KEYS = {
    "synthetic": ("data.seed", "data.days", "data.trades_per_day", "data.regimes", "data.start",
                  "data.end", "data.start_price"),
    "files": ("data.paths", "files"),
    "ccxt": ("data.days", "data.start", "data.end", "ccxt"),
}


def _key_extra(config: Config, options: RunOptions) -> dict[str, Any]:
    """Only what the configured source reads (plus the contents of input files)."""
    extra: dict[str, Any] = {"exchange": options.exchange, "symbol": options.symbol,
                             "source": config.slice(SOURCE_KEYS[config.data.source])}
    if config.data.source == "files":
        from ares_cli.data.sources import input_file_digests

        extra["files"] = input_file_digests(config)
    return extra


def run(ctx: StepContext) -> StepResult:
    from ares_cli.data.sources import collect
    from ares_cli.errors import DataError

    collected = collect(ctx.config, ctx.options, ctx.progress)
    outputs = {}
    metrics = dict(collected.metrics)
    for name in ("trades", "candles", "true_regimes"):
        frame = getattr(collected, name)
        if frame is not None:
            outputs[name] = Artifact.table(frame)
            metrics[f"{name}_rows"] = frame.height
    market = collected.trades if collected.trades is not None else collected.candles
    if market is None or market.height == 0:
        raise DataError(f"source '{ctx.config.data.source}' produced no trades or candles")
    if market.height:
        metrics["first"] = market["timestamp"].min().isoformat()
        metrics["last"] = market["timestamp"].max().isoformat()
    return StepResult(outputs, metrics, collected.warnings)


STEP = Step(
    number=1,
    name="collect",
    summary="get trades from the source, clean, dedupe, sort",
    inputs=(),
    outputs=(),
    optional_outputs=("trades", "candles", "true_regimes"),
    config_keys=("data.source", "data.invalid_policy"),
    version=1,
    run=run,
    key_extra=_key_extra,
    volatile=lambda config: config.data.source == "ccxt",
)
