"""Step 15's challenger test on the test window (the holdout no search has seen).

The challenger is this run's walk-forward record on the test-window bars. Its opponents are
scored on exactly those bars with the same engine, fees and slippage: the *baselines*, which
need no model — buy-and-hold, a momentum rule (long while the close is above the close
`momentum_bars` bars earlier, else flat) and the regime rule (long in BULL, short in BEAR, flat
otherwise, on the causal step-2 labels: the models must add to the regimes) — and, when the
pair has one, the promoted *champion* bundle. For each opponent, a paired stationary block
bootstrap of the Sharpe difference gives an interval and a p-value (`sharpe_difference_test`).
The decision is `promote` only when the challenger beats every opponent: each interval lies
above zero and each p-value is below `alpha` (and, with `require_edge`, the verdict on the whole
walk-forward record, re-judged with the looks counted now, is "edge"); otherwise `keep`. The
shadow plan is the number of days of paper trading that would detect the observed differences
at `power`. Pure and I/O-free.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ares_cli.ml.trading.engine import Market, Orders, Rules, backtest
from ares_cli.util.section import Field, Section

__all__ = ["ABTestConfig", "compare", "momentum_returns", "regime_rule_returns"]


class ABTestConfig(Section):
    """`[ab_test]`: the test, the decision rule and the shadow plan."""

    n_boot: int = Field(2000, ge=100)
    alpha: float = Field(0.05, gt=0, lt=0.5)
    power: float = Field(0.8, gt=0.5, lt=1)
    momentum_bars: int = Field(24, ge=1)
    require_edge: bool = True  # promote only if step 14's verdict is also "edge"
    auto_promote: bool = False


def momentum_returns(market: Market, closes_before: np.ndarray, *, lookback: int, fee: float,
                     slippage: float, bars_per_year: float) -> np.ndarray:
    """Per-bar returns of "long while close > close `lookback` bars ago" on `market`.

    `closes_before` holds the base closes from `lookback` bars before the window up to its last
    bar, so the first decision already has its look-back (all before the decision)."""
    close = closes_before[lookback:]
    past = closes_before[:-lookback]
    side = (close > past).astype(np.int64)
    out = backtest(market, Orders.constant(side), Rules(fee=fee, slippage=slippage,
                                                          exit_on_flat=True),
                   bars_per_year=bars_per_year)
    return out.returns


def regime_rule_returns(market: Market, regimes: list[str | None], *, fee: float,
                        slippage: float, bars_per_year: float) -> np.ndarray:
    """Per-bar returns of "long in BULL, short in BEAR, flat otherwise" on `market`, from each
    bar's causal regime label (known at its close; the engine enters at the next bar)."""
    side = np.array([1 if r == "BULL" else -1 if r == "BEAR" else 0 for r in regimes],
                    dtype=np.int64)
    out = backtest(market, Orders.constant(side), Rules(fee=fee, slippage=slippage,
                                                          exit_on_flat=True),
                   bars_per_year=bars_per_year)
    return out.returns


def _against_flat(challenger: np.ndarray, cfg: ABTestConfig, scale: float) -> dict[str, Any]:
    """The challenger against a champion that never traded (Sharpe 0): the Sharpe estimate's
    own (Mertens) variance gives the interval, p-value and the per-bar variance for the plan."""
    from ares_cli.ml.stats.sharpe_ratios import sharpe_moments  # scipy: imported when used

    m = sharpe_moments(challenger)
    avar = float(1.0 - m.skew * m.sr + (m.kurt - 1.0) / 4.0 * m.sr ** 2)
    se = float(np.sqrt(avar / m.n))
    from scipy.special import ndtr, ndtri

    z = float(ndtri(1.0 - cfg.alpha / 2.0))
    p = float(2.0 * (1.0 - ndtr(abs(m.sr) / se)))
    low, high = m.sr - z * se, m.sr + z * se
    return {"sharpe_champion": 0.0, "sharpe_challenger": m.sr * scale,
            "sharpe_diff": m.sr * scale, "ci95": [low * scale, high * scale], "p_value": p,
            "beats": bool(low > 0 and p < cfg.alpha), "avar": avar, "diff_per_bar": m.sr,
            "note": "the champion never traded on these bars: the challenger against 0"}


