"""Step 1's library side: get trades (or candles) for one pair from the configured source."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from ares_cli.config import Config, parse_utc
from ares_cli.errors import ConfigError
from ares_cli.steps.base import RunOptions

Progress = Callable[[float, str], None]


@dataclass
class Collected:
    """What a source produced: trades or candles, true regimes if known, and metrics."""

    trades: pl.DataFrame | None = None
    candles: pl.DataFrame | None = None
    true_regimes: pl.DataFrame | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def synthetic_window(config: Config) -> tuple[datetime, int]:
    """Start time and length in days of the synthetic market."""
    data = config.data
    start = parse_utc(data.start) if data.start else datetime(2024, 1, 1, tzinfo=UTC)
    days = data.days
    if data.end:
        days = max(1, (parse_utc(data.end) - start) // timedelta(days=1))
    return start, days


def collect_synthetic(config: Config, progress: Progress) -> Collected:
    from ares_cli.data.synthetic import generate

    start, days = synthetic_window(config)
    progress(0.05, f"generating {days} days of synthetic trades")
    market = generate(
        seed=config.data.seed, days=days, trades_per_day=config.data.trades_per_day,
        regimes=config.data.regimes, start=start, start_price=config.data.start_price,
    )
    metrics: dict[str, Any] = {"source": "synthetic", "days": days}
    if market.true_regimes is not None:
        shares = market.true_regimes["regime"].value_counts(normalize=True)
        metrics["true_regime_share"] = {
            r: round(float(s), 4) for r, s in shares.sort("regime").iter_rows()
        }
    return Collected(trades=market.trades, true_regimes=market.true_regimes, metrics=metrics)


def download_window(config: Config, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of a ccxt download: data.start/data.end, else the last data.days to now."""
    end = parse_utc(config.data.end) if config.data.end else now
    start = parse_utc(config.data.start) if config.data.start else end - timedelta(
        days=config.data.days
    )
    if start >= end:
        raise ConfigError(f"data.start ({start.isoformat()}) must be before data.end "
                          f"({end.isoformat()})")
    return start, end


def collect_ccxt(config: Config, options: RunOptions, progress: Progress) -> Collected:
    """Download (incrementally) from an exchange through ccxt into the store's download cache."""
    import os

    from ares_cli.data.ccxt_source import CcxtOptions, download_trades

    start, end = download_window(config, datetime.now(UTC))
    ccxt = config.ccxt
    result = download_trades(
        options.exchange, options.symbol, start=start, end=end,
        cache_dir=options.store_root / "downloads",
        options=CcxtOptions(
            max_retries=ccxt.max_retries, backoff_seconds=ccxt.backoff_seconds,
            timeout_ms=ccxt.timeout_ms, page_limit=ccxt.page_limit, api_url=ccxt.api_url,
            api_key=os.environ.get("ARES_API_KEY", ""),
            secret=os.environ.get("ARES_API_SECRET", ""),
        ),
        progress=progress,
    )
    metrics = {"source": "ccxt", "start": start.isoformat(), "end": end.isoformat(),
               **result.metrics}
    warnings = []
    if result.metrics.get("id_gaps"):
        warnings.append(
            f"{result.metrics['id_gaps']} gaps in {options.exchange} trade ids "
            f"({result.metrics.get('id_gap_trades', 0)} ids missing) for {options.symbol}"
        )
    return Collected(trades=result.frame, metrics=metrics, warnings=warnings)


def file_options(config: Config) -> Any:
    from ares_cli.data.files import FileOptions

    files = config.files
    return FileOptions(format=files.format, kind=files.kind, columns=files.columns,
                       timestamp_unit=files.timestamp_unit,
                       verify_checksum=files.verify_checksum)


def collect_files(config: Config, progress: Progress) -> Collected:
    """Trades or candles from local files (Binance archives, freqtrade, generic tables)."""
    from ares_cli.data.files import load_files

    if not config.data.paths:
        raise ConfigError("data.source is 'files' but no input is given",
                          hint="add --path FILE_OR_FOLDER_OR_GLOB (repeatable)")
    progress(0.05, f"reading {len(config.data.paths)} path(s)")
    loaded = load_files(config.data.paths, file_options(config))
    metrics: dict[str, Any] = {
        "source": "files", "kind": loaded.kind, "files": loaded.files,
        "overlap_duplicates_dropped": loaded.duplicates_dropped,
    }
    if loaded.kind == "candles":
        metrics["candle_ms"] = loaded.timeframe_ms
        metrics["note"] = ("candle-only input: trade-level detail comes from what candles carry "
                           "(taker-buy volume, trade count) where the files have it")
        return Collected(candles=loaded.frame, metrics=metrics)
    return Collected(trades=loaded.frame, metrics=metrics)


def input_file_digests(config: Config) -> dict[str, str]:
    """sha256 of every input file, so a changed file is a new action (no stale cache hit)."""
    from ares_cli.data.files import expand_paths
    from ares_cli.store import sha256_file

    return {str(path): sha256_file(path) for path in expand_paths(config.data.paths)}


def validate(collected: Collected, policy: str, source: str) -> None:
    """Apply the shared validation to whatever a source produced; record what was dropped."""
    from ares_cli.data.validate import validate_candles, validate_trades

    # A synthetic market's clock is made up, so only observed data is checked against now.
    now = datetime.max.replace(tzinfo=UTC) if source == "synthetic" else datetime.now(UTC)
    for name, check in (("trades", validate_trades), ("candles", validate_candles)):
        frame = getattr(collected, name)
        if frame is None:
            continue
        cleaned, counts = check(frame, policy=policy, now=now, source=source)
        setattr(collected, name, cleaned)
        collected.metrics["validation"] = counts
        dropped = {k: v for k, v in counts.items() if k.startswith("dropped_") and v}
        if dropped:
            reasons = ", ".join(f"{v} {k.removeprefix('dropped_')}" for k, v in dropped.items())
            collected.warnings.append(f"{source}: dropped {sum(dropped.values())} {name} rows "
                                      f"({reasons})")


def collect(config: Config, options: RunOptions, progress: Progress) -> Collected:
    """Dispatch to the configured source, then validate its output the same way for all."""
    source = config.data.source
    if source == "synthetic":
        collected = collect_synthetic(config, progress)
    elif source == "ccxt":
        collected = collect_ccxt(config, options, progress)
    else:
        collected = collect_files(config, progress)
    progress(0.9, "validating")
    validate(collected, config.data.invalid_policy, source)
    return collected
