"""What a report is a report of: the header `publish` stamps on the copy of step 16's report it
writes beside the run's manifest.

Step 16's stored report is a pure function of the run's results, so an identical run gives the
same bytes and stays cached; it holds a marker where the header goes. The published copy has
the header in its place: the run id, the pair, where the data came from (file paths, or the
synthetic market and its seed), the bar sizes and where the fine path came from, the data's
span, every config key that differs from its default, when it was published, and the data's
quality (rows dropped by reason, outages, missing trade ids).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ares_cli.report.formatting import esc

__all__ = ["IDENTITY_MARKER", "identity_html", "stamp"]

IDENTITY_MARKER = "<!-- ares:identity -->"


def identity_html(facts: Mapping[str, Any]) -> str:
    """The header section for `facts` (every value escaped)."""
    rows = []
    for label, key in (("Run", "run"), ("Pair", "pair"), ("Data", "source"),
                       ("Span", "span"), ("Bars", "bars"), ("Data quality", "quality"),
                       ("Settings", "overrides"), ("Steps", "steps"),
                       ("Published", "published")):
        value = facts.get(key)
        if value in (None, "", [], {}):
            continue
        if isinstance(value, Mapping):
            cell = "<br>".join(f"<code>{esc(k)}</code> = {esc(v)}" for k, v in value.items())
        elif isinstance(value, list | tuple):
            cell = "<br>".join(esc(v) for v in value)
        else:
            cell = esc(value)
        rows.append(f'<tr><th scope="row">{esc(label)}</th><td>{cell}</td></tr>')
    return ('<section id="identity"><table class="identity"><caption>What this report is '
            f"about</caption><tbody>{''.join(rows)}</tbody></table></section>")


def stamp(html: str, facts: Mapping[str, Any]) -> str:
    """`html` (a stored report) with its header: the marker replaced by `identity_html`."""
    if IDENTITY_MARKER not in html:  # a report from before the marker: header first in main
        return html.replace("<main>\n", f"<main>\n{identity_html(facts)}\n", 1)
    return html.replace(IDENTITY_MARKER, identity_html(facts), 1)
