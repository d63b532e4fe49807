"""Step 14's verdict on the walk-forward out-of-sample record: intervals, permutation test,
probabilistic and deflated Sharpe, probability of backtest overfitting.

Everything is measured on the stitched out-of-sample returns of step 13 (window
`walk_forward`), except the PBO, which needs every candidate's returns on the bars it was chosen
on: step 12's trials on the validation window.

The out-of-sample record was not chosen on its own bars (each fold chose on its past), so the
trials of steps 6 and 12 do not deflate it. What does is looking at the same test bars again
and again under other settings: `looks` (K) counts the distinct settings whose results on these
bars were seen in this store. The verdict is one of `VERDICTS`:

* "edge": the random-entry permutation p, Bonferroni-adjusted (min(1, K·p)), is below `alpha`
  AND the (1 - alpha) stationary-bootstrap interval of the annualised Sharpe lies above 0;
* "no edge": at least `min_trades` out-of-sample trades (a floor, or a rate per bar when that
  is more), and not an edge;
* "not tested": fewer trades than that; nothing was tested, and the caller says why.

The PSR (against 0) and the DSR over the looks' Sharpes are reported, not judged; a flat record
has neither. Pure and I/O-free.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ares_cli.util.section import Field, Section

__all__ = ["VERDICTS", "MonteCarloConfig", "assess", "judge", "judge_record", "min_trades_for",
           "per_regime"]

VERDICTS = ("edge", "no edge", "not tested")


class MonteCarloConfig(Section):
    """`[monte_carlo]`: replicate counts, the ruin level, the test's level and its trade floor."""

    n_boot: int = Field(1000, ge=100)
    n_perm: int = Field(1000, ge=100)  # at least 20·K/alpha placements are drawn whatever this
    n_shuffle: int = Field(1000, ge=100)
    ruin_drawdown: float = Field(0.3, gt=0, lt=1)
    pbo_splits: int = Field(16, ge=2)
    alpha: float = Field(0.05, gt=0, lt=0.5)
    min_trades: int = Field(10, ge=2)  # fewer out-of-sample trades: "not tested"
    min_trade_rate: float = Field(0.002, ge=0, lt=1)  # ... or this many per out-of-sample bar


def min_trades_for(cfg: MonteCarloConfig, bars: int) -> int:
    """The trades a verdict needs on `bars` out-of-sample bars: the floor or the rate."""
    return max(cfg.min_trades, math.ceil(cfg.min_trade_rate * bars))


def judge(*, permutation_p: float | None, sharpe_low: float | None, trades: int,
          needed: int, looks: int, alpha: float) -> tuple[str, str]:
    """(verdict, why) from the raw permutation p, the lower end of the (1 - alpha) Sharpe
    interval, the trade count against the `needed` one and the K looks at these bars."""
    if trades < needed:
        return "not tested", (f"{trades} out-of-sample trade(s), fewer than the {needed} a "
                              "verdict needs (monte_carlo.min_trades / min_trade_rate)")
    adjusted = 1.0 if permutation_p is None else min(1.0, looks * permutation_p)
    failed = []
    if adjusted >= alpha:
        failed.append(f"permutation p {permutation_p:.3f} x {looks} look(s) = {adjusted:.3f} "
                      f"is not below alpha {alpha:g}" if permutation_p is not None
                      else "no permutation test")
    if sharpe_low is None or sharpe_low <= 0:
        failed.append(f"the Sharpe interval reaches {sharpe_low:.2f} <= 0"
                      if sharpe_low is not None else "no Sharpe interval")
    if failed:
        return "no edge", "; ".join(failed)
    return "edge", (f"permutation p {permutation_p:.3f} x {looks} look(s) = {adjusted:.3f} < "
                    f"alpha {alpha:g} and the Sharpe interval lies above 0 ({sharpe_low:.2f})")


def _thin(values: Any, keep: int = 1000) -> list[float]:
    """At most `keep` replicate values (evenly spaced after sorting) for the report's plots."""
    v = np.sort(np.asarray(values, dtype=np.float64)[np.isfinite(values)])
    if v.size > keep:
        v = v[np.linspace(0, v.size - 1, keep).astype(np.int64)]
    return [float(x) for x in v]


