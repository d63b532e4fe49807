"""Model features: no lookahead (bit-exact), fine-bar aggregates, candle-only input, no inf."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ares_cli.data.bars import bars_from_trades, resample_bars
from ares_cli.data.synthetic import generate
from ares_cli.ml.features.causal import FeaturesConfig, build_features, feature_columns
from ares_cli.ml.features.regimes import RegimeClassifier

HOUR_MS = 3_600_000
MINUTE_MS = 60_000
T0 = datetime(2024, 1, 1, tzinfo=UTC)
# Hours (from the first trade's hour) emptied of trades: a short gap and one longer than the
# longest window (168 bars), so every zero-denominator path of every feature is exercised.
GAPS = ((150, 156), (380, 560))
# Features that need trades / taker_buy_volume / quote_volume.
FLOW_FEATURES = (
    "f_taker_buy_ratio",
    "f_taker_buy_ratio_24",
    "f_trades_z_24",
    "f_trades_z_168",
    "f_fine_trade_intensity",
    "f_vwap_dist_24",
)


@dataclass(frozen=True)
class Market:
    """Base and fine bars of one synthetic market, and a regime classifier fitted once."""

    base: pl.DataFrame
    fine: pl.DataFrame
    classifier: RegimeClassifier

    def upto(self, n: int) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
        """What is known at the close of base bar n-1: base[:n], its fine bars, its regimes."""
        base = self.base.head(n)
        end = base["timestamp"][-1] + timedelta(milliseconds=HOUR_MS)
        fine = self.fine.filter(pl.col("timestamp") < end)
        # RegimeClassifier.statistics collects with the default engine; polars 2.1's streaming
        # engine computes rolling_std in morsels, so its last bits depend on the series length
        # (seen right after a run of flat bars). Pin the in-memory engine so this test checks
        # features.py alone; the regime module's own prefix-stability is its own concern.
        with pl.Config(engine_affinity="in-memory"):
            regimes = self.classifier.predict(base["close"].to_numpy())
        return base, fine, pl.concat([base.select("timestamp"), regimes], how="horizontal")


@pytest.fixture(scope="module")
def market() -> Market:
    """24 days of synthetic trades with two holes, as hourly base and 1-minute fine bars."""
    trades = generate(seed=1, days=24, trades_per_day=5000).trades
    hour = (pl.col("timestamp") - pl.col("timestamp").min()).dt.total_hours()
    for start, stop in GAPS:
        trades = trades.filter(~hour.is_between(start, stop, closed="left"))
    base = bars_from_trades(trades, HOUR_MS)
    fine = bars_from_trades(trades, MINUTE_MS)
    classifier = RegimeClassifier().fit(base["close"].to_numpy()[:300])
    return Market(base, fine, classifier)


@pytest.fixture(scope="module")
def full_features(market: Market) -> pl.DataFrame:
    """Features of the whole market with fine bars and regimes."""
    return build_features(*market.upto(market.base.height), base_ms=HOUR_MS)


# --------------------------------------------------------------------------------------------------
# no lookahead


@pytest.mark.parametrize(("n", "m"), [(60, 1), (153, 7), (300, 1), (300, 150), (420, 156)])
def test_appending_bars_never_changes_earlier_features(market: Market, n: int, m: int) -> None:
    """Every feature column of the first n rows is bit-identical once m more bars are known."""
    short = build_features(*market.upto(n), base_ms=HOUR_MS)
    longer = build_features(*market.upto(n + m), base_ms=HOUR_MS)
    assert short.height == n
    assert_frame_equal(short, longer.head(n), check_exact=True)


def test_lookahead_check_is_not_vacuous(full_features: pl.DataFrame) -> None:
    """By row 300 every feature has real values, so the comparison above covers each one."""
    head = full_features.head(300)
    empty = [c for c in feature_columns(head) if head[c].null_count() == head.height]
    assert empty == []


# --------------------------------------------------------------------------------------------------
# fine-bar aggregates on a hand-built case


def _bars(
    starts: list[datetime], close: list[float], *, volume: list[float], trades: list[int]
) -> pl.DataFrame:
    """Bars in BARS_SCHEMA with open = previous close (first: own close), high/low = max/min."""
    c = np.asarray(close, dtype=np.float64)
    o = np.concatenate((c[:1], c[:-1]))
    v = np.asarray(volume, dtype=np.float64)
    return pl.DataFrame(
        {
            "timestamp": pl.Series(starts, dtype=pl.Datetime("us", "UTC")),
            "open": o,
            "high": np.maximum(o, c),
            "low": np.minimum(o, c),
            "close": c,
            "volume": v,
            "quote_volume": v * c,
            "trades": pl.Series(trades, dtype=pl.Int64),
            "taker_buy_volume": v / 2,
            "vwap": c,
            "filled": v == 0,
        }
    )


def test_fine_aggregates_match_hand_computed_values() -> None:
    """Realised vol, largest move, active share and trade intensity of each base bar."""
    base = _bars(
        [T0 + timedelta(hours=i) for i in range(3)],
        [102.0, 104.0, 104.0],
        volume=[4.0, 3.0, 1.0],
        trades=[10, 9, 1],
    )
    quarter = timedelta(minutes=15)
    fine_close = [99.0, 100.0, 101.0, 100.0, 102.0, 101.0, 103.0, 103.0, 104.0, 200.0]
    fine_starts = [T0 - quarter, *(T0 + quarter * i for i in range(8)), T0 + timedelta(hours=3)]
    fine = _bars(
        fine_starts,
        fine_close,
        volume=[1, 1, 1, 1, 1, 1, 1, 0, 1, 1],
        trades=[5, 2, 3, 1, 4, 2, 3, 0, 4, 7],
    )
    out = build_features(base, fine, None, FeaturesConfig(vol_window=2), base_ms=HOUR_MS)
    # Bar 0 holds fine bars 1-4; its first return is against the fine bar before it (99).
    r0 = np.log([100 / 99, 101 / 100, 100 / 101, 102 / 100])
    # Bar 1 holds fine bars 5-8 (one of them empty and flat); bar 2 has none; the last fine bar
    # opens exactly when bar 2 ends, so it belongs to no base bar (its 200.0 must not leak in).
    r1 = np.log([101 / 102, 103 / 101, 103 / 103, 104 / 103])
    expected_rv = [math.sqrt(float(np.sum(r0**2))), math.sqrt(float(np.sum(r1**2))), None]
    assert out["f_fine_rv"].to_list()[:2] == pytest.approx(expected_rv[:2], rel=1e-12)
    assert out["f_fine_rv"][2] is None
    assert out["f_fine_max_abs_ret"].to_list()[:2] == pytest.approx(
        [np.abs(r0).max(), np.abs(r1).max()], rel=1e-12
    )
    assert out["f_fine_active_share"].to_list() == [1.0, 0.75, None]
    # Fine trade counts 10 and 9; intensity = count / mean of the last 2 counts.
    assert out["f_fine_trade_intensity"].to_list() == pytest.approx([None, 9 / 9.5, None])


def test_fine_features_are_null_without_fine_bars(market: Market) -> None:
    base, _, regimes = market.upto(100)
    out = build_features(base, None, regimes, base_ms=HOUR_MS)
    for column in (
        "f_fine_rv",
        "f_fine_max_abs_ret",
        "f_fine_active_share",
        "f_fine_trade_intensity",
    ):
        assert out[column].null_count() == out.height


# --------------------------------------------------------------------------------------------------
# candle-only input, flat bars, names


def test_candle_only_input_gives_null_flow_features(market: Market) -> None:
    """Candles without trade count, taker-buy or quote volume: those features are null."""
    unknown = ("quote_volume", "trades", "taker_buy_volume")
    candles = market.fine.head(200 * 60).with_columns(
        pl.lit(None, dtype=pl.Float64).alias("quote_volume"),
        pl.lit(None, dtype=pl.Int64).alias("trades"),
        pl.lit(None, dtype=pl.Float64).alias("taker_buy_volume"),
    )
    base = resample_bars(candles, HOUR_MS)
    out = build_features(base, candles, None, base_ms=HOUR_MS)
    traded = out.filter(~base["filled"])
    assert traded.height > 0
    for column in (*FLOW_FEATURES, "f_vwap_dist"):
        assert traded[column].null_count() == traded.height, column
    for column in ("f_rsi_14", "f_volume_z_24", "f_obv_24", "f_mfi_14", "f_fine_rv"):
        assert out[column].drop_nulls().len() > 0, column
    # A source that lacks those columns altogether is the same as one that leaves them null.
    bare = build_features(
        base.drop(*unknown, "vwap"), candles.drop(*unknown), None, base_ms=HOUR_MS
    )
    assert_frame_equal(bare.drop("f_vwap_dist"), out.drop("f_vwap_dist"), check_exact=True)


def test_flat_and_empty_bars_never_give_inf_or_nan(
    market: Market, full_features: pl.DataFrame
) -> None:
    """A 180-bar stretch of empty bars hits every zero denominator: all nulls, never inf."""
    features = full_features.select(feature_columns(full_features))
    assert market.base["filled"].sum() >= 180
    assert not any(features.select(pl.all().is_infinite().any()).row(0))
    assert not any(features.select(pl.all().is_nan().any()).row(0))
    flat = full_features.filter(market.base["filled"]).tail(1)
    for column in (
        "f_volume_z_168",
        "f_bb_pct_b_20",
        "f_taker_buy_ratio",
        "f_stoch_k_14",
        "f_mfi_14",
        "f_obv_24",
    ):
        assert flat[column][0] is None, column
    assert flat["f_ret_1"][0] == 0.0


def test_feature_names_and_shape(market: Market, full_features: pl.DataFrame) -> None:
    names = feature_columns(full_features)
    assert full_features.columns == ["timestamp", *names]
    assert len(names) >= 35
    assert len(set(names)) == len(names)
    assert all(n.startswith("f_") for n in names)
    assert all(full_features.schema[n] == pl.Float64 for n in names)
    assert full_features["timestamp"].equals(market.base["timestamp"])
    # The same columns whatever optional inputs are given: models see one stable schema.
    bare = build_features(market.base.head(50), None, None, base_ms=HOUR_MS)
    assert feature_columns(bare) == names


def test_regime_one_hot_follows_the_label(full_features: pl.DataFrame, market: Market) -> None:
    _, _, regimes = market.upto(market.base.height)
    one_hot = full_features.select(
        "f_regime_bull", "f_regime_bear", "f_regime_sideways", "f_regime_volatile"
    )
    labelled = regimes["regime"].is_not_null()
    assert one_hot.filter(labelled).sum_horizontal().to_list() == [1.0] * int(labelled.sum())
    assert one_hot.filter(~labelled).null_count().row(0) == (int((~labelled).sum()),) * 4


def test_unsorted_base_is_rejected(market: Market) -> None:
    shuffled = market.base.head(10).reverse()
    with pytest.raises(ValueError, match="strictly increasing"):
        build_features(shuffled, None, None, base_ms=HOUR_MS)
