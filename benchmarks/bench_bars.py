"""Benchmark: trades -> 1h and 1m bars with ares' builder vs pandas `resample`, same data,
same process. Prints seconds and the speed ratio (pandas time / ares time; > 1 means faster).

Usage: .venv-bench/bin/python -m benchmarks.bench_bars [--trades 17000000] [--repeat 3]
(pandas is no dependency of ares: it comes with vectorbt in `.venv-bench`, which `make bench`
builds.)
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import polars as pl

from ares_cli.data.bars import bars_from_trades
from ares_cli.data.synthetic import generate
from benchmarks.timing import best_of


def pandas_bars(frame: pd.DataFrame, rule: str) -> pd.DataFrame:
    """The same columns ares builds (OHLC, volume, quote volume, count, taker-buy volume)."""
    work = frame.assign(
        quote=frame["price"] * frame["qty"],
        taker=np.where(frame["is_buyer_maker"], 0.0, frame["qty"]),
    )
    resampled = work.resample(rule)
    out = resampled["price"].ohlc()
    out["volume"] = resampled["qty"].sum()
    out["quote_volume"] = resampled["quote"].sum()
    out["trades"] = resampled["price"].count()
    out["taker_buy_volume"] = resampled["taker"].sum()
    out["close"] = out["close"].ffill()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trades", type=int, default=17_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    days = 1000
    start = time.perf_counter()
    market = generate(seed=1, days=days, trades_per_day=args.trades // days)
    trades = market.trades
    print(f"generated {trades.height:,} synthetic trades in {time.perf_counter() - start:.2f}s")
    frame = trades.to_pandas().set_index("timestamp")

    for label, every_ms, rule in (("1h", 3_600_000, "1h"), ("1m", 60_000, "1min")):
        ours = best_of(args.repeat, lambda e=every_ms: bars_from_trades(trades, e))
        theirs = best_of(args.repeat, lambda r=rule: pandas_bars(frame, r))
        rows = bars_from_trades(trades, every_ms).height
        assert rows == len(pandas_bars(frame, rule)), "both builders must give the same bar count"
        print(f"trades->{label} bars ({rows:,} bars): ares {ours:.3f}s  pandas resample "
              f"{theirs:.3f}s  ratio {theirs / ours:.2f}x")
    print(f"polars {pl.__version__}, pandas {pd.__version__}, numpy {np.__version__}")


if __name__ == "__main__":
    main()
