"""Step 1's library side: get trades (or candles) for one pair from the configured source."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import polars as pl
from pydantic import field_validator

from ares_cli.errors import ConfigError, DataError
from ares_cli.util.section import Field, Section, list_field
from ares_cli.util.timeutil import parse_utc

if TYPE_CHECKING:
    from ares_cli.data.ccxt.client import Credentials
    from ares_cli.data.ccxt.config import CcxtConfig
    from ares_cli.data.chunks import Objects, TradeChunks
    from ares_cli.data.files.config import FilesConfig


class DataConfig(Section):
    """`[data]`: where trades come from and how the synthetic market is shaped."""

    source: Literal["synthetic", "files", "ccxt"] = "synthetic"
    seed: int = 7
    days: int = Field(365, gt=0)
    trades_per_day: int = Field(6_000, ge=24)
    regimes: bool = True
    drift_scale: float = Field(1.0, ge=0, le=10)  # synthetic regimes' drifts times this
    start: str = ""
    end: str = ""
    start_price: float = Field(2000.0, gt=0)
    paths: tuple[str, ...] = list_field(())
    invalid_policy: Literal["drop", "reject"] = "drop"
    max_drop_share: float = Field(0.05, ge=0, le=1)  # dropping more invalid rows: exit 3
    max_gap: int = Field(1, ge=1)  # base bars without data that make a gap (an outage)
    max_gap_share: float = Field(0.01, ge=0, le=1)  # gaps or missing ids above this: a warning
    outages: int = Field(0, ge=0)  # synthetic: this many exchange outages (trades and ids lost)

    @field_validator("start", "end")
    @classmethod
    def _iso_date(cls, value: str) -> str:
        if value:
            try:
                parse_utc(value)
            except ValueError:
                raise ValueError(f"'{value}' is not an ISO date (e.g. 2024-01-31)") from None
        return value


# The keys of `[data]` each source reads (besides `source` and `invalid_policy`), and the other
# section it reads: a change elsewhere does not re-run the collection.
SOURCE_KEYS: dict[str, tuple[str, ...]] = {
    "synthetic": ("data.seed", "data.days", "data.trades_per_day", "data.regimes", "data.start",
                  "data.end", "data.start_price", "data.drift_scale", "data.outages"),
    "files": ("data.paths", "files"),
    "ccxt": ("data.days", "data.start", "data.end", "ccxt"),
}


Progress = Callable[[float, str], None]


@dataclass
class Collected:
    """What a source produced: trades or candles, true regimes if known, and metrics."""

    trades: pl.DataFrame | TradeChunks | None = None  # chunks once collected
    candles: pl.DataFrame | None = None
    true_regimes: pl.DataFrame | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def synthetic_window(data: DataConfig) -> tuple[datetime, int]:
    """Start time and length in days of the synthetic market."""
    start = parse_utc(data.start) if data.start else datetime(2024, 1, 1, tzinfo=UTC)
    days = data.days
    if data.end:
        days = max(1, (parse_utc(data.end) - start) // timedelta(days=1))
    return start, days


def collect_synthetic(data: DataConfig, objects: Objects, progress: Progress) -> Collected:
    """The synthetic market, generated, checked and written one UTC day at a time."""
    from ares_cli.data.chunks import ChunkWriter
    from ares_cli.data.synthetic import LOOKAHEAD_TRADES, day_trades, plan
    from ares_cli.data.validate import validate_trades
    from ares_cli.util.readahead import ahead

    start, days = synthetic_window(data)
    progress(0.02, f"generating {days} days of synthetic trades")
    market = plan(
        seed=data.seed, days=days, trades_per_day=data.trades_per_day,
        regimes=data.regimes, start=start, start_price=data.start_price,
        drift_scale=data.drift_scale, outages=data.outages,
    )
    writer = ChunkWriter(objects)
    counts: dict[str, int] = {}
    # the next day is generated while this one is checked and written (two cores), unless
    # days are so large that two more in memory would raise the peak with the trade rate
    days_made = day_trades(market)
    if data.trades_per_day <= LOOKAHEAD_TRADES // 2:
        days_made = ahead(days_made)
    for done, frame in enumerate(days_made, start=1):
        cleaned, day_counts = validate_trades(frame, policy=data.invalid_policy,
                                              now=datetime.max.replace(tzinfo=UTC),
                                              source="synthetic")
        for key, value in day_counts.items():
            counts[key] = counts.get(key, 0) + value
        writer.add(cleaned)
        writer.end_day()  # each frame is one whole day
        del frame, cleaned
        if done % 8 == 0:
            progress(0.02 + 0.9 * done / days, f"day {done} of {days}")
    trades = writer.finish()
    # The true regimes are kept for step 3, which measures agreement per window (never test).
    metrics: dict[str, Any] = {"source": "synthetic", "days": days,
                               "drift_scale": data.drift_scale if data.regimes else 0.0}
    if market.outages:
        metrics["outages"] = [[a.isoformat(), b.isoformat()] for a, b in market.outage_spans]
    collected = Collected(trades=trades, true_regimes=market.true_regimes, metrics=metrics)
    judge_drops(collected, "trades", counts, trades.rows, "synthetic", data.max_drop_share)
    return collected


def download_window(data: DataConfig, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of a ccxt download: data.start/data.end, else the last data.days to now."""
    end = parse_utc(data.end) if data.end else now
    start = parse_utc(data.start) if data.start else end - timedelta(days=data.days)
    if start >= end:
        raise ConfigError(f"data.start ({start.isoformat()}) must be before data.end "
                          f"({end.isoformat()})")
    return start, end


