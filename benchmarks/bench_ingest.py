"""Benchmark: ingest of Binance-layout aggTrades zips with ares' file loader vs polars
`scan_csv` of the same uncompressed CSV, same process. Prints seconds and the ratio
(ares / scan_csv; the target is within 2x).

Usage: python -m benchmarks.bench_ingest [--trades 17000000] [--files 4] [--repeat 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import zipfile
from pathlib import Path

import polars as pl

from ares_cli.data.files.loader import load_files
from ares_cli.data.synthetic import generate
from benchmarks.timing import best_of


def write_binance_csvs(folder: Path, trades: pl.DataFrame, parts: int) -> list[Path]:
    """Spot aggTrades layout: id, price, qty, first id, last id, ms time, True/False, True."""
    rows = trades.select(
        pl.col("trade_id"),
        pl.col("price").round(2),
        pl.col("qty"),
        pl.col("trade_id").alias("first"),
        pl.col("trade_id").alias("last"),
        pl.col("timestamp").dt.epoch("ms"),
        pl.when(pl.col("is_buyer_maker")).then(pl.lit("True")).otherwise(pl.lit("False")),
        pl.lit("True").alias("best"),
    )
    paths = []
    for index, chunk in enumerate(rows.iter_slices(n_rows=-(-rows.height // parts))):
        path = folder / f"ETHUSDT-aggTrades-2024-{index + 1:02d}.csv"
        chunk.write_csv(path, include_header=False)
        paths.append(path)
    return paths


def zip_each(paths: list[Path]) -> list[Path]:
    zips = []
    for path in paths:
        target = path.with_suffix(".zip")
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
            archive.write(path, arcname=path.name)
        zips.append(target)
    return zips


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trades", type=int, default=17_000_000)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    days = 1000
    trades = generate(seed=2, days=days, trades_per_day=args.trades // days).trades
    with tempfile.TemporaryDirectory(prefix="ares-bench-") as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        csvs = write_binance_csvs(folder, trades, args.files)
        zips = zip_each(csvs)
        print(f"wrote {trades.height:,} aggTrades as {len(zips)} zips "
              f"({sum(z.stat().st_size for z in zips) / 1e6:.0f} MB) in "
              f"{time.perf_counter() - start:.1f}s")
        loaded = load_files([str(z) for z in zips])
        assert loaded.frame.height == trades.height, "every trade must load"

        def scan() -> pl.DataFrame:
            return pl.concat([pl.scan_csv(c, has_header=False) for c in csvs]).collect()

        ours = best_of(args.repeat, lambda: load_files([str(z) for z in zips]))
        baseline = best_of(args.repeat, scan)
        print(f"ingest {trades.height:,} trades: ares load_files(zips) {ours:.2f}s  "
              f"polars scan_csv(uncompressed) {baseline:.2f}s  ratio {ours / baseline:.2f}x "
              "(target <= 2x)")


if __name__ == "__main__":
    main()
