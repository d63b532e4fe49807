"""The model and validation plots of step 16's report: calibration, optimisation trials, Monte
Carlo, the A/B test against the baselines and the champion, and the feature contributions by
regime. Each returns (svg, caption HTML) or raises `Unavailable` with the reason in plain words.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ares_cli.report.formatting import as_mapping, as_seq, esc, fmt_num, to_float
from ares_cli.report.plot_common import (
    REGIME_COLORS,
    Unavailable,
    axes_note,
    figure,
    floats,
    regime_color,
    section_window,
    short,
    svg,
    window_label,
)

if TYPE_CHECKING:
    import numpy as np

__all__ = ["plot_ab_test", "plot_contributions", "plot_monte_carlo", "plot_pareto",
           "plot_reliability"]


def plot_reliability(data: Mapping[str, Any]) -> tuple[str, str]:
    """Reliability diagrams (predicted probability against observed frequency) of each model
    before and after calibration, with the diagonal a perfectly calibrated model would follow."""
    import numpy as np

    rel = as_mapping(data.get("reliability"))
    # a model named but None gets a "not available" panel: it was expected and is missing
    models = [k for k, v in rel.items() if (v is None or isinstance(v, Mapping)) and k != "window"]
    curves: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    for model in models:
        for stage in ("before", "after"):
            c = as_mapping(as_mapping(rel[model]).get(stage))
            x, y = floats(c.get("predicted")), floats(c.get("observed"))
            m = min(x.size, y.size)
            x, y = x[:m], y[:m]
            ok = np.isfinite(x) & np.isfinite(y)
            if ok.any():
                curves.setdefault(model, {})[stage] = (x[ok], y[ok])
    if not curves:
        raise Unavailable("no calibration curves")
    fig = figure(min(11.0, 0.6 + 4.6 * len(models)), 4.6)
    axes = np.atleast_1d(fig.subplots(1, len(models)))
    for ax, model in zip(axes, models, strict=True):
        ax.set_title(short(model), loc="left")
        if model not in curves:
            axes_note(ax, "not available")
            continue
        lo, hi = 0.0, 1.0
        for x, y in curves[model].values():
            lo, hi = min(lo, x.min(), y.min()), max(hi, x.max(), y.max())
        ax.plot([lo, hi], [lo, hi], color="#555555", linestyle="--", linewidth=1,
                label="perfect calibration")
        style = {"before": dict(color="#aaaaaa", marker="o", linestyle="-", label="before"),
                 "after": dict(color="#1f5fa8", marker="s", linestyle="-",
                               label="after calibration")}
        for stage, (x, y) in curves[model].items():
            ax.plot(x, y, markersize=4, linewidth=1.4, **style[stage])
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_aspect("equal")
        ax.set_xlabel("predicted probability")
        ax.set_ylabel("observed frequency")
        ax.legend(loc="upper left")
    window = section_window(rel, window_label(data, "validation"))
    names = ", ".join(esc(m) for m in models)
    caption = (f"Reliability of the model probabilities ({names}) before and after calibration, "
               f"measured on {window}: the closer to the dashed diagonal, the more a predicted "
               f"probability can be taken at its word.")
    return svg(fig, "reliability"), caption


def plot_pareto(data: Mapping[str, Any]) -> tuple[str, str]:
    """Every optimisation trial as Sharpe against max drawdown: infeasible, feasible, the
    Pareto front, and the configuration chosen."""
    import numpy as np

    pareto = as_mapping(data.get("pareto"))
    trials = [as_mapping(t) for t in as_seq(pareto.get("trials"))]
    x = np.array([to_float(t.get("max_drawdown")) for t in trials])
    y = np.array([to_float(t.get("sharpe")) for t in trials])
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        raise Unavailable("no optimisation trials")
    feasible = np.array([bool(t.get("feasible")) for t in trials])
    front = np.array([bool(t.get("on_front")) for t in trials])
    chosen = np.array([bool(t.get("chosen")) for t in trials])

    fig = figure(9, 5)
    ax = fig.subplots()
    groups = [
        (ok & ~feasible, dict(marker="x", color="#b0b0b0", s=22, label="infeasible")),
        (ok & feasible & ~front, dict(marker="o", color="#8fb3de", s=22, label="other feasible")),
        (ok & front, dict(marker="o", color="#e07b00", s=40, label="Pareto front",
                          edgecolors="#7a4300", linewidths=0.6)),
        (ok & chosen, dict(marker="*", color="#d62728", s=260, label="chosen",
                           edgecolors="#1b1b1b", linewidths=0.8, zorder=5)),
    ]
    for mask, style in groups:
        if mask.any():
            style["label"] = f"{style['label']} ({int(mask.sum())})"
            ax.scatter(x[mask], y[mask], **style)
    if (ok & front).sum() > 1:
        order = np.argsort(x[ok & front], kind="stable")
        ax.plot(x[ok & front][order], y[ok & front][order], color="#e07b00", linewidth=1,
                alpha=0.7)
    ax.set_xlabel("max drawdown")
    ax.set_ylabel("Sharpe ratio")
    ax.set_title("Optimisation trials", loc="left")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
    window = section_window(pareto, window_label(data, "validation"))
    caption = (f"Sharpe ratio against max drawdown of the {int(ok.sum())} optimisation trials, "
               f"measured on {window}. These are the values the search selected on, so they "
               f"are optimistic: the out-of-sample record is the equity plot above.")
    return svg(fig, "pareto"), caption


_MC_PANELS = (  # (key, title, values key, x axis with its unit)
    ("sharpe", "Sharpe ratio (bootstrap)", "replicates", "annualised Sharpe ratio"),
    ("max_drawdown", "max drawdown (bootstrap)", "replicates",
     "max drawdown (fraction of peak equity)"),
    ("permutation", "permutation test (null)", "null",
     "annualised Sharpe of the trades at random times"),
)


def plot_monte_carlo(data: Mapping[str, Any]) -> tuple[str, str]:
    """Histograms of the bootstrap replicates (Sharpe, max drawdown) and of the permutation
    test's null, each with the observed value marked."""
    import numpy as np

    mc = as_mapping(data.get("monte_carlo"))
    panels = []
    for key, title, values_key, unit in _MC_PANELS:
        part = as_mapping(mc.get(key))
        values = floats(part.get(values_key))
        panels.append((key, title, values[np.isfinite(values)],
                       to_float(part.get("observed")), unit))
    if not any(v.size for _, _, v, _, _ in panels):
        raise Unavailable("no Monte Carlo replicates")
    fig = figure(11, 3.8)
    axes = fig.subplots(1, len(panels))
    missing = []
    for ax, (key, title, values, observed, unit) in zip(axes, panels, strict=True):
        # the observed value goes in the title, not a legend that could cover the bars
        ax.set_title(title + (f"\nobserved {fmt_num(observed)} (red line)"
                              if math.isfinite(observed) else ""), loc="left")
        if not values.size:
            axes_note(ax, "not available")
            missing.append(key.replace("_", " "))
            continue
        bins = int(min(40, max(10, math.sqrt(values.size))))
        ax.hist(values, bins=bins, color="#8fb3de", edgecolor="#5b86b8", linewidth=0.5)
        if math.isfinite(observed):
            ax.axvline(observed, color="#d62728", linewidth=2)
        ax.set_ylabel(f"count of {values.size:,} draws")
        ax.set_xlabel(unit)
    window = section_window(mc, "the out-of-sample walk-forward record")
    caption = (f"Distributions from resampling, measured on {window}: bootstrap replicates of "
               f"the Sharpe ratio and max drawdown, and the permutation test's null; the red "
               f"line is the observed value.")
    if missing:
        caption += f" Not available: {esc(', '.join(missing))}."
    return svg(fig, "monte_carlo"), caption


