"""A causal market-regime classifier: trend strength and volatility level per base bar.

Each bar gets two causal statistics from closes up to and including it: a trend t-statistic
(the sum of log returns over `trend_window` bars divided by their standard deviation times
sqrt(window)) and a volatility level (the standard deviation of log returns over `vol_window`),
both smoothed by an EMA of span `smoothing`. `fit` learns the two thresholds as quantiles on the
training bars only; `predict` labels VOLATILE above the volatility threshold, else BULL or BEAR
beyond +/- the trend threshold, else SIDEWAYS, with a soft score per regime that sums to one.
Because the statistics only look back and the thresholds are frozen after `fit`, appending bars
never changes an earlier label.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from ares_cli.errors import DataError
from ares_cli.util.section import Field, Section

__all__ = ["REGIMES", "SCORE_COLUMNS", "RegimeClassifier", "RegimesConfig", "agreement",
           "agreement_by_window", "bars_needed", "classify_bars", "data_span", "span_words"]

REGIMES = ("BULL", "BEAR", "SIDEWAYS", "VOLATILE")
SCORE_COLUMNS = tuple(f"score_{r.lower()}" for r in REGIMES)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -50, 50)))


def _thresholds(trend: np.ndarray, vol: np.ndarray, volatile_q: float,
                trend_q: float) -> tuple[float, float, float, float]:
    """(volatility threshold, trend threshold, volatility scale, trend scale) from valid stats."""
    log_vol = np.log(vol)
    vol_threshold = float(np.exp(np.quantile(log_vol, volatile_q)))
    calm = vol <= vol_threshold
    trend_threshold = float(np.quantile(np.abs(trend[calm]), trend_q))
    vol_scale = float(max(np.std(log_vol) * 0.25, 1e-6))
    trend_scale = float(max(np.std(trend[calm]) * 0.25, 1e-6))
    return vol_threshold, trend_threshold, vol_scale, trend_scale


class RegimesConfig(Section):
    """`[regimes]`: the causal regime classifier (trend strength and volatility level)."""

    trend_window: int = Field(48, ge=2)
    vol_window: int = Field(24, ge=2)
    smoothing: int = Field(6, ge=1)
    volatile_quantile: float = Field(0.85, gt=0, lt=1)
    trend_quantile: float = Field(0.4, gt=0, lt=1)
    refit_every: int = Field(24, ge=2)
    min_fit_bars: int = Field(72, ge=2)


class RegimeClassifier:
    """scikit-learn-style estimator: parameters in __init__, learned state ends in `_`.

    `fit` learns thresholds on the training bars. Bars inside that training span are labelled
    with thresholds refitted every `refit_every` bars on the bars up to then (an expanding
    window), so even a training bar's label uses nothing after it; bars after the span use the
    final thresholds. The first `min_fit_bars` bars with valid statistics are warm-up (no label).
    """

    def __init__(self, config: RegimesConfig | None = None) -> None:
        self.config = config or RegimesConfig()

    def statistics(self, close: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Causal (trend t-stat, volatility) per bar; NaN during warm-up."""
        window, span = self.config.trend_window, self.config.smoothing
        frame = pl.DataFrame({"close": close}).lazy()
        logret = pl.col("close").log().diff()
        stats = frame.with_columns(r=logret).select(
            trend=(
                pl.col("r").rolling_sum(window)
                / (pl.col("r").rolling_std(window) * np.sqrt(window))
            ).ewm_mean(span=span, adjust=False, ignore_nulls=True),
            vol=pl.col("r")
            .rolling_std(self.config.vol_window)
            .ewm_mean(span=span, adjust=False, ignore_nulls=True),
        ).collect(engine="in-memory")  # streaming rolling kernels vary in the last bit
        trend = stats["trend"].fill_nan(None).to_numpy().astype(float)
        vol = stats["vol"].fill_nan(None).to_numpy().astype(float)
        return trend, vol

    @staticmethod
    def _valid(trend: np.ndarray, vol: np.ndarray) -> np.ndarray:
        return np.isfinite(trend) & np.isfinite(vol) & (vol > 0)

    def fit(self, close: np.ndarray) -> RegimeClassifier:
        """Learn thresholds and score scales from training closes only."""
        trend, vol = self.statistics(close)
        ok = self._valid(trend, vol)
        if ok.sum() < self.config.min_fit_bars:
            raise ValueError(
                f"only {int(ok.sum())} training bars after a warm-up of "
                f"{max(self.config.trend_window, self.config.vol_window)} bars; need at least "
                f"{self.config.min_fit_bars} (regimes.min_fit_bars)"
            )
        (self.vol_threshold_, self.trend_threshold_, self.vol_scale_,
         self.trend_scale_) = _thresholds(trend[ok], vol[ok], self.config.volatile_quantile,
                                          self.config.trend_quantile)
        self.n_fit_ = int(ok.sum())
        self.fit_bars_ = len(close)
        return self

    def _threshold_path(self, trend: np.ndarray, vol: np.ndarray) -> np.ndarray:
        """(n, 4) thresholds and scales in force at each bar; NaN rows are warm-up."""
        n = len(trend)
        path = np.full((n, 4), np.nan)
        path[self.fit_bars_:] = (self.vol_threshold_, self.trend_threshold_, self.vol_scale_,
                                 self.trend_scale_)
        ok = self._valid(trend, vol)
        valid_so_far = np.cumsum(ok)
        span = min(n, self.fit_bars_)
        for end in range(self.config.refit_every - 1, span, self.config.refit_every):
            if valid_so_far[end] < self.config.min_fit_bars:
                continue
            upto = ok[: end + 1]
            path[end : min(end + self.config.refit_every, span)] = _thresholds(
                trend[: end + 1][upto], vol[: end + 1][upto], self.config.volatile_quantile,
                self.config.trend_quantile,
            )
        return path

    def predict(self, close: np.ndarray) -> pl.DataFrame:
        """Per-bar regime label (null during warm-up), scores, and the two statistics."""
        trend, vol = self.statistics(close)
        path = self._threshold_path(trend, vol)
        ok = self._valid(trend, vol) & np.isfinite(path[:, 0])
        vol_thr = np.where(ok, path[:, 0], 1.0)
        trend_thr = np.where(ok, path[:, 1], 0.0)
        safe_vol = np.where(ok, vol, 1.0)
        safe_trend = np.where(ok, trend, 0.0)
        p_vol = _sigmoid((np.log(safe_vol) - np.log(vol_thr)) / np.where(ok, path[:, 2], 1.0))
        trend_scale = np.where(ok, path[:, 3], 1.0)
        p_up = _sigmoid((safe_trend - trend_thr) / trend_scale)
        p_down = _sigmoid((-safe_trend - trend_thr) / trend_scale)
        scores = np.column_stack(
            [(1 - p_vol) * p_up, (1 - p_vol) * p_down,
             (1 - p_vol) * np.clip(1 - p_up - p_down, 0, 1), p_vol]
        )
        scores /= scores.sum(axis=1, keepdims=True)
        label = np.where(
            safe_vol > vol_thr, 3,
            np.where(safe_trend > trend_thr, 0, np.where(safe_trend < -trend_thr, 1, 2)),
        )
        names = np.array(REGIMES, dtype=object)[label]
        names[~ok] = None
        scores[~ok] = np.nan
        return pl.DataFrame(
            {
                "regime": pl.Series(names.tolist(), dtype=pl.String),
                **{c: scores[:, i] for i, c in enumerate(SCORE_COLUMNS)},
                "trend": np.where(ok, trend, np.nan),
                "volatility": np.where(ok, vol, np.nan),
            }
        ).with_columns(pl.col(*SCORE_COLUMNS, "trend", "volatility").fill_nan(None))

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> RegimeClassifier:
        """The fitted classifier `params()` describes, applying its final thresholds to every
        bar (no refits): labels on new data then depend only on each bar's own trailing
        statistics, whatever history comes before it (a deployed bundle's regimes)."""
        config = RegimesConfig(**{k: params[k] for k in RegimesConfig.model_fields})
        out = cls(config)
        out.vol_threshold_ = float(params["vol_threshold"])
        out.trend_threshold_ = float(params["trend_threshold"])
        out.vol_scale_ = float(params["vol_scale"])
        out.trend_scale_ = float(params["trend_scale"])
        out.n_fit_ = int(params["n_fit"])
        out.fit_bars_ = 0
        return out

    def params(self) -> dict[str, Any]:
        """Parameters and learned thresholds, JSON-ready, for the model bundle."""
        return {
            **self.config.model_dump(),
            "fit_bars": self.fit_bars_,
            "vol_threshold": self.vol_threshold_,
            "trend_threshold": self.trend_threshold_,
            "vol_scale": self.vol_scale_,
            "trend_scale": self.trend_scale_,
            "n_fit": self.n_fit_,
        }


