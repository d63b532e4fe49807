"""The report's plots: every plot drawn as inline SVG with a caption naming its window, SVG
text kept as text with ids unique across the page, and a section with missing or degenerate
data saying so instead of drawing.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from ares_cli.report.page import PLOTS, render_report
from tests.report.fixtures import figure_html, full_data, full_page


@pytest.fixture(scope="module")
def page() -> str:
    return full_page()


def test_full_report_has_one_svg_figure_per_plot(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>")
    for name in PLOTS:
        assert page.count(f'id="plot-{name}"') == 1
        body = figure_html(page, name)
        assert body.count("<svg") == 1 and "</svg>" in body
        caption = re.search(r"<figcaption>(.*?)</figcaption>", body, flags=re.S)
        assert caption, name
        assert re.search(r"window|walk-forward|whole history", caption.group(1)), name
    assert "not available" not in page
    assert '<?xml' not in page and "<!DOCTYPE svg" not in page


def test_plots_name_their_window(page: str) -> None:
    assert "the validation window (2024-02-20" in figure_html(page, "reliability")
    assert "the validation window" in figure_html(page, "pareto")
    assert "optimistic" in figure_html(page, "pareto")
    assert "the test window" in figure_html(page, "ab_test")
    assert "out-of-sample walk-forward" in figure_html(page, "equity")
    assert "4 walk-forward folds" in figure_html(page, "equity")
    assert "2024-01-01 to 2024-03-24" in figure_html(page, "price")
    assert "(window: walk-forward)" in page and "(window: validation)" in page  # the tables


def test_svg_text_is_text_and_ids_are_unique(page: str) -> None:
    # svg.fonttype none: labels are <text> (selectable), not glyph paths
    assert "feature_00_rsi" in figure_html(page, "contributions")
    assert "<text" in figure_html(page, "price")
    ids = re.findall(r'\sid="([^"]+)"', page)
    assert len(ids) == len(set(ids))
    refs = set(re.findall(r'(?:href="|url\()#([^")]+)', page))
    assert refs <= set(ids)


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