def plot_ab_test(data: Mapping[str, Any]) -> tuple[str, str]:
    """The challenger's Sharpe difference against each opponent: the point estimate, its
    interval, and the zero line it must clear."""
    ab = as_mapping(data.get("ab_test"))
    champions = {k: as_mapping(v) for k, v in as_mapping(ab.get("champions")).items()}
    if not champions:
        raise Unavailable("no baseline or champion compared")
    names = list(champions)
    fig = figure(9, 1.4 + 0.75 * len(names))
    ax = fig.subplots()
    ax.axvline(0, color="#1b1b1b", linewidth=1.2)
    drawn = 0
    for row, name in enumerate(names):
        diff = to_float(champions[name].get("diff"))
        ci = as_seq(champions[name].get("ci"))
        lo, hi = (to_float(ci[0]), to_float(ci[1])) if len(ci) == 2 else (math.nan, math.nan)
        if math.isfinite(lo) and math.isfinite(hi):
            ax.plot([lo, hi], [row, row], color="#1f5fa8", linewidth=3, alpha=0.5,
                    solid_capstyle="butt")
            ax.plot([lo, hi], [row, row], color="#1f5fa8", marker="|", markersize=14,
                    linestyle="none")
            drawn += 1
        if math.isfinite(diff):
            ax.plot([diff], [row], marker="o", color="#1f5fa8", markersize=8)
            interval = (f"[{fmt_num(lo)}, {fmt_num(hi)}]" if math.isfinite(lo + hi)
                        else "(no interval)")
            text = f"{fmt_num(diff)}  {interval}"
            ax.annotate(text, (diff, row), xytext=(0, 9), textcoords="offset points",
                        ha="center", va="bottom", fontsize=9,
                        bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none"})
            drawn += 1
        else:
            ax.annotate("n/a", (0, row), xytext=(6, 0), textcoords="offset points",
                        va="center", fontsize=9, color="#8a5a00")
    if not drawn:
        raise Unavailable("no Sharpe differences")
    ax.set_yticks(range(len(names)), [f"vs {short(n)}" for n in names])
    ax.set_ylim(len(names) - 0.4, -0.6)
    ax.grid(axis="y", visible=False)
    ax.margins(x=0.15)
    ax.set_xlabel("Sharpe difference, challenger minus opponent (right of zero: challenger "
                  "better)")
    decision = ab.get("decision")
    ax.set_title(f"Decision: {short(decision) if decision else 'n/a'}", loc="left")
    window = section_window(ab, window_label(data, "test"))
    caption = (f"Sharpe difference of the challenger against each baseline (and the champion, "
               f"when the pair has one) with its interval, "
               f"measured on {window}; an interval wholly right of the zero line means the "
               f"challenger beat that opponent. Decision: "
               f"<strong>{esc(decision) if decision else 'n/a'}</strong>.")
    return svg(fig, "ab_test"), caption


def plot_contributions(data: Mapping[str, Any]) -> tuple[str, str]:
    """Per regime, the ten features with the largest mean |SHAP| as horizontal bars."""
    import numpy as np

    contrib = as_mapping(data.get("contributions"))
    regimes: dict[str, list[tuple[str, float]]] = {}
    for regime, values in contrib.items():
        if regime == "window" or not isinstance(values, Mapping):
            continue
        pairs = [(str(k), to_float(v)) for k, v in values.items()]
        pairs = [(k, v) for k, v in pairs if math.isfinite(v)]
        regimes[str(regime)] = sorted(pairs, key=lambda kv: (-abs(kv[1]), kv[0]))[:10]
    if not any(regimes.values()):
        raise Unavailable("no feature contributions")
    order = [r for r in REGIME_COLORS if r in regimes] + sorted(set(regimes) - set(REGIME_COLORS))
    ncols = 2 if len(order) > 1 else 1
    nrows = math.ceil(len(order) / ncols)
    fig = figure(11, 0.4 + 3.3 * nrows)
    axes = np.atleast_1d(fig.subplots(nrows, ncols)).ravel()
    others: dict[str, str] = {}
    for ax, regime in zip(axes, order, strict=False):
        ax.set_title(short(regime), loc="left", color=regime_color(regime, others),
                     fontweight="bold")
        pairs = regimes[regime]
        if not pairs:
            axes_note(ax, "not available")
            continue
        labels = [short(k) for k, _ in pairs]
        values = [v for _, v in pairs]
        ax.barh(range(len(pairs)), values, color=regime_color(regime, others), alpha=0.8)
        ax.set_yticks(range(len(pairs)), labels)
        ax.set_ylim(len(pairs) - 0.5, -0.5)  # largest at the top
        ax.grid(axis="y", visible=False)
        ax.set_xlabel("mean |SHAP| (log-odds)")
    for ax in axes[len(order):]:
        ax.set_visible(False)
    window = section_window(contrib, window_label(data, "validation"))
    caption = (f"What drives the analyst: the ten features with the largest mean absolute SHAP "
               f"contribution in each regime, measured on {window}.")
    return svg(fig, "contributions"), caption