def collect_ccxt(
    data: DataConfig, ccxt: CcxtConfig, credentials: Credentials, *, exchange: str, symbol: str,
    downloads: Path, progress: Progress,
) -> Collected:
    """Download (incrementally) from an exchange through ccxt into the download cache."""
    from ares_cli.data.ccxt.download import download_trades

    start, end = download_window(data, datetime.now(UTC))
    result = download_trades(exchange, symbol, start=start, end=end, cache_dir=downloads,
                             options=ccxt, credentials=credentials, progress=progress)
    metrics = {"source": "ccxt", "start": start.isoformat(), "end": end.isoformat(),
               **result.metrics}
    return Collected(trades=result.frame, metrics=metrics, warnings=[])


def collect_files(paths: tuple[str, ...], files: FilesConfig, progress: Progress) -> Collected:
    """Trades or candles from local files (Binance archives, freqtrade, generic tables)."""
    from ares_cli.data.files.loader import load_files

    if not paths:
        raise ConfigError("data.source is 'files' but no input is given",
                          hint="add --path FILE_OR_FOLDER_OR_GLOB (repeatable)")
    progress(0.05, f"reading {len(paths)} path(s)")
    loaded = load_files(paths, files)
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


def input_file_digests(paths: tuple[str, ...]) -> dict[str, str]:
    """sha256 of every input file, so a changed file is a new action (no stale cache hit)."""
    from ares_cli.data.files.loader import expand_paths
    from ares_cli.util.fsutil import sha256_file

    return {str(path): sha256_file(path) for path in expand_paths(paths)}


def validate(
    collected: Collected, policy: str, source: str,
    locate: Callable[[pl.DataFrame], str | None] | None = None, max_drop_share: float = 1.0,
) -> None:
    """Apply the shared validation to whatever a source produced as one table; record what
    was dropped.

    `locate` lets a rejection name the file and line a bad row was read from (sources whose
    rows come from files); without it the message names the source and the row.
    """
    from ares_cli.data.validate import validate_candles, validate_trades

    # A synthetic market's clock is made up, so only observed data is checked against now.
    now = datetime.max.replace(tzinfo=UTC) if source == "synthetic" else datetime.now(UTC)
    for name, check in (("trades", validate_trades), ("candles", validate_candles)):
        frame = getattr(collected, name)
        if frame is None:
            continue
        cleaned, counts = check(frame, policy=policy, now=now, source=source, locate=locate)
        setattr(collected, name, cleaned)
        judge_drops(collected, name, counts, cleaned.height, source, max_drop_share)


