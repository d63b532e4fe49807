"""Step 1 `collect`: trades (or candles) for one pair, cleaned, deduplicated and sorted; trades
are written to the store a UTC day at a time as they come (a year never sits in memory)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ares_cli.artifacts import Artifact
from ares_cli.errors import DataError
from ares_cli.steps.base import Step, StepEnv, StepResult

if TYPE_CHECKING:
    from ares_cli.config import Config
    from ares_cli.config_view import ConfigView


def _keys(config: Config) -> tuple[str, ...]:
    """Only what the configured source reads, so another source's settings never re-run it."""
    from ares_cli.data.sources import SOURCE_KEYS

    return ("data.source", "data.invalid_policy", "data.max_gap_share", "data.max_drop_share",
            *SOURCE_KEYS[config.data.source])


def _key_extra(cfg: ConfigView, env: StepEnv) -> dict[str, Any]:
    """The pair, and the contents of input files (a changed file is a new action)."""
    extra: dict[str, Any] = {"exchange": env.exchange, "symbol": env.symbol}
    if cfg.data.source == "files":
        from ares_cli.data.sources import input_file_digests

        extra["files"] = input_file_digests(cfg.data.paths)
    return extra


def run(inputs: Mapping[str, Any], cfg: ConfigView, env: StepEnv) -> StepResult:
    from ares_cli.data.chunks import trade_span
    from ares_cli.data.sources import collect

    source = cfg.data.source
    credentials = None
    if source == "ccxt":
        from ares_cli.data.ccxt.client import Credentials

        credentials = Credentials(os.environ.get("ARES_API_KEY", ""),
                                  os.environ.get("ARES_API_SECRET", ""))
    downloads = env.work_dir / "downloads" if env.work_dir is not None else None
    collected = collect(
        cfg.data,
        files=cfg.files if source == "files" else None,
        ccxt=cfg.ccxt if source == "ccxt" else None,
        credentials=credentials, exchange=env.exchange, symbol=env.symbol,
        downloads=downloads, progress=env.progress, objects=env.objects,
    )
    outputs = {}
    metrics = dict(collected.metrics)
    for name in ("trades", "candles", "true_regimes"):
        value = getattr(collected, name)
        if value is not None:
            outputs[name] = (Artifact.chunks(value) if name == "trades"
                             else Artifact.table(value))
            metrics[f"{name}_rows"] = value.height
    market = collected.trades if collected.trades is not None else collected.candles
    if market is None or market.height == 0:
        raise DataError(f"source '{source}' produced no trades or candles")
    first, last = trade_span(market)["timestamp"]
    metrics["first"] = first.isoformat()
    metrics["last"] = last.isoformat()
    if collected.trades is not None:
        metrics["trade_days"] = len(collected.trades.chunks)
    warnings = list(collected.warnings)
    if collected.trades is not None:
        from ares_cli.data.gaps import missing_trade_ids

        holes = metrics["missing_trade_ids"] = missing_trade_ids(collected.trades)
        if holes["holes"] and holes["share"] > cfg.data.max_gap_share:
            warnings.append(
                f"{holes['ids']} trade ids are missing ({holes['share']:.1%} of the span's "
                f"ids) in {holes['holes']} holes, the longest {holes['longest_hole_ids']} ids "
                f"over {holes['longest_hole_seconds'] / 60:.1f} minutes after "
                f"{holes['longest_hole_after']}: the trades are incomplete (data.max_gap_share "
                f"= {cfg.data.max_gap_share:g})")
    else:
        metrics["missing_trade_ids"] = None  # candles carry no trade ids
    return StepResult(outputs, {"data": metrics}, warnings)


STEP = Step(
    number=1,
    name="collect",
    summary="get trades from the source, clean, dedupe, sort",
    inputs=(),
    outputs=(),
    optional_outputs=("trades", "candles", "true_regimes"),
    config=_keys,
    run=run,
    key_extra=_key_extra,
    volatile=lambda cfg: cfg.data.source == "ccxt",
)