def compare(challenger: np.ndarray, opponents: dict[str, np.ndarray], *, kinds: dict[str, str],
            bars_per_year: float, periods_per_day: float, cfg: ABTestConfig, seed: int,
            edge_verdict: str | None = None) -> dict[str, Any]:
    """The `test` metrics of step 15 (see the module docstring); `kinds` says which opponent
    is a "baseline" and which the "champion". With `cfg.require_edge`, a challenger whose
    walk-forward verdict (`edge_verdict`, re-judged with the looks now) is not "edge" is kept
    whatever this window says."""
    from ares_cli.ml.stats.comparisons import (  # scipy: imported when used
        shadow_days,
        sharpe_difference_test,
    )
    from ares_cli.ml.stats.sharpe_ratios import sharpe

    scale = float(np.sqrt(bars_per_year))
    per: dict[str, Any] = {}
    traded = bool(np.std(challenger) > 0)
    for name, champ in opponents.items():
        sr_champ = float(sharpe(champ)) if np.std(champ) > 0 else 0.0
        if traded and np.std(champ) == 0:  # a champion that never traded: the challenger vs 0
            per[name] = _against_flat(challenger, cfg, scale)
            continue
        if not traded:
            per[name] = {"sharpe_champion": sr_champ * scale, "sharpe_challenger": 0.0,
                         "sharpe_diff": -sr_champ * scale, "ci95": None, "p_value": None,
                         "beats": False, "note": "no interval and no p: the challenger never "
                                                 "traded on these bars"}
            continue
        test = sharpe_difference_test(challenger, champ, n_boot=cfg.n_boot, seed=seed,
                                      confidence=1.0 - cfg.alpha)
        beats = bool(test.low > 0 and test.boot_p < cfg.alpha)
        per[name] = {"sharpe_champion": float(test.sr_b) * scale,
                     "sharpe_challenger": float(test.sr_a) * scale,
                     "sharpe_diff": float(test.diff) * scale,
                     "ci95": [float(test.low) * scale, float(test.high) * scale],
                     "p_value": float(test.boot_p), "beats": beats,
                     "avar": float(test.avar), "diff_per_bar": float(test.diff)}
    for name in per:
        per[name]["kind"] = kinds[name]
    strongest = max(per, key=lambda k: per[k]["sharpe_champion"])
    best = per[strongest]
    beats_all = all(v["beats"] for v in per.values())
    decision = "promote" if beats_all else "keep"
    held_back = None
    if beats_all and cfg.require_edge and edge_verdict != "edge":
        decision = "keep"
        held_back = (f"the challenger beats every opponent on the test window, but the "
                     f"walk-forward verdict is {edge_verdict!r} (ab_test.require_edge)")
    # Promotion needs every champion beaten, so the plan is the longest of the per-champion
    # plans (None when any difference is not positive: nothing to confirm).
    days, days_against = None, None
    needed = {}
    for name, v in per.items():
        if v.get("diff_per_bar") is None or v["diff_per_bar"] <= 0:
            needed = {}
            break
        needed[name] = float(shadow_days(v["diff_per_bar"], v["avar"],
                                         periods_per_day=periods_per_day,
                                         alpha=cfg.alpha, power=cfg.power))
    if needed:
        days_against = max(needed, key=lambda k: needed[k])
        days = needed[days_against] if np.isfinite(needed[days_against]) else None
    return {"decision": decision, "strongest": strongest, "strongest_kind": kinds[strongest],
            "edge_verdict": edge_verdict, "sharpe_diff": best["sharpe_diff"],
            "ci95": best["ci95"], "p_value": best["p_value"], "shadow_days": days,
            "shadow_days_against": days_against, "confidence": 1.0 - cfg.alpha,
            "per_opponent": per, "bars": int(challenger.size), "alpha": cfg.alpha,
            "power": cfg.power, "held_back": held_back,
            "rule": "promote only if every baseline and the champion are beaten (interval above "
                    "0 and p < alpha)" + (" and the walk-forward verdict is edge"
                                          if cfg.require_edge else "")}


def describe(m: dict[str, Any]) -> str:
    """The decision in words, against the strongest opponent (a baseline or the champion)."""
    best = m["per_opponent"][m["strongest"]]
    ci = m["ci95"]
    interval = (f" [{ci[0]:+.2f}, {ci[1]:+.2f}]" if ci else
                f" (no interval: {best.get('note', 'not computed')})")
    p = "n/a" if m["p_value"] is None else f"{m['p_value']:.3f}"
    keep = "keep the champion" if "champion" in m["per_opponent"] else "keep the baselines"
    verb = "promote the challenger" if m["decision"] == "promote" else keep
    text = (f"{verb}: against the strongest {m['strongest_kind']} ({m['strongest']}) the "
            f"annualised Sharpe difference is {m['sharpe_diff']:+.2f}{interval}, p = {p} on "
            f"{m['bars']} test bars")
    if m["shadow_days"] is not None:
        text += (f"; {m['shadow_days']:.0f} days of shadow trading would confirm it against "
                 f"every opponent ({m['shadow_days_against']} sets it)")
    if m.get("held_back"):
        text += f"; kept because {m['held_back']}"
    return text
