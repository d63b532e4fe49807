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

This module assembles the page (verdict first, then one section per plot, then the key-number
tables); the plots are drawn by `plots_market` and `plots_model` on the shared plumbing of
`plot_common`, and `formatting` escapes and formats the text both use.
"""

from __future__ import annotations

import base64
import hashlib
import json
import numbers
from collections.abc import Callable, Mapping
from typing import Any

from ares_cli.report.formatting import as_mapping, as_seq, esc, fmt_num, parse_time
from ares_cli.report.identity import IDENTITY_MARKER
from ares_cli.report.plot_common import PLOT_RC, Unavailable
from ares_cli.report.plots_market import plot_equity, plot_price
from ares_cli.report.plots_model import (
    plot_ab_test,
    plot_contributions,
    plot_monte_carlo,
    plot_pareto,
    plot_reliability,
)

__all__ = ["PLOTS", "render_report"]

# One figure per name, in page order; each is `<figure id="plot-NAME">`.
PLOTS = ("price", "equity", "reliability", "pareto", "monte_carlo", "ab_test", "contributions")

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
table.identity { width: 100%; font-size: 13px; }
table.identity caption { font-size: 15px; }
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

_SECTIONS: tuple[tuple[str, str, Callable[[Mapping[str, Any]], tuple[str, str]]], ...] = (
    ("price", "Price, regimes and windows", plot_price),
    ("equity", "Out-of-sample equity and drawdown", plot_equity),
    ("reliability", "Calibration", plot_reliability),
    ("pareto", "Optimisation trials", plot_pareto),
    ("monte_carlo", "Monte Carlo", plot_monte_carlo),
    ("ab_test", "A/B test against the baselines and the champion", plot_ab_test),
    ("contributions", "Feature contributions by regime", plot_contributions),
)


def _verdict_html(data: Mapping[str, Any]) -> str:
    """The verdict box: what was tested, then the headline, edge yes/no and the reasons."""
    context = " · ".join(
        esc(v) for v in (data.get("title"), _pair(data), _run(data), _data_end(data)) if v)
    verdict = data.get("verdict")
    parts = [f'<p class="context">{context}</p>' if context else ""]
    if not isinstance(verdict, Mapping) or not verdict:
        parts.append("<h1>Verdict not available</h1>"
                     '<p class="na">The run has no verdict: its last steps produced nothing.</p>')
        return f'<section id="verdict" class="verdict">{"".join(parts)}</section>'
    edge = verdict.get("edge")
    css = {True: "edge-yes", False: "edge-no"}.get(edge, "") if isinstance(edge, bool) else ""
    headline = verdict.get("headline")
    parts.append(f"<h1>{esc(headline) if headline else 'Verdict'}</h1>")
    if isinstance(edge, bool):
        words = ("Edge found: yes. The strategy passed the tests for an edge out of sample."
                 if edge else "Edge found: no. The strategy did not pass the tests for an edge "
                              "out of sample.")
    else:
        words = "Edge found: not available."
    parts.append(f'<p class="edge">{words}</p>')
    details = [d for d in as_seq(verdict.get("details")) if d not in (None, "")]
    if details:
        parts.append("<ul>" + "".join(f"<li>{esc(d)}</li>" for d in details) + "</ul>")
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


def _data_end(data: Mapping[str, Any]) -> str:
    """"data to TIME" (unescaped: the last bar the run saw) or ""."""
    end = data.get("data_end")
    if not end:
        return ""
    dt = parse_time(end)
    return f"data to {dt:%Y-%m-%d %H:%M} UTC" if dt else f"data to {end}"


def _plot_section(name: str, heading: str, body: str) -> str:
    """One `<section>` with its heading and body (a figure or a "not available" note)."""
    return f'<section id="section-{name}"><h2>{esc(heading)}</h2>{body}</section>'


def _table_html(table: Any) -> str:
    """One key-number table, captioned with its title and the window it was measured on."""
    table = as_mapping(table)
    title = table.get("title") or "Key numbers"
    window = table.get("window")
    window_html = (f' <span class="window">(window: {esc(window)})</span>' if window
                   else ' <span class="window">(window not stated)</span>')
    rows = []
    for row in as_seq(table.get("rows")):
        cells = list(as_seq(row))
        if not cells:
            continue
        label = cells[0]
        values = cells[1:] or [None]
        tds = "".join(_value_td(v) for v in values)
        rows.append(f"<tr><th scope=\"row\">{esc(label)}</th>{tds}</tr>")
    if not rows:
        rows.append('<tr><td class="na">not available</td></tr>')
    return (f"<table><caption>{esc(title)}{window_html}</caption><tbody>{''.join(rows)}"
            f"</tbody></table>")


def _value_td(value: Any) -> str:
    """A table cell: numbers formatted and right-aligned, text escaped."""
    # None is a missing number ("n/a", aligned with the numbers); numpy scalars count too
    is_number = value is None or (isinstance(value, numbers.Real)
                                  and type(value).__name__ not in ("bool", "bool_"))
    css = ' class="num"' if is_number else ""
    return f"<td{css}>{esc(fmt_num(value))}</td>"


def _tables_html(data: Mapping[str, Any]) -> str:
    """The key-number tables, or a note that there are none."""
    tables = [t for t in as_seq(data.get("tables")) if isinstance(t, Mapping)]
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
    data = as_mapping(data)
    body = [_verdict_html(data)]
    nav = "".join(f'<a href="#section-{name}">{esc(heading)}</a>'
                  for name, heading, _ in _SECTIONS)
    body.append(f'<nav>{nav}<a href="#section-tables">Key numbers</a></nav>')
    drawn = []
    with matplotlib.rc_context():
        matplotlib.rcdefaults()  # matplotlib's own defaults, not a local matplotlibrc
        matplotlib.rcParams.update(PLOT_RC)
        empty = as_mapping(data.get("empty"))
        for name, heading, plot in _SECTIONS:
            why_empty = empty.get(name)  # the run's own sentence for a section with nothing
            try:
                svg, caption = plot(data)
            except Unavailable as why:
                inner = (f'<p class="na">{esc(heading)}: not available '
                         f"({esc(why_empty or why)}).</p>")
            except Exception as err:  # one bad section must not take the report down
                inner = (f'<p class="na">{esc(heading)}: not available (the plot could not be '
                         f"drawn: {esc(type(err).__name__)}: {esc(err)}).</p>")
            else:
                drawn.append(f"plot-{name}")
                note = f'<p class="na">{esc(why_empty)}.</p>' if why_empty else ""
                inner = (f'{note}<figure id="plot-{name}">{svg}<figcaption>{caption}'
                         f"</figcaption></figure>")
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
        f"<title>{esc(title)}</title>\n"
        '<link rel="icon" href="data:,">\n'
        f"<style>{_CSS}</style>\n</head>\n<body>\n<main>\n{IDENTITY_MARKER}\n"
        + "\n".join(body)
        + f"\n</main>\n<script>{script}</script>\n</body>\n</html>\n"
    )

