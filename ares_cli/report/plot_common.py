"""What every plot of step 16's report shares: matplotlib's settings, the colours, the
"not available" signal, loose data read as arrays and dates, and a figure exported as inline SVG.

Every plot is matplotlib's SVG embedded inline (text stays text, so it can be selected,
searched and copied). Strings drawn inside a plot are escaped by matplotlib's SVG writer, with
mathtext switched off so a `$` in a feature name is just a dollar sign. The same data gives the
same bytes (fixed SVG hash salt, no dates in SVG metadata; the page applies `PLOT_RC` over
matplotlib's built-in defaults rather than any local matplotlibrc). matplotlib and numpy are
imported inside the functions that draw, so importing this module stays light.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ares_cli.report.formatting import as_mapping, as_seq, esc, parse_time, span, to_float

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["PLOT_RC", "REGIME_COLORS", "WINDOW_COLORS", "Unavailable", "axes_note", "date_axis",
           "date_nums", "figure", "floats", "label_runs", "regime_color", "section_window",
           "short", "svg", "thin", "time_series", "window_label"]

REGIME_COLORS = {"BULL": "#2ca02c", "BEAR": "#d62728", "SIDEWAYS": "#7f7f7f",
                 "VOLATILE": "#9467bd"}
_OTHER_COLORS = ("#8c564b", "#e377c2", "#bcbd22", "#17becf")
WINDOW_COLORS = {"train": "#4c72b0", "validation": "#dd8452", "test": "#55a868"}
_MAX_LABEL = 40  # characters of a feature or champion name drawn inside a plot

# matplotlib settings for every plot: SVG text as <text> (selectable), fixed ids, no mathtext,
# DejaVu Sans first because it ships with matplotlib (same layout on every machine).
PLOT_RC: dict[str, Any] = {
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


class Unavailable(Exception):
    """Raised by a plot when its data is missing or empty; the message says what is missing."""


def short(label: Any) -> str:
    """A name short enough to draw in a plot (matplotlib escapes it for SVG)."""
    text = str(label)
    return text if len(text) <= _MAX_LABEL else text[: _MAX_LABEL - 1] + "…"


# ------------------------------------------------------------------ series, dates and windows


def floats(value: Any) -> np.ndarray:
    """A float array (None and junk as NaN)."""
    import numpy as np

    return np.array([to_float(v) for v in as_seq(value)], dtype=np.float64)


def time_series(section: Mapping[str, Any], key: str,
                what: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(date numbers, values of `key`, which points are usable) of a section with a "time"
    list, both cut to the shorter; `Unavailable` naming `what` with fewer than two points."""
    import numpy as np

    t, values = date_nums(section.get("time")), floats(section.get(key))
    n = min(t.size, values.size)
    t, values = t[:n], values[:n]
    ok = np.isfinite(t) & np.isfinite(values)
    if ok.sum() < 2:
        raise Unavailable(f"fewer than two {what}")
    return t, values, ok


def date_nums(value: Any) -> np.ndarray:
    """ISO timestamps as matplotlib date numbers (days since its epoch; NaN where unparseable),
    converted in one vectorised step: per-value `date2num` costs seconds on 100,000 bars."""
    import numpy as np
    from matplotlib.dates import get_epoch

    parsed = [parse_time(v) for v in as_seq(value)]
    stamps = np.array([np.datetime64(d, "us") if d is not None else np.datetime64("NaT", "us")
                       for d in parsed], dtype="datetime64[us]")
    return (stamps - np.datetime64(get_epoch(), "us")) / np.timedelta64(1, "D")


def window_label(data: Mapping[str, Any], name: str) -> str:
    """"the NAME window (START to END)" with dates when `data["windows"]` has them; escaped."""
    bounds = as_seq(as_mapping(data.get("windows")).get(name))
    if len(bounds) == 2:
        return f"the {esc(name)} window ({span(bounds[0], bounds[1])})"
    return f"the {esc(name)} window"


def section_window(section: Mapping[str, Any], default: str) -> str:
    """The window a section was measured on: its own `"window"` text when given (escaped
    here), else `default` (already escaped)."""
    window = section.get("window")
    return esc(window) if isinstance(window, str) and window else default


# ------------------------------------------------------------------ matplotlib plumbing


def figure(width: float, height: float) -> Figure:
    """A new figure with constrained layout; not registered with pyplot, so nothing leaks."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


_SVG_ID = re.compile(r'(\sid=")([\w.-]+")')
_SVG_REF = re.compile(r'((?:href="|url\()#)([\w.-]+)')
_SVG_TAG = re.compile(r"<[^<>]+>")


def svg(fig: Figure, name: str) -> str:
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


def thin(x: np.ndarray, y: np.ndarray, buckets: int = 800) -> tuple[np.ndarray, np.ndarray]:
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


def date_axis(ax: Axes) -> None:
    """Dates on the x axis, concise labels (year shown once, not on every tick)."""
    from matplotlib.dates import DAILY, AutoDateLocator, ConciseDateFormatter

    locator = AutoDateLocator()
    # day steps that fit every month: 2, 3, 4 ... put a tick on the 29th-31st and another on
    # the 1st a day later, and their labels collide; 7 and 14 are laid out 1-8-15-22 and 1-15
    locator.intervald[DAILY] = [1, 7, 14]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))


def axes_note(ax: Axes, text: str) -> None:
    """A blank axes with `text` in its middle: one panel of a figure that has no data."""
    ax.set_axis_off()
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#8a5a00")


def regime_color(regime: str, others: dict[str, str]) -> str:
    """The regime's colour; an unknown regime gets the next spare colour, the same each run."""
    if regime in REGIME_COLORS:
        return REGIME_COLORS[regime]
    if regime not in others:
        others[regime] = _OTHER_COLORS[len(others) % len(_OTHER_COLORS)]
    return others[regime]


def label_runs(labels: Sequence[str | None]) -> list[tuple[int, int, str]]:
    """Runs of equal labels, None left out, as (first index, index after the last, label)."""
    runs: list[tuple[int, int, str]] = []
    start = 0
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[start]:
            if labels[start] is not None:
                runs.append((start, i, labels[start]))
            start = i
    return runs

