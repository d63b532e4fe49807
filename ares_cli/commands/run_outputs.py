"""What a finished run leaves beside its manifest for people: `summary.json` (the object
`--json` prints) and `report.html` (step 16's report, copied out of the object store so it has
a path and an extension, and stamped with what it is a report of: `report/identity.py`). Both
are written atomically."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ares_cli.store.manifest import Manifest, utc_now
from ares_cli.store.objects import Store
from ares_cli.util.fsutil import atomic_write
from ares_cli.util.jsonutil import json_safe

__all__ = ["REPORT", "SUMMARY", "publish", "report_facts", "report_path"]

REPORT = "report.html"
SUMMARY = "summary.json"


def report_path(store: Store, run_id: str) -> Path:
    return store.runs / run_id / REPORT


def publish(store: Store, manifest: Manifest, summary: dict[str, Any]) -> Path | None:
    """Write the run's report (when step 16 is done) and its summary; the report's path."""
    from ares_cli.steps import PRODUCER

    record = manifest.step(PRODUCER["report"].number)
    path = None
    digest = record.outputs.get("report") if record.done else None
    stale = report_path(store, manifest.run_id)
    if digest:
        from ares_cli.report.identity import stamp

        path = stale
        html = store.get(digest, what="the report made by step 16 save").decode("utf-8")
        atomic_write(path, stamp(html, report_facts(manifest)).encode("utf-8"))
    elif stale.exists():  # step 16 is no longer current in this run: its report is not either
        stale.unlink()
    summary["report"] = str(path.resolve()) if path else None
    atomic_write(store.runs / manifest.run_id / SUMMARY,
                 json.dumps(json_safe(summary), indent=2, sort_keys=True).encode())
    return path.resolve() if path else None


def report_facts(manifest: Manifest) -> dict[str, Any]:
    """What the published report says it is a report of, from the run's manifest: the run,
    the pair, the data's source and span, the bars, the data's quality, the settings that
    differ from the defaults, the steps' outcome and when it was published."""
    from ares_cli.runner import config_of

    config = config_of(manifest)
    collect = manifest.steps[0].metrics.get("data", {}) if manifest.steps else {}
    bars = manifest.steps[1].metrics.get("data", {}) if len(manifest.steps) > 1 else {}
    data = config.data
    if data.source == "synthetic":
        source = (f"synthetic market (seed {data.seed}, {collect.get('days', data.days)} days, "
                  + ("driftless random walk" if not data.regimes
                     else f"regimes, drift_scale {data.drift_scale:g}")
                  + (f", {data.outages} outages" if data.outages else "") + ")")
    elif data.source == "files":
        files = [f.get("path") for f in collect.get("files", []) if isinstance(f, dict)]
        source = [f"files ({collect.get('kind', 'auto')}):", *(files or list(data.paths))]
    else:
        source = f"ccxt download from {manifest.exchange} ({collect.get('start')} to " \
                 f"{collect.get('end')})"
    counts: dict[str, int] = {}
    for key, value in (collect.get("validation") or {}).items():
        if key.startswith("dropped_") and value:
            counts[key.removeprefix("dropped_").replace("_", " ")] = value
    quality = [f"{v} rows dropped: {k}" for k, v in counts.items()] or ["no rows dropped"]
    quality += [f"{f['path']}: {f['preamble_lines_skipped']} line(s) above the header skipped"
                for f in collect.get("files", []) if isinstance(f, dict)
                and f.get("preamble_lines_skipped")]
    ids = collect.get("missing_trade_ids")
    if ids:
        quality.append(f"{ids['ids']} trade ids missing in {ids['holes']} holes"
                       if ids["holes"] else "no trade id missing")
    if "gaps" in bars:
        longest = bars.get("longest_gap")
        quality.append(
            f"{bars['gaps']} outages ({bars['gap_bars']} base bars"
            + (f", the longest {longest['bars']} from {longest['start']}" if longest else "")
            + f"); {bars.get('quiet_stretches', 0)} quiet stretches (no trade, ids "
            "consecutive)")
    done = sum(1 for s in manifest.steps if s.done)
    return {
        "run": manifest.run_id,
        "pair": f"{manifest.symbol} on {manifest.exchange}",
        "source": source,
        "span": (f"{collect.get('first')} to {collect.get('last')}"
                 if collect.get("first") else None),
        "bars": (f"base {config.bars.base}; fine path: {bars.get('fine_from')}"
                 if bars.get("fine_from") else f"base {config.bars.base}, fine "
                 f"{config.bars.fine}"),
        "quality": quality,
        "overrides": config.overrides() or "the defaults (config.toml)",
        "steps": f"{done} of {len(manifest.steps)} steps done; status {manifest.status}",
        "published": utc_now(),
    }