def judge_drops(collected: Collected, name: str, counts: dict[str, int], rows_left: int,
                source: str, max_drop_share: float) -> None:
    """Record validation `counts`; stop when more than `max_drop_share` of the rows were
    invalid (or none is left), else warn about what was dropped."""
    collected.metrics["validation"] = counts
    dropped = {k: v for k, v in counts.items() if k.startswith("dropped_") and v}
    invalid = {k.removeprefix("dropped_"): v for k, v in dropped.items()
               if not k.startswith("dropped_duplicate")}  # copies are no loss
    share = sum(invalid.values()) / counts["rows_in"] if counts.get("rows_in") else 0.0
    if share > max_drop_share:
        reasons = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in invalid.items())
        if rows_left == 0:  # no share to accept: nothing would be left
            raise DataError(
                f"{source}: none of the {counts['rows_in']} {name} rows is usable "
                f"({reasons}), so no setting can leave data to model: is this a traded "
                "price series? (Funding rates and mark or index prices have zero prices "
                "or no volume.) Otherwise check its columns and timestamp unit")
        raise DataError(
            f"{source}: {sum(invalid.values())} of {counts['rows_in']} {name} rows "
            f"({share:.1%}) are invalid and would be dropped ({reasons}), more than "
            f"data.max_drop_share = {max_drop_share:.0%}: a model of what is left would "
            "not cover the data you gave it; fix the input (check its timestamp unit and "
            "columns), or accept the loss with --set data.max_drop_share="
            f"{min(1.0, share + 0.01):.2f}")
    if dropped:
        reasons = ", ".join(f"{v} {k.removeprefix('dropped_')}" for k, v in dropped.items())
        collected.warnings.append(f"{source}: dropped {sum(dropped.values())} {name} rows "
                                  f"({reasons})")


def collect(
    data: DataConfig, *, files: FilesConfig | None = None, ccxt: CcxtConfig | None = None,
    credentials: Credentials | None = None, exchange: str, symbol: str,
    downloads: Path | None, progress: Progress, objects: Objects | None = None,
) -> Collected:
    """Dispatch to the configured source, validate its output the same way for all, and
    write trades as UTC-day chunks into `objects` (the store; a dict in memory when None).

    `files` and `ccxt` are needed only by their own source; `downloads` is the ccxt cache.
    The synthetic market is validated and written a day at a time as it is generated. A
    downloaded or read history is validated on the merged rows (so "drop" counts and overlap
    handling are the same for every source; for the files source a rejected row is then
    looked up in its file), then written a day at a time.
    """
    from ares_cli.data.chunks import ChunkWriter, MemoryObjects

    objects = objects if objects is not None else MemoryObjects()
    if data.source == "synthetic":
        return collect_synthetic(data, objects, progress)
    if data.source == "ccxt":
        from ares_cli.data.ccxt.client import Credentials

        assert ccxt is not None, "the ccxt source needs the [ccxt] section"
        if downloads is None:
            raise ConfigError("the ccxt source needs a download folder (a store)")
        collected = collect_ccxt(data, ccxt, credentials or Credentials(), exchange=exchange,
                                 symbol=symbol, downloads=downloads, progress=progress)
    else:
        assert files is not None, "the files source needs the [files] section"
        collected = collect_files(data.paths, files, progress)
    locate: Callable[[pl.DataFrame], str | None] | None = None
    if data.source == "files" and files is not None:
        from functools import partial

        from ares_cli.data.files.loader import locate_row

        locate = partial(locate_row, data.paths, files)
    progress(0.8, "validating")
    validate(collected, data.invalid_policy, data.source, locate,
             max_drop_share=data.max_drop_share)
    if isinstance(collected.trades, pl.DataFrame):
        progress(0.9, "writing trades by day")
        writer = ChunkWriter(objects)
        writer.add(collected.trades)
        collected.trades = writer.finish()
    return collected
