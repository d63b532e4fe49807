"""The HTML report renderer: every plot drawn as inline SVG, missing sections said plainly,
hostile strings escaped, the same data giving the same bytes, and nothing fetched from outside.

`full_data()` is a synthetic run with every section filled; `tests/report/test_browser.py`
opens its report in a real browser.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import numpy as np
import pytest

from ares_cli.report.html import PLOTS, fmt_num, render_report

HOSTILE = "<script>alert(1)</script>"


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def full_data(n_bars: int = 2000) -> dict[str, Any]:
    """A synthetic run with every section of the report filled, from a fixed seed."""
    rng = np.random.default_rng(7)
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    times = [_iso(t0 + timedelta(hours=i)) for i in range(n_bars)]
    close = 2000 * np.exp(np.cumsum(rng.normal(0, 0.004, n_bars)))
    regimes: list[str | None] = []
    names = ["BULL", "SIDEWAYS", "BEAR", "VOLATILE"]
    while len(regimes) < n_bars:
        regimes += [names[int(rng.integers(4))]] * int(rng.integers(30, 200))
    regimes = regimes[:n_bars]
    regimes[:24] = [None] * 24  # the warm-up bars have no regime yet
    cut = [0, int(n_bars * 0.6), int(n_bars * 0.8), n_bars - 1]
    oos = list(range(cut[1], n_bars))
    equity = np.cumprod(1 + rng.normal(0.0004, 0.006, len(oos)))
    bench = close[oos] / close[oos[0]]
    fold_edges = np.linspace(0, len(oos) - 1, 5).astype(int)

    def curve(bias: float) -> dict[str, list[float]]:
        p = np.linspace(0.05, 0.95, 10)
        return {"predicted": p.tolist(),
                "observed": np.clip(p + bias * (p - 0.5) + rng.normal(0, 0.02, 10), 0, 1).tolist()}

    dd = rng.uniform(0.05, 0.45, 80)
    sharpe = rng.normal(0.5 + 3 * dd, 0.6)
    feasible = dd < 0.35
    # the front: feasible trials that no other feasible one beats on both counts
    front = [bool(feasible[i] and not np.any(feasible & (dd <= dd[i]) & (sharpe > sharpe[i])))
             for i in range(80)]
    chosen = int(np.flatnonzero(front)[len(np.flatnonzero(front)) // 2])
    trials = [{"sharpe": float(sharpe[i]), "max_drawdown": float(dd[i]),
               "feasible": bool(feasible[i]), "on_front": front[i], "chosen": i == chosen}
              for i in range(80)]
    features = [f"feature_{k:02d}_{w}" for k, w in enumerate(
        ["rsi", "atr", "volume_z", "ret_1", "ret_24", "bb_width", "macd", "obv", "vwap_gap",
         "hour_sin", "hour_cos", "spread", "skew", "kurt", "trend"])]
    return {
        "title": "Research report",
        "exchange": "binance",
        "symbol": "ETHUSDT",
        "run_id": "20240301-120000-abcdef",
        "created": "2024-03-01T12:00:00Z",
        "verdict": {"headline": "No edge out of sample", "edge": False,
                    "details": ["permutation p = 0.41", "deflated Sharpe 0.12 < 0.95",
                                "A/B decision: keep"]},
        "price": {"time": times, "close": close.tolist(), "regime": regimes},
        "windows": {"train": [times[cut[0]], times[cut[1] - 1]],
                    "validation": [times[cut[1]], times[cut[2] - 1]],
                    "test": [times[cut[2]], times[cut[3]]]},
        "equity": {"time": [times[i] for i in oos], "equity": equity.tolist(),
                   "benchmark": bench.tolist(),
                   "folds": [{"fold": k + 1, "start": times[oos[fold_edges[k]]],
                              "end": times[oos[fold_edges[k + 1]]]} for k in range(4)]},
        "reliability": {"analyst": {"before": curve(0.5), "after": curve(0.0)},
                        "tactician": {"before": curve(-0.4), "after": curve(0.05)}},
        "pareto": {"trials": trials},
        "monte_carlo": {
            "sharpe": {"observed": 0.8, "replicates": rng.normal(0.7, 0.5, 500).tolist()},
            "max_drawdown": {"observed": -0.12,
                             "replicates": (-rng.gamma(4, 0.03, 500)).tolist()},
            "permutation": {"observed": 0.8, "null": rng.normal(0, 0.6, 500).tolist()}},
        "ab_test": {"decision": "keep",
                    "champions": {"buy_and_hold": {"diff": 0.35, "ci": [-0.2, 0.9]},
                                  "momentum": {"diff": -0.1, "ci": None}}},
        "contributions": {regime: {f: float(abs(rng.normal(0, 0.1))) for f in features}
                          for regime in ("BULL", "BEAR", "SIDEWAYS", "VOLATILE")},
        "tables": [
            {"title": "Out-of-sample performance", "window": "walk-forward",
             "rows": [["Sharpe", 0.8123], ["max drawdown", -0.1234], ["trades", 412],
                      ["final equity", 12345.678], ["profit factor", None]]},
            {"title": "Validation", "window": "validation",
             "rows": [["Sharpe (selected)", 2.1], ["Brier before", 0.2512],
                      ["Brier after", 0.2401]]},
        ],
    }


@functools.cache
def full_page() -> str:
    """The report of `full_data()`, rendered once per test process (it takes about a second)."""
    return render_report(full_data())


class _Tags(HTMLParser):
    """Every start tag the browser's tokenizer would see, and the text inside <script>."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)