def _pbo(trial_returns: np.ndarray, splits: int) -> dict[str, Any]:
    from ares_cli.ml.stats.pbo import pbo_cscv

    t, n = trial_returns.shape
    usable = trial_returns[:, np.nanstd(trial_returns, axis=0) > 0]
    s = min(splits // 2 * 2, (t // 4) // 2 * 2)  # CSCV needs an even number of blocks
    if usable.shape[1] < 2 or s < 2:
        return {"pbo": None, "reason": f"{usable.shape[1]} trials that traded, {t} bars: "
                                         "too few for CSCV", "trials": int(n)}
    result = pbo_cscv(usable, n_splits=s)
    return {"pbo": float(result.pbo), "splits": s, "trials": int(usable.shape[1]),
            "prob_oos_loss": float(result.prob_oos_loss),
            "logits": [float(v) for v in np.asarray(result.logits)]}


def per_regime(returns: np.ndarray, regimes: list[str | None], *, bars_per_year: float,
               cfg: MonteCarloConfig, seed: int, min_bars: int = 100) -> dict[str, Any]:
    """Where the edge lives: the out-of-sample Sharpe of the bars under each causal regime
    label, with its (1 - alpha) stationary-bootstrap interval (none under `min_bars` bars or
    without a trade there, saying so)."""
    from ares_cli.ml.stats.resampling import stationary_bootstrap_ci

    labels = np.array(["unlabelled" if r is None else r for r in regimes])
    out: dict[str, Any] = {}
    for name in sorted(set(labels.tolist())):
        r = returns[labels == name]
        row: dict[str, Any] = {"bars": int(r.size), "sharpe": None, "sharpe_ci": None}
        if r.size < min_bars or not np.std(r) > 0:
            row["note"] = (f"no interval: {r.size} bars" if r.size < min_bars
                           else "no trade in this regime")
        else:
            boot = stationary_bootstrap_ci(r, n_boot=cfg.n_boot, seed=seed,
                                           periods_per_year=bars_per_year,
                                           confidence=1.0 - cfg.alpha)
            row.update(sharpe=float(boot.observed["sharpe"]),
                       sharpe_ci=[float(v) for v in boot.interval["sharpe"]])
        out[name] = row
    return out


def judge_record(m: dict[str, Any], looks: int) -> tuple[str, str]:
    """`judge` of a step-14 record (its `walk_forward` metrics) with `looks` counted now."""
    low = m["sharpe_ci"][0] if m.get("sharpe_ci") else None
    return judge(permutation_p=m.get("permutation_p"), sharpe_low=low, trades=int(m["trades"]),
                 needed=int(m["min_trades"]), looks=looks, alpha=float(m["alpha"]))


def assess(returns: np.ndarray, trades: dict[str, np.ndarray], market_returns: np.ndarray,
           *, trial_returns: np.ndarray, looks: int, look_sharpes: list[float],
           bars_per_year: float, cost_per_trade: float | np.ndarray, cfg: MonteCarloConfig,
           seed: int) -> dict[str, Any]:
    """The `walk_forward` metrics of step 14 for out-of-sample `returns` (per bar), its
    `trades` (entry, duration in bars, side, size, equity return), the asset's per-bar
    `market_returns` on the same bars and step 12's `trial_returns` (bars x trials, for the
    PBO). `looks` is K, the distinct settings seen on these bars (this one included), and
    `look_sharpes` the annualised out-of-sample Sharpes of the others (for the DSR).
    `distributions` (replicates, thinned) is for the report, not for the metrics."""
    from ares_cli.ml.stats.permutation import random_entry_pvalue, trade_shuffle_drawdowns
    from ares_cli.ml.stats.resampling import stationary_bootstrap_ci
    from ares_cli.ml.stats.sharpe_ratios import (  # scipy: imported when used
        deflated_sharpe,
        probabilistic_sharpe,
        sharpe_moments,
    )

    n_trades = int(trades["entry"].size)
    needed = min_trades_for(cfg, int(returns.size))
    out: dict[str, Any] = {"bars": int(returns.size), "trades": n_trades,
                           "min_trades": needed, "looks": int(looks),
                           "alpha": cfg.alpha, "bars_per_year": bars_per_year}
    traded = bool(np.std(returns) > 0)
    confidence = 1.0 - cfg.alpha
    if traded:
        boot = stationary_bootstrap_ci(
            returns, n_boot=cfg.n_boot, seed=seed, periods_per_year=bars_per_year,
            confidence=confidence, ruin_levels=(cfg.ruin_drawdown,))
        out.update(
            sharpe=float(boot.observed["sharpe"]),
            sharpe_ci=[float(v) for v in boot.interval["sharpe"]],
            sharpe_ci_level=confidence,
            max_drawdown=float(boot.observed["max_drawdown"]),
            max_drawdown_ci=[float(v) for v in boot.interval["max_drawdown"]],
            final_return=float(boot.observed["final_return"]),
            final_return_ci=[float(v) for v in boot.interval["final_return"]],
            p_loss=float(boot.prob_loss),
            risk_of_ruin=float(boot.risk_of_ruin[cfg.ruin_drawdown]),
            block_length=float(boot.block))
        out["distributions"] = {
            "sharpe": _thin(boot.replicates["sharpe"]),
            "max_drawdown": _thin(boot.replicates["max_drawdown"]),
        }
        m = sharpe_moments(returns)
        out["psr"] = float(probabilistic_sharpe(m.sr, 0.0, m.n, m.skew, m.kurt))
        # The DSR over the looks: this record against the best of K looks' Sharpes (per bar).
        others = np.asarray(look_sharpes, dtype=np.float64) / math.sqrt(bars_per_year)
        srs = np.append(others[np.isfinite(others)], m.sr)
        var = float(np.var(srs, ddof=1)) if srs.size > 1 else 0.0
        out["dsr"] = (out["psr"] if looks <= 1 else
                      float(deflated_sharpe(m.sr, m.n, m.skew, m.kurt, n_trials=max(looks, 2),
                                            var_trial_srs=var)))
        out["dsr_looks_sharpe_variance"] = var
    else:
        reason = "no out-of-sample trade: nothing to resample, no PSR or DSR"
        out.update(sharpe=0.0, sharpe_ci=None, sharpe_ci_level=confidence, max_drawdown=0.0,
                   max_drawdown_ci=None, final_return=0.0, final_return_ci=None, p_loss=None,
                   risk_of_ruin=None, psr=None, dsr=None, note=reason)
    if n_trades >= 2:
        shuffle = trade_shuffle_drawdowns(trades["equity_return"], n=cfg.n_shuffle,
                                          seed=seed)
        dd = np.asarray(shuffle.drawdowns)
        out["trade_shuffle"] = {"observed": float(shuffle.observed),
                                "median": float(np.median(dd)),
                                "p95": float(np.quantile(dd, 0.95)),
                                "prob_worse": float(shuffle.prob_worse)}
        # enough placements that K·p can fall below alpha well clear of Monte Carlo error
        n_perm = max(cfg.n_perm, math.ceil(20 * looks / cfg.alpha))
        perm = random_entry_pvalue(
            market_returns, trades["entry"], trades["duration"], trades["side"],
            trades["size"], statistic="sharpe", cost_per_trade=cost_per_trade,
            n_perm=n_perm, seed=seed)
        out["permutation_p"] = float(perm.p_value)
        out["permutation_p_adjusted"] = float(min(1.0, looks * perm.p_value))
        out["permutation_observed"] = float(perm.observed)
        out["permutation_statistic"] = "per-bar Sharpe of the trades' returns"
        out["permutation_placements"] = int(n_perm)
        out.setdefault("distributions", {})["permutation"] = _thin(perm.null)
    else:
        out["permutation_p"] = None
        out["permutation_p_adjusted"] = None
        out["permutation_note"] = f"{n_trades} trade(s): no placement to permute"
    pbo = _pbo(trial_returns, cfg.pbo_splits)
    out["pbo"] = pbo.pop("pbo")
    out["pbo_detail"] = pbo
    low = out["sharpe_ci"][0] if out["sharpe_ci"] is not None else None
    out["verdict"], out["verdict_reason"] = judge(
        permutation_p=out["permutation_p"], sharpe_low=low, trades=n_trades, needed=needed,
        looks=looks, alpha=cfg.alpha)
    return out


def describe(m: dict[str, Any]) -> str:
    """The verdict in words, e.g. "no edge out of sample (1 look at these bars): permutation p
    = 0.41, Sharpe 0.30 [-0.90, 1.40], ...; why"."""
    def fmt(v: Any, spec: str = ".3f") -> str:
        return "n/a" if v is None else format(v, spec)

    looks = m.get("looks", 1)
    head = (f"{m['verdict']} out of sample ({looks} look{'s' if looks != 1 else ''} at these "
            "test bars)")
    if m["verdict"] == "not tested":
        return f"{head}: {m['verdict_reason']}"
    ci = m.get("sharpe_ci")
    interval = f"[{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "(no interval)"
    return (f"{head}: permutation p = {fmt(m['permutation_p'])} (adjusted "
            f"{fmt(m.get('permutation_p_adjusted'))}), Sharpe {m['sharpe']:.2f} {interval} at "
            f"{m['sharpe_ci_level']:.0%}, {m['trades']} trades, P(loss) "
            f"{fmt(m['p_loss'], '.0%')}, PBO {fmt(m['pbo'], '.2f')}; {m['verdict_reason']}")
