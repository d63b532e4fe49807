"""The market plots of step 16's report: the price with its regimes and windows, and the
out-of-sample equity with its drawdown. Each returns (svg, caption HTML) or raises
`Unavailable` with the reason in plain words.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ares_cli.report.formatting import as_mapping, as_seq, esc, fmt_num, span
from ares_cli.report.plot_common import (
    REGIME_COLORS,
    WINDOW_COLORS,
    date_axis,
    date_nums,
    figure,
    floats,
    label_runs,
    regime_color,
    section_window,
    short,
    svg,
    thin,
    time_series,
)

if TYPE_CHECKING:
    import numpy as np

__all__ = ["plot_equity", "plot_price"]


def plot_price(data: Mapping[str, Any]) -> tuple[str, str]:
    """Close price of the base bars with regimes as shaded background spans, and the train,
    validation and test windows as bars above it with dashed boundaries on the price."""
    import numpy as np
    from matplotlib.collections import PolyCollection
    from matplotlib.patches import Patch

    price = as_mapping(data.get("price"))
    t, close, ok = time_series(price, "close", "price bars")
    n = close.size
    # a regime is a non-empty string; anything else (None, NaN) is "no regime yet"
    regimes = [r if isinstance(r, str) and r else None for r in as_seq(price.get("regime"))][:n]
    windows = {k: as_seq(v) for k, v in as_mapping(data.get("windows")).items()}
    windows = {k: (date_nums([v[0]])[0], date_nums([v[1]])[0]) for k, v in windows.items()
               if len(v) == 2}
    windows = {k: v for k, v in windows.items() if np.isfinite(v).all()}

    fig = figure(11, 5.2 if windows else 4.6)
    if windows:
        top, ax = fig.subplots(2, 1, sharex=True, height_ratios=[0.3 + 0.25 * len(windows), 6])
        names = [k for k in WINDOW_COLORS if k in windows] + [k for k in windows
                                                              if k not in WINDOW_COLORS]
        for row, name in enumerate(names):
            lo, hi = windows[name]
            top.barh(row, hi - lo, left=lo, height=0.7,
                     color=WINDOW_COLORS.get(name, "#999999"))
        top.set_yticks(range(len(names)), [short(k) for k in names])
        top.invert_yaxis()
        top.grid(False)
        top.tick_params(axis="x", labelbottom=False, length=0)
        top.set_title("Windows and price", loc="left")
    else:
        ax = fig.subplots()
        ax.set_title("Price", loc="left")

    ax.plot(*thin(t[ok], close[ok]), color="#1b1b1b", linewidth=0.9, label="close")
    others: dict[str, str] = {}
    handles = []
    if len(regimes) == n and n > 1:
        step = np.append(t[1:], t[-1])  # a bar's span ends where the next bar starts
        spans: dict[str, list[list[tuple[float, float]]]] = {}
        for lo, hi, regime in label_runs(regimes):
            x0, x1 = t[lo], step[hi - 1]
            if np.isfinite(x0) and np.isfinite(x1):
                spans.setdefault(regime, []).append([(x0, 0), (x1, 0), (x1, 1), (x0, 1)])
        ordered = [r for r in REGIME_COLORS if r in spans] + sorted(set(spans) - set(REGIME_COLORS))
        for regime in ordered:
            color = regime_color(regime, others)
            ax.add_collection(PolyCollection(spans[regime], facecolors=color, alpha=0.14,
                                             edgecolors="none",
                                             transform=ax.get_xaxis_transform()),
                              autolim=False)
            handles.append(Patch(facecolor=color, alpha=0.35, label=short(regime)))
    for name, (lo, hi) in windows.items():
        for x in (lo, hi):
            ax.axvline(x, color=WINDOW_COLORS.get(name, "#999999"), linestyle="--", linewidth=1)
    ax.set_ylabel("close")
    ax.margins(x=0.01)
    date_axis(ax)
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 6),
                   title="regime (shaded background)", title_fontsize=9)

    times = as_seq(price.get("time"))
    caption = (f"Close price of the base bars over the whole history, "
               f"{span(times[0], times[n - 1])}")
    caption += (", shaded by regime" if handles else ", no regime labels")
    caption += ("; the train, validation and test windows are marked above the price and by "
                "dashed lines." if windows else "; windows not available.")
    return svg(fig, "price"), caption


def _drawdown(equity: np.ndarray) -> np.ndarray:
    """Drawdown from the running peak, as a fraction (0 at a new high, -0.25 a quarter down)."""
    import numpy as np

    peak = np.fmax.accumulate(np.where(np.isfinite(equity), equity, -np.inf))
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = np.where((peak > 0) & np.isfinite(equity), equity / peak - 1.0, np.nan)
    return dd


def plot_equity(data: Mapping[str, Any]) -> tuple[str, str]:
    """Out-of-sample equity against buy-and-hold, fold boundaries marked, and the drawdown of
    both below (computed here from the equity curves, so it always matches them)."""
    import numpy as np

    eq_data = as_mapping(data.get("equity"))
    t, equity, ok = time_series(eq_data, "equity", "points of out-of-sample equity")
    n = equity.size
    bench = floats(eq_data.get("benchmark"))[:n]
    has_bench = bench.size == n and bool(np.isfinite(bench).any())

    fig = figure(11, 5.6)
    ax, dd_ax = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1.3])
    ax.plot(*thin(t[ok], equity[ok]), color="#1f5fa8", linewidth=1.3,
            label="strategy (walk-forward)")
    dd = _drawdown(equity)
    dd_ax.fill_between(*thin(t[ok], 100 * dd[ok]), 0, color="#1f5fa8", alpha=0.35, linewidth=0)
    if has_bench:
        bok = np.isfinite(t) & np.isfinite(bench)
        ax.plot(*thin(t[bok], bench[bok]), color="#888888", linewidth=1.0, label="buy and hold")
        dd_ax.plot(*thin(t[bok], 100 * _drawdown(bench)[bok]), color="#888888", linewidth=0.9)
    folds = [as_mapping(f) for f in as_seq(eq_data.get("folds"))]
    bounds = []
    for i, fold in enumerate(folds):
        start = date_nums([fold.get("start")])[0]
        if np.isfinite(start):
            bounds.append((start, fold.get("fold", i + 1)))
    if folds:
        end = date_nums([folds[-1].get("end")])[0]
        if np.isfinite(end):
            ax.axvline(end, color="#555555", linestyle=":", linewidth=1)
            dd_ax.axvline(end, color="#555555", linestyle=":", linewidth=1)
    every = max(1, math.ceil(len(bounds) / 12))  # at most a dozen labels: they stay legible
    for k, (x, label) in enumerate(bounds):
        for a in (ax, dd_ax):
            a.axvline(x, color="#555555", linestyle=":", linewidth=1)
        if k % every == 0:
            ax.text(x, 1.0, f" fold {short(label)}", transform=ax.get_xaxis_transform(),
                    va="top", ha="left", fontsize=8, color="#333333")
    ax.set_title("Out-of-sample equity", loc="left")
    ax.set_ylabel("equity")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=2)
    dd_ax.set_ylabel("drawdown %")
    ax.margins(x=0.01)
    date_axis(dd_ax)

    max_dd = np.nanmin(dd) if np.isfinite(dd).any() else math.nan
    times = as_seq(eq_data.get("time"))
    window = section_window(eq_data, f"the out-of-sample walk-forward record, "
                                     f"{span(times[0], times[n - 1])}")
    deepest = f", deepest {esc(fmt_num(100 * max_dd))}%" if math.isfinite(max_dd) else ""
    caption = (f"Equity of the strategy out of sample (blue) and of buy-and-hold on the same bars "
               f"(grey) at the top, their drawdowns below (the strategy's shaded{deepest}), "
               f"measured on {window}; ")
    caption += (f"dotted lines are the boundaries of the {len(folds)} walk-forward folds."
                if folds else "fold boundaries not available.")
    if not has_bench:
        caption += " Buy-and-hold not available."
    return svg(fig, "equity"), caption