def agreement(true: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    """Confusion matrix (rows true, columns predicted) and balanced accuracy over REGIMES."""
    index = {r: i for i, r in enumerate(REGIMES)}
    mask = np.array([t in index and p in index for t, p in zip(true, predicted, strict=True)])
    t = np.array([index[x] for x in np.asarray(true)[mask]], dtype=int)
    p = np.array([index[x] for x in np.asarray(predicted)[mask]], dtype=int)
    matrix = np.zeros((len(REGIMES), len(REGIMES)), dtype=int)
    np.add.at(matrix, (t, p), 1)
    support = matrix.sum(axis=1)
    recalls = np.divide(np.diag(matrix), support, out=np.zeros(len(REGIMES)), where=support > 0)
    present = support > 0
    return {
        "labels": list(REGIMES),
        "confusion": matrix.tolist(),
        "recall": {r: round(float(x), 4) for r, x, s in zip(REGIMES, recalls, present,
                                                            strict=True) if s},
        "balanced_accuracy": round(float(recalls[present].mean()), 4) if present.any() else None,
        "accuracy": round(float(np.trace(matrix) / max(matrix.sum(), 1)), 4),
        "bars": int(matrix.sum()),
    }


def data_span(timestamps: pl.Series) -> str:
    """'46 s (2021-11-27T00:00 to 2021-11-27T00:00:46)' for a message about too little data."""
    if timestamps.len() == 0:
        return "nothing"
    first, last = timestamps.min(), timestamps.max()
    length = span_words(int((last - first).total_seconds() * 1000))
    return f"{length} ({first.isoformat()} to {last.isoformat()})"


def bars_needed(config: RegimesConfig, train_fraction: float) -> int:
    """Base bars the classifier needs in all: a warm-up plus `min_fit_bars` in the first
    `train_fraction` of them, where its thresholds are fitted."""
    fit = max(config.trend_window, config.vol_window) + 1 + config.min_fit_bars
    n = int(np.ceil(fit / train_fraction))
    while int(np.floor(n * train_fraction)) < fit:  # the fit takes floor(n * fraction) bars
        n += 1
    return n


def span_words(ms: int) -> str:
    """A length in words: '46 s', '48.0 h', '20.8 days', '12.9 years'."""
    seconds = ms / 1000
    return (f"{seconds:.0f} s" if seconds < 3600 else f"{seconds / 3600:.1f} h"
            if seconds < 3 * 86400 else f"{seconds / 86400:.1f} days"
            if seconds < 730 * 86400 else f"{seconds / (365.25 * 86400):.1f} years")


def classify_bars(
    bars: pl.DataFrame, config: RegimesConfig, train_fraction: float, *, timeframe: str = "bar",
) -> tuple[pl.DataFrame, dict[str, Any], dict[str, Any]]:
    """(regimes table, fitted model params, metrics) for base `bars` (step 2).

    Thresholds are fitted on the first `train_fraction` of bars — the same bars step 3 puts in
    the train window — so validation and test labels use nothing learned from their own period.
    Metrics come as {"data": ..., "train": ...}.
    """
    close = bars["close"].to_numpy()
    n_fit = int(np.floor(len(close) * train_fraction))
    warmup = max(config.trend_window, config.vol_window) + 1
    need = warmup + config.min_fit_bars
    if n_fit < need:
        raise DataError(
            f"the data covers {data_span(bars['timestamp'])}, {len(close)} bars of {timeframe}: "
            f"regime-classify fits on the first {train_fraction:.0%} ({n_fit} bars) and needs "
            f"at least {need} there (a {warmup}-bar warm-up plus regimes.min_fit_bars = "
            f"{config.min_fit_bars}), i.e. {bars_needed(config, train_fraction)} bars in all: "
            "collect more data or use a shorter bars.base"
        )
    classifier = RegimeClassifier(config)
    try:
        classifier.fit(close[:n_fit])
    except ValueError as exc:
        raise DataError(f"cannot fit the regime classifier on {n_fit} bars: {exc}") from None
    labelled = classifier.predict(close)
    table = pl.concat([bars.select("timestamp"), labelled], how="horizontal")
    shares = table["regime"][:n_fit].drop_nulls().value_counts(normalize=True).sort("regime")
    metrics: dict[str, Any] = {
        "data": {
            "fit_bars": n_fit,
            "warmup_bars": int(table["regime"].null_count()),
            "thresholds": {"volatility": classifier.vol_threshold_,
                           "trend": classifier.trend_threshold_},
        },
        "train": {"regime_share": {r: round(float(x), 4) for r, x in shares.iter_rows()}},
    }
    return table, classifier.params(), metrics


def agreement_by_window(splits: pl.DataFrame, truth: pl.DataFrame,
                        windows: tuple[str, ...] = ("train", "validation")) -> dict[str, Any]:
    """{window: {"vs_true_regimes": agreement}} of the labels in `splits` (one row per bar with
    `timestamp`, `window`, `regime`) with the true regimes of a synthetic market."""
    true = splits.select("timestamp").join(truth, on="timestamp", how="left")["regime"]
    joined = splits.with_columns(true=true)
    return {
        name: {"vs_true_regimes": agreement(rows["true"].to_numpy(), rows["regime"].to_numpy())}
        for name in windows
        for rows in [joined.filter(pl.col("window") == name)]
    }
