"""`ares export RUN --out DIR`: a run's bundle and main tables as plain files anyone can load.

Written: the bundle's `bundle.json` and `models/*.ubj` (XGBoost's own format), the main tables
as parquet, the JSON outputs, `report.html` and `summary.json` when the run has them, and a
README.md saying what each file is and how to load it with polars and xgboost alone. Files go
to a temporary folder first and the folder is renamed into place, so a failed export leaves
nothing half-written.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ares_cli.artifacts import decode
from ares_cli.errors import ConfigError
from ares_cli.store.champion import find_run
from ares_cli.store.manifest import Manifest
from ares_cli.store.objects import Store
from ares_cli.util.command import ares_command

__all__ = ["export_run"]

# artifact name -> (file name, what it is)
TABLES = {
    "bars": ("bars.parquet", "base OHLCV bars (UTC timestamps)"),
    "splits": ("splits.parquet", "each base bar's window (train/validation/test/gap) and regime"),
    "analyst_ensemble": ("analyst_probabilities.parquet",
                         "analyst P(up) per bar: out of fold on train, final models later"),
    "calibrated_analyst": ("analyst_calibrated.parquet", "calibrated analyst P(up)"),
    "calibrated_tactician": ("tactician_calibrated.parquet",
                             "calibrated tactician P(pays) per proposed trade"),
    "trials": ("optimize_trials.parquet",
               "step 12: every trial, its parameters and validation objectives"),
    "pareto": ("optimize_pareto.parquet", "step 12: the Pareto front (validation)"),
    "walk_forward": ("walk_forward.parquet",
                     "step 13: out-of-sample per-bar returns, equity, buy-and-hold"),
    "walk_forward_trades": ("walk_forward_trades.parquet", "step 13: out-of-sample trades"),
}
JSONS = {
    "params": ("params.json", "step 12: the chosen trading rules"),
    "calibrators": ("calibrators.json", "step 11: the calibration maps"),
    "walk_forward_folds": ("walk_forward_folds.json", "step 13: folds, choices, stability"),
    "monte_carlo": ("monte_carlo.json", "step 14: intervals, tests, DSR, PBO, verdict"),
    "ab_test": ("ab_test.json", "step 15: champion against challenger, decision"),
}

LOADING = """
## Loading

```python
import json, polars as pl, xgboost as xgb

bundle = json.load(open("bundle/bundle.json"))
booster = xgb.Booster()
booster.load_model("bundle/models/analyst-GLOBAL.ubj")   # any name in bundle["models"]
walk_forward = pl.read_parquet("walk_forward.parquet")
```

An analyst member's input columns are `bundle["analyst"]["members"]["members"][NAME]
["features"]` (names in `bundle["spec"]["analyst_features"]` order); a member whose `fallback`
is true has no model of its own and uses the global one
(`bundle["analyst"]["members"].get("fallback_to", "GLOBAL")`).
"""


def _outputs(manifest: Manifest) -> dict[str, tuple[str, str]]:
    out = {}
    for record in manifest.steps:
        if record.done:
            for name, digest in record.outputs.items():
                out[name] = (digest, record.kinds[name])
    return out


def export_run(store: Store, ref: str, out: Path) -> dict[str, Any]:
    """Export run `ref` (id or prefix) into the new folder `out`; what was written."""
    manifest = find_run(store, ref)
    outputs = _outputs(manifest)
    if "bundle" not in outputs:
        raise ConfigError(f"run {manifest.run_id} has no bundle: step 16 (save) is not done",
                          hint=ares_command("resume", exchange=manifest.exchange,
                                            symbol=manifest.symbol))
    if out.exists():
        raise ConfigError(f"{out} exists; export writes a new folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        written = []
        lines = [f"# ares export of run {manifest.run_id} ({manifest.exchange}/"
                 f"{manifest.symbol})", "", "| file | what it is |", "|---|---|"]
        digest, _kind = outputs["bundle"]
        bundle = decode(store.get(digest, what="the bundle"), "modelset")
        (tmp / "bundle" / "models").mkdir(parents=True)
        (tmp / "bundle" / "bundle.json").write_text(json.dumps(bundle.table, indent=2))
        lines.append("| `bundle/bundle.json` | feature spec, member tables, ensemble, calibrators, "
                     "chosen rules, library versions |")
        for name, model in sorted(bundle.models.items()):
            (tmp / "bundle" / "models" / f"{name}.ubj").write_bytes(model)
        lines.append(f"| `bundle/models/*.ubj` | {len(bundle.models)} XGBoost models in "
                     "XGBoost's own UBJSON format |")
        written.append("bundle")
        for name, (file, what) in {**TABLES, **JSONS}.items():
            if name not in outputs:
                continue
            digest, _kind = outputs[name]
            data = store.get(digest, what=name)
            (tmp / file).write_bytes(data)  # parquet and canonical JSON, as stored
            lines.append(f"| `{file}` | {what} |")
            written.append(file)
        for extra in ("report.html", "summary.json"):
            source = store.runs / manifest.run_id / extra
            if source.is_file():
                shutil.copyfile(source, tmp / extra)
                lines.append(f"| `{extra}` | the run's {extra.split('.')[0]} |")
                written.append(extra)
        (tmp / "README.md").write_text("\n".join(lines) + "\n" + LOADING)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {"run_id": manifest.run_id, "exchange": manifest.exchange, "symbol": manifest.symbol,
            "out": str(out), "files": written}
