"""Step 14's verdict on the walk-forward out-of-sample record: intervals, permutation test,
probabilistic and deflated Sharpe, probability of backtest overfitting.

Everything is measured on the stitched out-of-sample returns of step 13 (window
`walk_forward`), except the PBO, which needs every candidate's returns on the bars it was chosen
on: step 12's trials on the validation window. The verdict is "edge" only when the random-entry
permutation test rejects at `alpha` AND the deflated Sharpe ratio (the Sharpe net of every
configuration tried by steps 6, 12 and the walk-forward searches) reaches `dsr_level`;
otherwise "no edge", said plainly. Pure and I/O-free.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ares_cli.util.section import Field, Section

__all__ = ["MonteCarloConfig", "assess"]


class MonteCarloConfig(Section):
    """`[monte_carlo]`: replicate counts, the ruin level and the verdict's thresholds."""

    n_boot: int = Field(1000, ge=100)
    n_perm: int = Field(1000, ge=100)
    n_shuffle: int = Field(1000, ge=100)
    ruin_drawdown: float = Field(0.3, gt=0, lt=1)
    pbo_splits: int = Field(16, ge=2)
    alpha: float = Field(0.05, gt=0, lt=0.5)
    dsr_level: float = Field(0.95, gt=0.5, lt=1)


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


def assess(returns: np.ndarray, trades: dict[str, np.ndarray], market_returns: np.ndarray,
           *, trial_returns: np.ndarray, n_trials: int, bars_per_year: float,
           cost_per_trade: float, cfg: MonteCarloConfig, seed: int) -> dict[str, Any]:
    """The `walk_forward` metrics of step 14 for out-of-sample `returns` (per bar), its
    `trades` (entry, duration in bars, side, size, equity return), the asset's per-bar
    `market_returns` on the same bars, step 12's `trial_returns` (bars x trials) and the total
    number of configurations tried. `distributions` (replicates, thinned) is for the report,
    not for the metrics."""
    from ares_cli.ml.stats.permutation import random_entry_pvalue, trade_shuffle_drawdowns
    from ares_cli.ml.stats.resampling import stationary_bootstrap_ci
    from ares_cli.ml.stats.sharpe_ratios import (
        deflated_sharpe,
        expected_max_sharpe,
        probabilistic_sharpe,
        sharpe,
        sharpe_moments,
    )

    out: dict[str, Any] = {"bars": int(returns.size), "trades": int(trades["entry"].size),
                           "trials": int(n_trials), "bars_per_year": bars_per_year}
    traded = bool(np.std(returns) > 0)
    # the DSR's null: the spread of the per-bar Sharpe ratios of step 12's trials that traded
    trial_srs = np.array([sharpe(c) for c in trial_returns.T if np.std(c) > 0],
                         dtype=np.float64)
    var = float(np.var(trial_srs, ddof=1)) if trial_srs.size > 1 else 0.0
    if traded:
        boot = stationary_bootstrap_ci(
            returns, n_boot=cfg.n_boot, seed=seed, periods_per_year=bars_per_year,
            ruin_levels=(cfg.ruin_drawdown,))
        out.update(
            sharpe=float(boot.observed["sharpe"]),
            sharpe_ci95=[float(v) for v in boot.interval["sharpe"]],
            max_drawdown=float(boot.observed["max_drawdown"]),
            max_drawdown_ci95=[float(v) for v in boot.interval["max_drawdown"]],
            final_return=float(boot.observed["final_return"]),
            final_return_ci95=[float(v) for v in boot.interval["final_return"]],
            p_loss=float(boot.prob_loss),
            risk_of_ruin=float(boot.risk_of_ruin[cfg.ruin_drawdown]),
            block_length=float(boot.block))
        out["distributions"] = {
            "sharpe": _thin(boot.replicates["sharpe"]),
            "max_drawdown": _thin(boot.replicates["max_drawdown"]),
        }
        m = sharpe_moments(returns)
        out["psr"] = float(probabilistic_sharpe(m.sr, 0.0, m.n, m.skew, m.kurt))
        out["dsr"] = float(deflated_sharpe(m.sr, m.n, m.skew, m.kurt,
                                           n_trials=max(int(n_trials), 2),
                                           var_trial_srs=var))
        out["dsr_trial_sr_variance"] = var
    else:
        # A flat record: Sharpe 0 exactly, so PSR(0) = 1/2 and the DSR is the PSR of 0 against
        # the trials' expected maximum (normal moments: there are no others to estimate).
        sr0 = expected_max_sharpe(max(int(n_trials), 2), var)
        out.update(sharpe=0.0, sharpe_ci95=[0.0, 0.0], max_drawdown=0.0,
                   max_drawdown_ci95=[0.0, 0.0], final_return=0.0, final_return_ci95=[0.0, 0.0],
                   p_loss=0.0, risk_of_ruin=0.0, psr=0.5,
                   dsr=float(probabilistic_sharpe(0.0, sr0, returns.size)),
                   dsr_trial_sr_variance=var,
                   note="no out-of-sample trade: nothing to resample")
    if trades["entry"].size >= 2:
        shuffle = trade_shuffle_drawdowns(trades["equity_return"], n=cfg.n_shuffle,
                                          seed=seed)
        dd = np.asarray(shuffle.drawdowns)
        out["trade_shuffle"] = {"observed": float(shuffle.observed),
                                "median": float(np.median(dd)),
                                "p95": float(np.quantile(dd, 0.95)),
                                "prob_worse": float(shuffle.prob_worse)}
        perm = random_entry_pvalue(
            market_returns, trades["entry"], trades["duration"], trades["side"],
            trades["size"], statistic="total_log_return", cost_per_trade=cost_per_trade,
            n_perm=cfg.n_perm, seed=seed)
        out["permutation_p"] = float(perm.p_value)
        out["permutation_observed"] = float(perm.observed)
        out.setdefault("distributions", {})["permutation"] = _thin(perm.null)
    else:  # no (or one) trade: every random placement ties with the record
        out["permutation_p"] = 1.0 if trades["entry"].size == 0 else None
    out["pbo"] = None
    pbo = _pbo(trial_returns, cfg.pbo_splits)
    out["pbo"] = pbo.pop("pbo")
    out["pbo_detail"] = pbo
    edge = (out["permutation_p"] is not None and out["permutation_p"] < cfg.alpha
            and out.get("dsr") is not None and out["dsr"] >= cfg.dsr_level)
    out["verdict"] = "edge" if edge else "no edge"
    return out


def describe(m: dict[str, Any]) -> str:
    """The verdict in words, e.g. "no edge out of sample: permutation p = 0.41, deflated Sharpe
    0.12, Sharpe 0.30 [-0.9, 1.4]"."""
    def fmt(v: Any, spec: str = ".3f") -> str:
        return "n/a" if v is None else format(v, spec)

    lo, hi = m["sharpe_ci95"]
    text = (f"{m['verdict']} out of sample: permutation p = {fmt(m['permutation_p'])}, "
            f"deflated Sharpe {fmt(m.get('dsr'))} ({m['trials']} configurations tried), "
            f"Sharpe {m['sharpe']:.2f} [{lo:.2f}, {hi:.2f}], P(loss) {m['p_loss']:.0%}, "
            f"PBO {fmt(m['pbo'], '.2f')}")
    if m["trades"] < 2:
        text += f"; only {m['trades']} trade(s)"
    return text
