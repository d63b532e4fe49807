"""Step 16's report: one self-contained HTML page that says, first and in plain words, whether
the run found an edge, then shows the evidence as plots and tables.

The page opens with no network: every plot is matplotlib's SVG embedded inline (text stays
text, so it can be selected, searched and copied), the only script is a few lines inline, and a
Content-Security-Policy `<meta>` forbids every other script and every external resource, so a
mistake (or an injected string) cannot reach out or run. Every string that comes from `data`
is escaped with `html.escape` before it is written; strings drawn inside a plot are escaped by
matplotlib's SVG writer, with mathtext switched off so a `$` in a feature name is just a
dollar sign. The same `data` gives the same bytes (fixed SVG hash salt, no dates in SVG
metadata, matplotlib's built-in defaults rather than any local matplotlibrc), so two reports
can be compared with `diff`.

Any section of `data` may be missing or None (its step produced nothing): that section then
says "not available" and why, and the rest of the page is unaffected. matplotlib and numpy are
imported inside the functions that draw, so `import ares_cli` stays light.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import math
import numbers
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["PLOTS", "fmt_num", "render_report"]

# One figure per name, in page order; each is `<figure id="plot-NAME">`.
PLOTS = ("price", "equity", "reliability", "pareto", "monte_carlo", "ab_test", "contributions")

REGIME_COLORS = {"BULL": "#2ca02c", "BEAR": "#d62728", "SIDEWAYS": "#7f7f7f",
                 "VOLATILE": "#9467bd"}
_OTHER_COLORS = ("#8c564b", "#e377c2", "#bcbd22", "#17becf")
WINDOW_COLORS = {"train": "#4c72b0", "validation": "#dd8452", "test": "#55a868"}
_MAX_LABEL = 40  # characters of a feature or champion name drawn inside a plot

# matplotlib settings for every plot: SVG text as <text> (selectable), fixed ids, no mathtext,
# DejaVu Sans first because it ships with matplotlib (same layout on every machine).
_RC: dict[str, Any] = {
    "svg.fonttype": "none",
    "svg.hashsalt": "ares-report",
    "text.parse_math": False,
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "path.simplify": True,
}

_CSS = """
:root { color-scheme: light; }
body { font: 15px/1.5 "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: #1b1b1b;
       background: #fafafa; margin: 0; }
main { max-width: 1180px; margin: 0 auto; padding: 16px 24px 48px; }
.verdict { border: 2px solid #888; border-radius: 8px; padding: 12px 20px; background: #fff; }
.verdict.edge-yes { border-color: #2ca02c; background: #f1faf1; }
.verdict.edge-no { border-color: #d62728; background: #fdf3f3; }
.verdict h1 { font-size: 26px; margin: 4px 0 8px; }
.verdict .edge { font-size: 18px; font-weight: bold; margin: 0 0 6px; }
.context { color: #555; font-size: 13px; margin: 0; }
nav { margin: 14px 0; font-size: 13px; }
nav a { margin-right: 12px; color: #2b5c9e; }
section { margin-top: 28px; }
h2 { font-size: 20px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
figure { margin: 8px 0 18px; background: #fff; border: 1px solid #e3e3e3; padding: 8px; }
figure > svg { display: block; width: 100%; height: auto; }
figcaption { font-size: 13px; color: #444; margin-top: 6px; }
.na { color: #8a5a00; background: #fff8e6; border-left: 4px solid #e0a800; padding: 6px 10px; }
table { border-collapse: collapse; margin: 8px 0 18px; background: #fff; min-width: 360px; }
caption { text-align: left; font-weight: bold; padding: 4px 0; }
caption .window { font-weight: normal; color: #555; }
td, th { border: 1px solid #ddd; padding: 4px 10px; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
"""

# Counts the figures that reached the DOM with their SVG: `--dump-dom` and the browser test
# read `data-plots`, so a plot lost by the HTML parser is seen, not just a missing picture.
_CHECK_SCRIPT = (
    "(function () {{\n"
    "  var ids = {ids};\n"
    "  var found = 0, missing = [];\n"
    "  ids.forEach(function (id) {{\n"
    "    var fig = document.getElementById(id);\n"
    "    if (fig && fig.querySelector('svg')) {{ found += 1; }} else {{ missing.push(id); }}\n"
    "  }});\n"
    "  document.body.dataset.plots = String(found);\n"
    "  document.body.dataset.plotsExpected = String(ids.length);\n"
    "  document.body.dataset.plotsMissing = missing.join(' ');\n"
    "}}());\n"
)


class _Unavailable(Exception):
    """Raised by a plot when its data is missing or empty; the message says what is missing."""


# ------------------------------------------------------------------ formatting and escaping


def _e(value: Any) -> str:
    """`value` as HTML-escaped text (quotes too, so it is safe inside attributes)."""
    return html.escape(str(value), quote=True)


def fmt_num(value: Any) -> str:
    """A number as a person reads it: None or NaN -> "n/a", ints with thousands separators,
    floats with about four significant digits, exponent only for the very large or small.
    Anything that is not a number comes back as its string (unescaped: the caller escapes)."""
    if value is None:
        return "n/a"
    if type(value).__name__ in ("bool", "bool_"):  # Python's and numpy's
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(x):
        return "n/a"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"
    ax = abs(x)
    if ax >= 1e9 or ax < 1e-4:
        return f"{x:.3e}"
    if ax >= 1000:
        return f"{x:,.2f}"
    return f"{x:.4g}"


def _parse_time(value: Any) -> datetime | None:
    """An ISO timestamp as a naive UTC datetime (matplotlib's dates are UTC), or None."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str) and value:
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt


def _fmt_time(value: Any) -> str:
    """A timestamp for a caption, escaped: "2024-03-01 12:00 UTC", or the raw text if it is no
    ISO timestamp, or "n/a"."""
    dt = _parse_time(value)
    if dt is None:
        return "n/a" if value in (None, "") else _e(value)
    if dt.hour == dt.minute == dt.second == 0:
        return dt.strftime("%Y-%m-%d")
    return dt.strftime("%Y-%m-%d %H:%M") + " UTC"


def _span(start: Any, end: Any) -> str:
    """"START to END", both escaped."""
    return f"{_fmt_time(start)} to {_fmt_time(end)}"


def _short(label: Any) -> str:
    """A name short enough to draw in a plot (matplotlib escapes it for SVG)."""
    text = str(label)
    return text if len(text) <= _MAX_LABEL else text[: _MAX_LABEL - 1] + "…"


def _mapping(value: Any) -> Mapping[str, Any]:
    """`value` if it is a mapping, else an empty one: absent or malformed sections read alike."""
    return value if isinstance(value, Mapping) else {}


def _seq(value: Any) -> Sequence[Any]:
    """`value` as a sequence (a list, tuple or array), else empty."""
    if value is None or isinstance(value, str | bytes | Mapping):
        return []
    try:
        return list(value)
    except TypeError:
        return []


def _to_float(value: Any) -> float:
    """`value` as a float, NaN when it is None or no number."""
    if value is None or isinstance(value, str):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _floats(value: Any) -> np.ndarray:
    """A float array (None and junk as NaN)."""
    import numpy as np

    return np.array([_to_float(v) for v in _seq(value)], dtype=np.float64)


def _time_series(section: Mapping[str, Any], key: str,
                 what: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(date numbers, values of `key`, which points are usable) of a section with a "time"
    list, both cut to the shorter; `_Unavailable` naming `what` with fewer than two points."""
    import numpy as np

    t, values = _date_nums(section.get("time")), _floats(section.get(key))
    n = min(t.size, values.size)
    t, values = t[:n], values[:n]
    ok = np.isfinite(t) & np.isfinite(values)
    if ok.sum() < 2:
        raise _Unavailable(f"fewer than two {what}")
    return t, values, ok


def _date_nums(value: Any) -> np.ndarray:
    """ISO timestamps as matplotlib date numbers (days since its epoch; NaN where unparseable),
    converted in one vectorised step: per-value `date2num` costs seconds on 100,000 bars."""
    import numpy as np
    from matplotlib.dates import get_epoch

    parsed = [_parse_time(v) for v in _seq(value)]
    stamps = np.array([np.datetime64(d, "us") if d is not None else np.datetime64("NaT", "us")
                       for d in parsed], dtype="datetime64[us]")
    return (stamps - np.datetime64(get_epoch(), "us")) / np.timedelta64(1, "D")


def _window_label(data: Mapping[str, Any], name: str) -> str:
    """"the NAME window (START to END)" with dates when `data["windows"]` has them; escaped."""
    bounds = _seq(_mapping(data.get("windows")).get(name))
    if len(bounds) == 2:
        return f"the {_e(name)} window ({_span(bounds[0], bounds[1])})"
    return f"the {_e(name)} window"


def _section_window(section: Mapping[str, Any], default: str) -> str:
    """The window a section was measured on: its own `"window"` text when given (escaped
    here), else `default` (already escaped)."""
    window = section.get("window")
    return _e(window) if isinstance(window, str) and window else default


# ------------------------------------------------------------------ matplotlib plumbing


def _figure(width: float, height: float) -> Figure:
    """A new figure with constrained layout; not registered with pyplot, so nothing leaks."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


_SVG_ID = re.compile(r'(\sid=")([\w.-]+")')
_SVG_REF = re.compile(r'((?:href="|url\()#)([\w.-]+)')
_SVG_TAG = re.compile(r"<[^<>]+>")


def _svg(fig: Figure, name: str) -> str:
    """`fig` as an SVG element for inline use: no XML prolog, DOCTYPE, namespace declarations,
    metadata or comments, and every id prefixed with the plot's name so several SVGs can share
    one page."""
    import matplotlib

    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": f"ares-report-{name}"}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = buf.getvalue().decode("utf-8")
    text = text[text.index("<svg"):]
    # inline in HTML the parser puts <svg> in the SVG namespace and `xlink:href` in XLink's
    # by itself: the declarations are noise, and without them no "http://" is left on the page
    text = re.sub(r'\s+xmlns(?::xlink)?="[^"]*"', "", text, count=2)
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    # user text is escaped by matplotlib (`<` as &lt;), so every `<!--` and `<...>` is its own
    text = re.sub(r"<!--.*?-->\s*", "", text, flags=re.S)
    prefix = f"{name}-"

    def _tag(match: re.Match[str]) -> str:
        tag = _SVG_ID.sub(lambda m: m.group(1) + prefix + m.group(2), match.group(0))
        return _SVG_REF.sub(lambda m: m.group(1) + prefix + m.group(2), tag)

    return _SVG_TAG.sub(_tag, text).strip()


def _thin(x: np.ndarray, y: np.ndarray, buckets: int = 800) -> tuple[np.ndarray, np.ndarray]:
    """At most about 2 * `buckets` points of a long series (finite values only): the lowest and
    the highest of each run of consecutive points, in order, plus both ends. A plot ~1,100
    pixels wide shows no more, every peak and trough survives (a drawdown's depth, a price
    spike), and the SVG of 100,000 bars stays a few hundred kB instead of megabytes."""
    import numpy as np

    n = y.size
    if n <= 2 * buckets:
        return x, y
    size = math.ceil(n / buckets)
    padded = np.concatenate([y, np.full(buckets * size - n, np.nan)]).reshape(buckets, size)
    rows = np.flatnonzero(np.isfinite(padded).any(axis=1))
    low = np.where(np.isfinite(padded), padded, np.inf)[rows].argmin(axis=1)
    high = np.where(np.isfinite(padded), padded, -np.inf)[rows].argmax(axis=1)
    keep = np.unique(np.concatenate([rows * size + low, rows * size + high, [0, n - 1]]))
    return x[keep], y[keep]


def _date_axis(ax: Axes) -> None:
    """Dates on the x axis, concise labels (year shown once, not on every tick)."""
    from matplotlib.dates import DAILY, AutoDateLocator, ConciseDateFormatter

    locator = AutoDateLocator()
    # day steps that fit every month: 2, 3, 4 ... put a tick on the 29th-31st and another on
    # the 1st a day later, and their labels collide; 7 and 14 are laid out 1-8-15-22 and 1-15
    locator.intervald[DAILY] = [1, 7, 14]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))


def _axes_note(ax: Axes, text: str) -> None:
    """A blank axes with `text` in its middle: one panel of a figure that has no data."""
    ax.set_axis_off()
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#8a5a00")


def _regime_color(regime: str, others: dict[str, str]) -> str:
    """The regime's colour; an unknown regime gets the next spare colour, the same each run."""
    if regime in REGIME_COLORS:
        return REGIME_COLORS[regime]
    if regime not in others:
        others[regime] = _OTHER_COLORS[len(others) % len(_OTHER_COLORS)]
    return others[regime]


def _runs(labels: Sequence[str | None]) -> list[tuple[int, int, str]]:
    """Runs of equal labels, None left out, as (first index, index after the last, label)."""
    runs: list[tuple[int, int, str]] = []
    start = 0
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[start]:
            if labels[start] is not None:
                runs.append((start, i, labels[start]))
            start = i
    return runs


# ------------------------------------------------------------------ the plots
# Each returns (svg, caption HTML) or raises _Unavailable with the reason in plain words.


def _plot_price(data: Mapping[str, Any]) -> tuple[str, str]:
    """Close price of the base bars with regimes as shaded background spans, and the train,
    validation and test windows as bars above it with dashed boundaries on the price."""
    import numpy as np
    from matplotlib.collections import PolyCollection
    from matplotlib.patches import Patch

    price = _mapping(data.get("price"))
    t, close, ok = _time_series(price, "close", "price bars")
    n = close.size
    # a regime is a non-empty string; anything else (None, NaN) is "no regime yet"
    regimes = [r if isinstance(r, str) and r else None for r in _seq(price.get("regime"))][:n]
    windows = {k: _seq(v) for k, v in _mapping(data.get("windows")).items()}
    windows = {k: (_date_nums([v[0]])[0], _date_nums([v[1]])[0]) for k, v in windows.items()
               if len(v) == 2}
    windows = {k: v for k, v in windows.items() if np.isfinite(v).all()}

    fig = _figure(11, 5.2 if windows else 4.6)
    if windows:
        top, ax = fig.subplots(2, 1, sharex=True, height_ratios=[0.3 + 0.25 * len(windows), 6])
        names = [k for k in WINDOW_COLORS if k in windows] + [k for k in windows
                                                              if k not in WINDOW_COLORS]
        for row, name in enumerate(names):
            lo, hi = windows[name]
            top.barh(row, hi - lo, left=lo, height=0.7,
                     color=WINDOW_COLORS.get(name, "#999999"))
        top.set_yticks(range(len(names)), [_short(k) for k in names])
        top.invert_yaxis()
        top.grid(False)
        top.tick_params(axis="x", labelbottom=False, length=0)
        top.set_title("Windows and price", loc="left")
    else:
        ax = fig.subplots()
        ax.set_title("Price", loc="left")

    ax.plot(*_thin(t[ok], close[ok]), color="#1b1b1b", linewidth=0.9, label="close")
    others: dict[str, str] = {}
    handles = []
    if len(regimes) == n and n > 1:
        step = np.append(t[1:], t[-1])  # a bar's span ends where the next bar starts
        spans: dict[str, list[list[tuple[float, float]]]] = {}
        for lo, hi, regime in _runs(regimes):
            x0, x1 = t[lo], step[hi - 1]
            if np.isfinite(x0) and np.isfinite(x1):
                spans.setdefault(regime, []).append([(x0, 0), (x1, 0), (x1, 1), (x0, 1)])
        ordered = [r for r in REGIME_COLORS if r in spans] + sorted(set(spans) - set(REGIME_COLORS))
        for regime in ordered:
            color = _regime_color(regime, others)
            ax.add_collection(PolyCollection(spans[regime], facecolors=color, alpha=0.14,
                                             edgecolors="none",
                                             transform=ax.get_xaxis_transform()),
                              autolim=False)
            handles.append(Patch(facecolor=color, alpha=0.35, label=_short(regime)))
    for name, (lo, hi) in windows.items():
        for x in (lo, hi):
            ax.axvline(x, color=WINDOW_COLORS.get(name, "#999999"), linestyle="--", linewidth=1)
    ax.set_ylabel("close")
    ax.margins(x=0.01)
    _date_axis(ax)
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 6),
                   title="regime (shaded background)", title_fontsize=9)

    times = _seq(price.get("time"))
    caption = (f"Close price of the base bars over the whole history, "
               f"{_span(times[0], times[n - 1])}")
    caption += (", shaded by regime" if handles else ", no regime labels")
    caption += ("; the train, validation and test windows are marked above the price and by "
                "dashed lines." if windows else "; windows not available.")
    return _svg(fig, "price"), caption


def _drawdown(equity: np.ndarray) -> np.ndarray:
    """Drawdown from the running peak, as a fraction (0 at a new high, -0.25 a quarter down)."""
    import numpy as np

    peak = np.fmax.accumulate(np.where(np.isfinite(equity), equity, -np.inf))
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = np.where((peak > 0) & np.isfinite(equity), equity / peak - 1.0, np.nan)
    return dd


def _plot_equity(data: Mapping[str, Any]) -> tuple[str, str]:
    """Out-of-sample equity against buy-and-hold, fold boundaries marked, and the drawdown of
    both below (computed here from the equity curves, so it always matches them)."""
    import numpy as np

    eq_data = _mapping(data.get("equity"))
    t, equity, ok = _time_series(eq_data, "equity", "points of out-of-sample equity")
    n = equity.size
    bench = _floats(eq_data.get("benchmark"))[:n]
    has_bench = bench.size == n and bool(np.isfinite(bench).any())

    fig = _figure(11, 5.6)
    ax, dd_ax = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1.3])
    ax.plot(*_thin(t[ok], equity[ok]), color="#1f5fa8", linewidth=1.3,
            label="strategy (walk-forward)")
    dd = _drawdown(equity)
    dd_ax.fill_between(*_thin(t[ok], 100 * dd[ok]), 0, color="#1f5fa8", alpha=0.35, linewidth=0)
    if has_bench:
        bok = np.isfinite(t) & np.isfinite(bench)
        ax.plot(*_thin(t[bok], bench[bok]), color="#888888", linewidth=1.0, label="buy and hold")
        dd_ax.plot(*_thin(t[bok], 100 * _drawdown(bench)[bok]), color="#888888", linewidth=0.9)
    folds = [_mapping(f) for f in _seq(eq_data.get("folds"))]
    bounds = []
    for i, fold in enumerate(folds):
        start = _date_nums([fold.get("start")])[0]
        if np.isfinite(start):
            bounds.append((start, fold.get("fold", i + 1)))
    if folds:
        end = _date_nums([folds[-1].get("end")])[0]
        if np.isfinite(end):
            ax.axvline(end, color="#555555", linestyle=":", linewidth=1)
            dd_ax.axvline(end, color="#555555", linestyle=":", linewidth=1)
    every = max(1, math.ceil(len(bounds) / 12))  # at most a dozen labels: they stay legible
    for k, (x, label) in enumerate(bounds):
        for a in (ax, dd_ax):
            a.axvline(x, color="#555555", linestyle=":", linewidth=1)
        if k % every == 0:
            ax.text(x, 1.0, f" fold {_short(label)}", transform=ax.get_xaxis_transform(),
                    va="top", ha="left", fontsize=8, color="#333333")
    ax.set_title("Out-of-sample equity", loc="left")
    ax.set_ylabel("equity")
    ax.legend(loc="upper left", bbox_to_anchor=(0, 0.93))
    dd_ax.set_ylabel("drawdown %")
    ax.margins(x=0.01)
    _date_axis(dd_ax)

    max_dd = np.nanmin(dd) if np.isfinite(dd).any() else math.nan
    times = _seq(eq_data.get("time"))
    window = _section_window(eq_data, f"the out-of-sample walk-forward record, "
                                      f"{_span(times[0], times[n - 1])}")
    deepest = f", deepest {_e(fmt_num(100 * max_dd))}%" if math.isfinite(max_dd) else ""
    caption = (f"Equity of the strategy out of sample (blue) and of buy-and-hold on the same bars "
               f"(grey) at the top, their drawdowns below (the strategy's shaded{deepest}), "
               f"measured on {window}; ")
    caption += (f"dotted lines are the boundaries of the {len(folds)} walk-forward folds."
                if folds else "fold boundaries not available.")
    if not has_bench:
        caption += " Buy-and-hold not available."
    return _svg(fig, "equity"), caption


def _plot_reliability(data: Mapping[str, Any]) -> tuple[str, str]:
    """Reliability diagrams (predicted probability against observed frequency) of each model
    before and after calibration, with the diagonal a perfectly calibrated model would follow."""
    import numpy as np

    rel = _mapping(data.get("reliability"))
    # a model named but None gets a "not available" panel: it was expected and is missing
    models = [k for k, v in rel.items() if (v is None or isinstance(v, Mapping)) and k != "window"]
    curves: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    for model in models:
        for stage in ("before", "after"):
            c = _mapping(_mapping(rel[model]).get(stage))
            x, y = _floats(c.get("predicted")), _floats(c.get("observed"))
            m = min(x.size, y.size)
            x, y = x[:m], y[:m]
            ok = np.isfinite(x) & np.isfinite(y)
            if ok.any():
                curves.setdefault(model, {})[stage] = (x[ok], y[ok])
    if not curves:
        raise _Unavailable("no calibration curves")
    fig = _figure(min(11.0, 0.6 + 4.6 * len(models)), 4.6)
    axes = np.atleast_1d(fig.subplots(1, len(models)))
    for ax, model in zip(axes, models, strict=True):
        ax.set_title(_short(model), loc="left")
        if model not in curves:
            _axes_note(ax, "not available")
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
    window = _section_window(rel, _window_label(data, "validation"))
    names = ", ".join(_e(m) for m in models)
    caption = (f"Reliability of the model probabilities ({names}) before and after calibration, "
               f"measured on {window}: the closer to the dashed diagonal, the more a predicted "
               f"probability can be taken at its word.")
    return _svg(fig, "reliability"), caption


def _plot_pareto(data: Mapping[str, Any]) -> tuple[str, str]:
    """Every optimisation trial as Sharpe against max drawdown: infeasible, feasible, the
    Pareto front, and the configuration chosen."""
    import numpy as np

    pareto = _mapping(data.get("pareto"))
    trials = [_mapping(t) for t in _seq(pareto.get("trials"))]
    x = np.array([_to_float(t.get("max_drawdown")) for t in trials])
    y = np.array([_to_float(t.get("sharpe")) for t in trials])
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        raise _Unavailable("no optimisation trials")
    feasible = np.array([bool(t.get("feasible")) for t in trials])
    front = np.array([bool(t.get("on_front")) for t in trials])
    chosen = np.array([bool(t.get("chosen")) for t in trials])

    fig = _figure(9, 5)
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
    window = _section_window(pareto, _window_label(data, "validation"))
    caption = (f"Sharpe ratio against max drawdown of the {int(ok.sum())} optimisation trials, "
               f"measured on {window}. These are the values the search selected on, so they "
               f"are optimistic: the out-of-sample record is the equity plot above.")
    return _svg(fig, "pareto"), caption


_MC_PANELS = (
    ("sharpe", "Sharpe ratio (bootstrap)", "replicates"),
    ("max_drawdown", "max drawdown (bootstrap)", "replicates"),
    ("permutation", "permutation test (null)", "null"),
)


def _plot_monte_carlo(data: Mapping[str, Any]) -> tuple[str, str]:
    """Histograms of the bootstrap replicates (Sharpe, max drawdown) and of the permutation
    test's null, each with the observed value marked."""
    import numpy as np

    mc = _mapping(data.get("monte_carlo"))
    panels = []
    for key, title, values_key in _MC_PANELS:
        part = _mapping(mc.get(key))
        values = _floats(part.get(values_key))
        panels.append((key, title, values[np.isfinite(values)],
                       _to_float(part.get("observed"))))
    if not any(v.size for _, _, v, _ in panels):
        raise _Unavailable("no Monte Carlo replicates")
    fig = _figure(11, 3.8)
    axes = fig.subplots(1, len(panels))
    missing = []
    for ax, (key, title, values, observed) in zip(axes, panels, strict=True):
        ax.set_title(title, loc="left")
        if not values.size:
            _axes_note(ax, "not available")
            missing.append(key.replace("_", " "))
            continue
        bins = int(min(40, max(10, math.sqrt(values.size))))
        ax.hist(values, bins=bins, color="#8fb3de", edgecolor="#5b86b8", linewidth=0.5)
        if math.isfinite(observed):
            ax.axvline(observed, color="#d62728", linewidth=2,
                       label=f"observed {fmt_num(observed)}")
            ax.legend(loc="upper left")
        ax.set_ylabel("count")
        ax.set_xlabel(f"{values.size:,} draws")
    window = _section_window(mc, "the out-of-sample walk-forward record")
    caption = (f"Distributions from resampling, measured on {window}: bootstrap replicates of "
               f"the Sharpe ratio and max drawdown, and the permutation test's null; the red "
               f"line is the observed value.")
    if missing:
        caption += f" Not available: {_e(', '.join(missing))}."
    return _svg(fig, "monte_carlo"), caption


def _plot_ab_test(data: Mapping[str, Any]) -> tuple[str, str]:
    """The challenger's Sharpe difference against each champion: the point estimate, its
    interval, and the zero line it must clear."""
    ab = _mapping(data.get("ab_test"))
    champions = {k: _mapping(v) for k, v in _mapping(ab.get("champions")).items()}
    if not champions:
        raise _Unavailable("no champions compared")
    names = list(champions)
    fig = _figure(9, 1.4 + 0.75 * len(names))
    ax = fig.subplots()
    ax.axvline(0, color="#1b1b1b", linewidth=1.2)
    drawn = 0
    for row, name in enumerate(names):
        diff = _to_float(champions[name].get("diff"))
        ci = _seq(champions[name].get("ci"))
        lo, hi = (_to_float(ci[0]), _to_float(ci[1])) if len(ci) == 2 else (math.nan, math.nan)
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
        raise _Unavailable("no Sharpe differences")
    ax.set_yticks(range(len(names)), [f"vs {_short(n)}" for n in names])
    ax.set_ylim(len(names) - 0.4, -0.6)
    ax.grid(axis="y", visible=False)
    ax.margins(x=0.15)
    ax.set_xlabel("Sharpe difference, challenger minus champion (right of zero: challenger "
                  "better)")
    decision = ab.get("decision")
    ax.set_title(f"Decision: {_short(decision) if decision else 'n/a'}", loc="left")
    window = _section_window(ab, _window_label(data, "test"))
    caption = (f"Sharpe difference of the challenger against each champion with its interval, "
               f"measured on {window}; an interval wholly right of the zero line means the "
               f"challenger beat that champion. Decision: "
               f"<strong>{_e(decision) if decision else 'n/a'}</strong>.")
    return _svg(fig, "ab_test"), caption


def _plot_contributions(data: Mapping[str, Any]) -> tuple[str, str]:
    """Per regime, the ten features with the largest mean |SHAP| as horizontal bars."""
    import numpy as np

    contrib = _mapping(data.get("contributions"))
    regimes: dict[str, list[tuple[str, float]]] = {}
    for regime, values in contrib.items():
        if regime == "window" or not isinstance(values, Mapping):
            continue
        pairs = [(str(k), _to_float(v)) for k, v in values.items()]
        pairs = [(k, v) for k, v in pairs if math.isfinite(v)]
        regimes[str(regime)] = sorted(pairs, key=lambda kv: (-abs(kv[1]), kv[0]))[:10]
    if not any(regimes.values()):
        raise _Unavailable("no feature contributions")
    order = [r for r in REGIME_COLORS if r in regimes] + sorted(set(regimes) - set(REGIME_COLORS))
    ncols = 2 if len(order) > 1 else 1
    nrows = math.ceil(len(order) / ncols)
    fig = _figure(11, 0.4 + 3.3 * nrows)
    axes = np.atleast_1d(fig.subplots(nrows, ncols)).ravel()
    others: dict[str, str] = {}
    for ax, regime in zip(axes, order, strict=False):
        ax.set_title(_short(regime), loc="left", color=_regime_color(regime, others),
                     fontweight="bold")
        pairs = regimes[regime]
        if not pairs:
            _axes_note(ax, "not available")
            continue
        labels = [_short(k) for k, _ in pairs]
        values = [v for _, v in pairs]
        ax.barh(range(len(pairs)), values, color=_regime_color(regime, others), alpha=0.8)
        ax.set_yticks(range(len(pairs)), labels)
        ax.set_ylim(len(pairs) - 0.5, -0.5)  # largest at the top
        ax.grid(axis="y", visible=False)
        ax.set_xlabel("mean |SHAP| (log-odds)")
    for ax in axes[len(order):]:
        ax.set_visible(False)
    window = _section_window(contrib, _window_label(data, "validation"))
    caption = (f"What drives the analyst: the ten features with the largest mean absolute SHAP "
               f"contribution in each regime, measured on {window}.")
    return _svg(fig, "contributions"), caption


# ------------------------------------------------------------------ page sections

_SECTIONS: tuple[tuple[str, str, Callable[[Mapping[str, Any]], tuple[str, str]]], ...] = (
    ("price", "Price, regimes and windows", _plot_price),
    ("equity", "Out-of-sample equity and drawdown", _plot_equity),
    ("reliability", "Calibration", _plot_reliability),
    ("pareto", "Optimisation trials", _plot_pareto),
    ("monte_carlo", "Monte Carlo", _plot_monte_carlo),
    ("ab_test", "A/B test against champions", _plot_ab_test),
    ("contributions", "Feature contributions by regime", _plot_contributions),
)


def _verdict_html(data: Mapping[str, Any]) -> str:
    """The verdict box: what was tested, then the headline, edge yes/no and the reasons."""
    context = " · ".join(
        _e(v) for v in (data.get("title"), _pair(data), _run(data), _created(data)) if v)
    verdict = data.get("verdict")
    parts = [f'<p class="context">{context}</p>' if context else ""]
    if not isinstance(verdict, Mapping) or not verdict:
        parts.append("<h1>Verdict not available</h1>"
                     '<p class="na">The run has no verdict: its last steps produced nothing.</p>')
        return f'<section id="verdict" class="verdict">{"".join(parts)}</section>'
    edge = verdict.get("edge")
    css = {True: "edge-yes", False: "edge-no"}.get(edge, "") if isinstance(edge, bool) else ""
    headline = verdict.get("headline")
    parts.append(f"<h1>{_e(headline) if headline else 'Verdict'}</h1>")
    if isinstance(edge, bool):
        words = ("Edge found: yes. The strategy passed the tests for an edge out of sample."
                 if edge else "Edge found: no. The strategy did not pass the tests for an edge "
                              "out of sample.")
    else:
        words = "Edge found: not available."
    parts.append(f'<p class="edge">{words}</p>')
    details = [d for d in _seq(verdict.get("details")) if d not in (None, "")]
    if details:
        parts.append("<ul>" + "".join(f"<li>{_e(d)}</li>" for d in details) + "</ul>")
    return f'<section id="verdict" class="verdict {css}">{"".join(parts)}</section>'


def _pair(data: Mapping[str, Any]) -> str:
    """"SYMBOL on EXCHANGE" (unescaped), or whichever of the two is known."""
    symbol, exchange = data.get("symbol"), data.get("exchange")
    if symbol and exchange:
        return f"{symbol} on {exchange}"
    return str(symbol or exchange or "")


def _run(data: Mapping[str, Any]) -> str:
    """The run's identification as given (unescaped) or ""."""
    return str(data["run_id"]) if data.get("run_id") else ""


def _created(data: Mapping[str, Any]) -> str:
    """"created TIME" (unescaped) or ""."""
    created = data.get("created")
    if not created:
        return ""
    dt = _parse_time(created)
    return f"created {dt:%Y-%m-%d %H:%M} UTC" if dt else f"created {created}"


def _plot_section(name: str, heading: str, body: str) -> str:
    """One `<section>` with its heading and body (a figure or a "not available" note)."""
    return f'<section id="section-{name}"><h2>{_e(heading)}</h2>{body}</section>'


def _table_html(table: Any) -> str:
    """One key-number table, captioned with its title and the window it was measured on."""
    table = _mapping(table)
    title = table.get("title") or "Key numbers"
    window = table.get("window")
    window_html = (f' <span class="window">(window: {_e(window)})</span>' if window
                   else ' <span class="window">(window not stated)</span>')
    rows = []
    for row in _seq(table.get("rows")):
        cells = list(_seq(row))
        if not cells:
            continue
        label = cells[0]
        values = cells[1:] or [None]
        tds = "".join(_value_td(v) for v in values)
        rows.append(f"<tr><th scope=\"row\">{_e(label)}</th>{tds}</tr>")
    if not rows:
        rows.append('<tr><td class="na">not available</td></tr>')
    return (f"<table><caption>{_e(title)}{window_html}</caption><tbody>{''.join(rows)}"
            f"</tbody></table>")


def _value_td(value: Any) -> str:
    """A table cell: numbers formatted and right-aligned, text escaped."""
    # None is a missing number ("n/a", aligned with the numbers); numpy scalars count too
    is_number = value is None or (isinstance(value, numbers.Real)
                                  and type(value).__name__ not in ("bool", "bool_"))
    css = ' class="num"' if is_number else ""
    return f"<td{css}>{_e(fmt_num(value))}</td>"


def _tables_html(data: Mapping[str, Any]) -> str:
    """The key-number tables, or a note that there are none."""
    tables = [t for t in _seq(data.get("tables")) if isinstance(t, Mapping)]
    if not tables:
        return '<p class="na">Key numbers not available.</p>'
    return "".join(_table_html(t) for t in tables)


def render_report(data: Mapping[str, Any] | None) -> str:
    """The whole report for `data` (see the module docstring) as one self-contained HTML page.

    Never raises on missing, None or malformed sections: each says "not available" and why. A
    plot that fails to draw for any other reason says so in its section, with the error, so
    one bad input costs one plot rather than the report."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed; we never open a window
    data = _mapping(data)
    body = [_verdict_html(data)]
    nav = "".join(f'<a href="#section-{name}">{_e(heading)}</a>'
                  for name, heading, _ in _SECTIONS)
    body.append(f'<nav>{nav}<a href="#section-tables">Key numbers</a></nav>')
    drawn = []
    with matplotlib.rc_context():
        matplotlib.rcdefaults()  # matplotlib's own defaults, not a local matplotlibrc
        matplotlib.rcParams.update(_RC)
        for name, heading, plot in _SECTIONS:
            try:
                svg, caption = plot(data)
            except _Unavailable as why:
                inner = f'<p class="na">{_e(heading)}: not available ({_e(why)}).</p>'
            except Exception as err:  # one bad section must not take the report down
                inner = (f'<p class="na">{_e(heading)}: not available (the plot could not be '
                         f"drawn: {_e(type(err).__name__)}: {_e(err)}).</p>")
            else:
                drawn.append(f"plot-{name}")
                inner = (f'<figure id="plot-{name}">{svg}<figcaption>{caption}</figcaption>'
                         f"</figure>")
            body.append(_plot_section(name, heading, inner))
    body.append(f'<section id="section-tables"><h2>Key numbers</h2>{_tables_html(data)}'
                f"</section>")

    script = _CHECK_SCRIPT.format(ids=json.dumps(drawn))
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
    csp = (f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
           f"script-src 'sha256-{digest}'")
    title = " · ".join(str(v) for v in (data.get("title") or "ares report", _pair(data)) if v)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n"
        '<link rel="icon" href="data:,">\n'
        f"<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(body)
        + f"\n</main>\n<script>{script}</script>\n</body>\n</html>\n"
    )