def _tags(page: str) -> _Tags:
    parser = _Tags()
    parser.feed(page)
    parser.close()
    return parser


def _figure(page: str, name: str) -> str:
    """The `<figure id="plot-NAME">` element's markup."""
    match = re.search(rf'<figure id="plot-{name}">(.*?)</figure>', page, flags=re.S)
    assert match, f"no figure plot-{name}"
    return match.group(1)


@pytest.fixture(scope="module")
def page() -> str:
    return full_page()


def test_full_report_has_one_svg_figure_per_plot(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>")
    for name in PLOTS:
        assert page.count(f'id="plot-{name}"') == 1
        body = _figure(page, name)
        assert body.count("<svg") == 1 and "</svg>" in body
        caption = re.search(r"<figcaption>(.*?)</figcaption>", body, flags=re.S)
        assert caption, name
        assert re.search(r"window|walk-forward|whole history", caption.group(1)), name
    assert "not available" not in page
    assert '<?xml' not in page and "<!DOCTYPE svg" not in page


def test_plots_name_their_window(page: str) -> None:
    assert "the validation window (2024-02-20" in _figure(page, "reliability")
    assert "the validation window" in _figure(page, "pareto")
    assert "optimistic" in _figure(page, "pareto")
    assert "the test window" in _figure(page, "ab_test")
    assert "out-of-sample walk-forward" in _figure(page, "equity")
    assert "4 walk-forward folds" in _figure(page, "equity")
    assert "2024-01-01 to 2024-03-24" in _figure(page, "price")
    assert "(window: walk-forward)" in page and "(window: validation)" in page  # the tables


def test_svg_text_is_text_and_ids_are_unique(page: str) -> None:
    # svg.fonttype none: labels are <text> (selectable), not glyph paths
    assert "feature_00_rsi" in _figure(page, "contributions")
    assert "<text" in _figure(page, "price")
    ids = re.findall(r'\sid="([^"]+)"', page)
    assert len(ids) == len(set(ids))
    refs = set(re.findall(r'(?:href="|url\()#([^")]+)', page))
    assert refs <= set(ids)


def test_verdict_comes_first(page: str) -> None:
    body = page[page.index("<body>"):]
    first = re.search(r"<(section|figure|nav|h1|h2|table)\b[^>]*>", body)
    assert first and 'id="verdict"' in first.group(0)
    assert body.index("No edge out of sample") < body.index("<nav")
    assert "Edge found: no" in body


def test_same_data_same_bytes(page: str) -> None:
    assert render_report(full_data()) == page


EXTERNAL = re.compile(r"""(?:\b(?:src|href)\s*=\s*["']?\s*|url\(\s*["']?\s*)"""
                      r"""(?:https?:|ftp:|//)""", re.I)


def test_nothing_is_fetched_from_outside(page: str) -> None:
    assert not EXTERNAL.search(page)
    assert "http://" not in page and "https://" not in page  # not even as text
    # stricter: every reference points inside the page (or is inline data)
    for ref in re.findall(r"""\b(?:src|href)\s*=\s*["']([^"']*)""", page):
        assert ref.startswith(("#", "data:")), ref
    for ref in re.findall(r"""url\(\s*["']?([^)"']*)""", page):
        assert ref.startswith("#"), ref
    assert "@import" not in page
    assert "default-src 'none'" in page  # the browser enforces it too
    assert _tags(page).tags.count("script") == 1
    assert not any(t in _tags(page).tags for t in ("img", "iframe", "object", "embed", "link")
                   if t != "link") and _tags(page).tags.count("link") == 1  # the data: icon


def test_the_external_check_catches_references() -> None:
    for bad in ('<img src="https://x/y.png">', "<a href='http://x'>", '<link href="//cdn/x">',
                "<p style=\"background: url('https://x')\">", "<svg><use href=HTTPS://x>"):
        assert EXTERNAL.search(bad), bad


def test_hostile_strings_are_escaped() -> None:
    data = {
        "title": '"><img src=x onerror=alert(1)>',
        "symbol": "BTC&USD<i>",
        "exchange": HOSTILE,
        "run_id": "</title><script>alert(2)</script>",
        "verdict": {"headline": HOSTILE, "edge": True, "details": [HOSTILE, "a & b"]},
        "windows": {"validation": ["2024-01-01", HOSTILE]},
        "contributions": {"<b>BULL</b>": {HOSTILE: 0.3, "cost_$x$": 0.2, "$\\frac{$": 0.1,
                                          "a & b": 0.05, "--><script>x</script>": 0.04}},
        "ab_test": {"decision": HOSTILE,
                    "champions": {"</svg><script>alert(3)</script>": {"diff": 0.1,
                                                                     "ci": [0, 0.2]}}},
        "reliability": {HOSTILE: {"after": {"predicted": [0.2, 0.8], "observed": [0.3, 0.7]}},
                        "window": HOSTILE},
        "tables": [{"title": HOSTILE, "window": HOSTILE, "rows": [[HOSTILE, HOSTILE]]}],
    }
    page = render_report(data)
    parsed = _tags(page)
    assert parsed.tags.count("script") == 1
    assert {"img", "b", "i"}.isdisjoint(parsed.tags)
    assert "alert" not in "".join(parsed.scripts)
    assert "<script>alert" not in page and "<b>BULL" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "BTC&amp;USD&lt;i&gt;" in page
    # drawn inside the SVGs, escaped by matplotlib; `$` drawn as a dollar, not mathtext
    svg = _figure(page, "contributions")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg and "cost_$x$" in svg
    assert "&lt;/svg&gt;&lt;script&gt;alert(3)" in _figure(page, "ab_test")
    assert "&lt;b&gt;BULL&lt;/b&gt;" in svg
    for name in ("contributions", "ab_test", "reliability"):
        assert _figure(page, name).count("<svg") == 1


@pytest.mark.parametrize("missing", [None, {}, [], "junk"])
def test_empty_report_says_not_available(missing: Any) -> None:
    page = render_report(None if missing is None else {k: missing for k in full_data()})
    assert "<svg" not in page and "<figure" not in page
    for heading in ("Price, regimes and windows", "Out-of-sample equity and drawdown",
                    "Calibration", "Optimisation trials", "Monte Carlo",
                    "A/B test against champions", "Feature contributions by regime",
                    "Key numbers"):
        assert f"{heading}: not available" in page or f"{heading} not available" in page
    assert "Verdict not available" in page
    assert 'data-plots' not in page  # set by the script in the browser, not here


@pytest.mark.parametrize("section", [
    {"price": {"time": ["2024-01-01T00:00:00Z"], "close": [None]}},
    {"price": {"time": ["not a date", "2024-01-01"], "close": [1.0, 2.0], "regime": ["X"]}},
    {"equity": {"time": [], "equity": [], "folds": [{"fold": 1}]}},
    {"equity": {"time": ["2024-01-01", "2024-01-02"], "equity": [0.0, float("nan")]}},
    {"reliability": {"analyst": {"before": None, "after": {"predicted": [], "observed": []}}}},
    {"pareto": {"trials": [{"sharpe": None, "max_drawdown": 0.1}]}},
    {"monte_carlo": {"sharpe": {"observed": None, "replicates": [float("nan")]}}},
    {"ab_test": {"decision": None, "champions": {"momentum": {"diff": None, "ci": None}}}},
    {"contributions": {"BULL": {}, "BEAR": None}},
    {"tables": [{"rows": None}, None]},
])
def test_degenerate_sections_say_not_available(section: dict[str, Any]) -> None:
    page = render_report(section)
    assert "<svg" not in page
    assert "could not be drawn" not in page  # refused with a reason, not by an exception
    assert "not available" in page


def test_partly_missing_sections_still_draw() -> None:
    full = full_data(n_bars=300)
    mc = {"sharpe": full["monte_carlo"]["sharpe"]}
    rel = {"analyst": full["reliability"]["analyst"], "tactician": None}
    contrib = {"BULL": full["contributions"]["BULL"], "BEAR": {}}
    price = {**full["price"], "regime": None}
    equity = {**full["equity"], "benchmark": None, "folds": None}
    # each section drawn from its own key alone: no plot leans on another's data
    page = render_report({"monte_carlo": mc, "reliability": rel, "contributions": contrib,
                          "price": price, "equity": equity, "pareto": full["pareto"]})
    assert page.count("<svg") == 6
    assert "Not available: max drawdown, permutation." in page
    assert "no regime labels" in page and "windows not available" in page
    assert "fold boundaries not available" in page and "Buy-and-hold not available" in page
    # the panels of tactician, BEAR, and Monte Carlo's max drawdown and permutation
    assert page.count(">not available<") == 4


@pytest.mark.parametrize(("value", "text"), [
    (None, "n/a"), (float("nan"), "n/a"), (True, "yes"), (1234567, "1,234,567"),
    (0.81234, "0.8123"), (-0.1234, "-0.1234"), (12345.678, "12,345.68"), (0.0, "0"),
    (2.5e-7, "2.500e-07"), (3e12, "3.000e+12"), (float("inf"), "inf"), ("abc", "abc"),
    (np.float64(1.5), "1.5"), (np.int64(-4321), "-4,321"), (np.True_, "yes"),
])
def test_fmt_num(value: Any, text: str) -> None:
    assert fmt_num(value) == text


def test_table_formats_and_labels(page: str) -> None:
    section = page[page.index('id="section-tables"'):]
    assert "Out-of-sample performance <span" in section
    assert '<td class="num">0.8123</td>' in section
    assert '<td class="num">412</td>' in section
    assert '<td class="num">n/a</td>' in section
