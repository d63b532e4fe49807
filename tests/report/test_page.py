"""The report page: verdict first, missing sections said plainly, hostile strings escaped, the
same data giving the same bytes, nothing fetched from outside, and the key-number tables.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest

from ares_cli.report.page import render_report
from tests.report.fixtures import figure_html, full_data, full_page

HOSTILE = "<script>alert(1)</script>"


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


@pytest.fixture(scope="module")
def page() -> str:
    return full_page()


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
    svg = figure_html(page, "contributions")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg and "cost_$x$" in svg
    assert "&lt;/svg&gt;&lt;script&gt;alert(3)" in figure_html(page, "ab_test")
    assert "&lt;b&gt;BULL&lt;/b&gt;" in svg
    for name in ("contributions", "ab_test", "reliability"):
        assert figure_html(page, name).count("<svg") == 1


@pytest.mark.parametrize("missing", [None, {}, [], "junk"])
def test_empty_report_says_not_available(missing: Any) -> None:
    page = render_report(None if missing is None else {k: missing for k in full_data()})
    assert "<svg" not in page and "<figure" not in page
    for heading in ("Price, regimes and windows", "Out-of-sample equity and drawdown",
                    "Calibration", "Optimisation trials", "Monte Carlo",
                    "A/B test against the baselines and the champion",
                    "Feature contributions by regime",
                    "Key numbers"):
        assert f"{heading}: not available" in page or f"{heading} not available" in page
    assert "Verdict not available" in page
    assert 'data-plots' not in page  # set by the script in the browser, not here


def test_table_formats_and_labels(page: str) -> None:
    section = page[page.index('id="section-tables"'):]
    assert "Out-of-sample performance <span" in section
    assert '<td class="num">0.8123</td>' in section
    assert '<td class="num">412</td>' in section
    assert '<td class="num">n/a</td>' in section


def test_a_section_with_nothing_to_show_says_why_in_one_sentence() -> None:
    """The run's own sentence: above a drawn but empty plot (a flat equity line), and in place
    of the generic reason when the plot is not available (no Monte Carlo replicates)."""
    data = full_data()
    data["monte_carlo"] = {}
    data["empty"] = {"equity": "no walk-forward trade, so the strategy's equity is a flat "
                               "line: fold 1 stayed flat: flat rule: <picked> lost",
                     "monte_carlo": "not tested: 3 out-of-sample trade(s), fewer than 10"}
    page = render_report(data)
    equity = page[page.index('id="section-equity"'):page.index('id="section-reliability"')]
    assert ('<p class="na">no walk-forward trade, so the strategy&#x27;s equity is a flat line: '
            "fold 1 stayed flat: flat rule: &lt;picked&gt; lost.</p>") in equity
    assert "<svg" in equity
    mc = page[page.index('id="section-monte_carlo"'):page.index('id="section-ab_test"')]
    assert ("Monte Carlo: not available (not tested: 3 out-of-sample trade(s), fewer than "
            "10).") in mc
