"""The header `publish` stamps on a report: every fact shown, every string escaped, the stored
report's marker replaced once."""

from __future__ import annotations

from ares_cli.report.identity import IDENTITY_MARKER, identity_html, stamp

FACTS = {
    "run": "20240101T000000Z-abc123", "pair": "ETHUSDT on binance",
    "source": ["files (candles):", "/data/<odd>&name.feather"],
    "span": "2024-01-01T00:00:00+00:00 to 2024-02-01T00:00:00+00:00",
    "bars": "base 1h; fine path: the 1h candles", "quality": ["12 rows dropped: missing"],
    "overrides": {"bars.base": "4h"}, "steps": "16 of 16 steps done; status ok",
    "published": "2026-12-06T10:00:00Z",
}


def test_every_fact_is_shown_and_escaped():
    html = identity_html(FACTS)
    for text in ("20240101T000000Z-abc123", "ETHUSDT on binance", "base 1h",
                 "12 rows dropped: missing", "<code>bars.base</code> = 4h",
                 "2026-12-06T10:00:00Z", "&lt;odd&gt;&amp;name.feather"):
        assert text in html, text
    assert "<odd>" not in html


def test_stamp_replaces_the_marker_once():
    page = f"<html><body><main>\n{IDENTITY_MARKER}\n<section id=\"verdict\"></section>"
    stamped = stamp(page, FACTS)
    assert IDENTITY_MARKER not in stamped and stamped.count('<section id="identity">') == 1
    assert stamped.index('id="identity"') < stamped.index('id="verdict"')
    old = stamp("<html><body><main>\n<section id=\"verdict\"></section>", FACTS)
    assert old.index('id="identity"') < old.index('id="verdict"')
