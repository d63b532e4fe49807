"""What a finished run leaves beside its manifest for people: `summary.json` (the object
`--json` prints) and `report.html` (step 16's report, copied out of the object store so it has
a path and an extension). Both are written atomically."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ares_cli.store.manifest import Manifest
from ares_cli.store.objects import Store
from ares_cli.util.fsutil import atomic_write
from ares_cli.util.jsonutil import json_safe

__all__ = ["REPORT", "SUMMARY", "publish", "report_path"]

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
        path = stale
        atomic_write(path, store.get(digest, what="the report made by step 16 save"))
    elif stale.exists():  # step 16 is no longer current in this run: its report is not either
        stale.unlink()
    summary["report"] = str(path.resolve()) if path else None
    atomic_write(store.runs / manifest.run_id / SUMMARY,
                 json.dumps(json_safe(summary), indent=2, sort_keys=True).encode())
    return path.resolve() if path else None
