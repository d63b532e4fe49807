"""MLflow logging after a run, not inside it.

Step 16 used to log from inside its cached action: a transient failure with `required = false`
became a warning stored in the action record, replayed on every cache hit, and the run was
never logged. Now no step knows about MLflow (nothing about it enters an action key) and this
hook logs a finished run from what the store holds: its bundle, its published report and the
walk-forward, Monte Carlo and A/B results.

- A run's MLflow state is `runs/<id>/mlflow.json`: `logged` (with the MLflow run id) or
  `pending` (with why). A pending run is logged by the next `run-all` of its pair or by
  `ares log-mlflow RUN`.
- Identical results are logged once: `mlflow/<identity>.json` in the store records the MLflow
  run made for the (tracking URI, experiment, bundle, report, results) identity, so a run
  whose steps were all cached, or a retry, makes no second MLflow run of the same thing.
- `required = true` still fails the command with exit 4 (the run's steps stay done).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any

from ares_cli.store.manifest import Manifest, utc_now
from ares_cli.store.objects import Store
from ares_cli.util.fsutil import atomic_write

__all__ = ["STATE", "log_pending", "mlflow_state", "post_run"]

STATE = "mlflow.json"
_RESULTS = ("bundle", "report", "walk_forward", "monte_carlo", "ab_test", "params")


def mlflow_state(store: Store, run_id: str) -> dict[str, Any] | None:
    """The run's MLflow state (None: never tried, or MLflow off when it finished)."""
    try:
        return json.loads((store.runs / run_id / STATE).read_text())
    except (FileNotFoundError, ValueError):
        return None


def _outputs(manifest: Manifest) -> dict[str, str]:
    found: dict[str, str] = {}
    for record in manifest.steps:
        if record.done:
            found.update(record.outputs)
    return found


def _identity(cfg: Any, outputs: dict[str, str]) -> str:
    text = json.dumps({"uri": cfg.tracking_uri, "experiment": cfg.experiment,
                       **{name: outputs.get(name) for name in _RESULTS}}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _payload(store: Store, manifest: Manifest, outputs: dict[str, str],
             folder: Path) -> dict[str, Any]:
    """What to log, read back from the store: the chosen rules and spec, the key metrics
    under their windows, the published report and the bundle."""
    from ares_cli.artifacts import decode
    from ares_cli.commands.run_outputs import report_path

    def json_of(name: str) -> dict[str, Any]:
        return decode(store.get(outputs[name], what=f"the run's {name}"), "json")

    mc, ab, params = json_of("monte_carlo"), json_of("ab_test"), json_of("params")
    bundle = decode(store.get(outputs["bundle"], what="the run's bundle"), "modelset")
    published = report_path(store, manifest.run_id)
    report, packed = folder / "report.html", folder / "bundle.zip"
    report.write_bytes(published.read_bytes() if published.is_file()
                       else store.get(outputs["report"], what="the run's report"))
    packed.write_bytes(bundle.to_bytes())
    chosen = params.get("validation_metrics") or {}
    metrics = {**{f"walk_forward.{k}": mc.get(k) for k in
                  ("sharpe", "max_drawdown", "final_return", "p_loss", "permutation_p", "psr",
                   "dsr", "pbo", "looks", "permutation_p_adjusted")},
               **{f"test.{k}": ab.get(k) for k in ("sharpe_diff", "p_value", "shadow_days")},
               **{f"validation.chosen.{k}": v for k, v in chosen.items()}}
    return {"run_name": f"{manifest.exchange}-{manifest.symbol}-{manifest.run_id}",
            "params": {"policy": params.get("policy"), "spec": bundle.table["spec"]},
            "metrics": metrics,
            "artifacts": {"report.html": report, "bundle/bundle.zip": packed},
            "tags": {"exchange": manifest.exchange, "symbol": manifest.symbol,
                     "ares.run_id": manifest.run_id, "verdict": mc.get("verdict", ""),
                     "decision": ab.get("decision", "")}}


def post_run(store: Store, manifest: Manifest, cfg: Any, *,
             force: bool = False) -> tuple[str | None, str | None]:
    """Log a finished run (its bundle saved) to MLflow once: `(mlflow run id, warning)`.

    `cfg` is the `[mlflow]` section; off (and not `force`), or no bundle: `(None, None)`.
    Raises ExternalServiceError (exit 4) when the logging fails and `cfg.required`.
    """
    from ares_cli.report.mlflow_log import try_log

    outputs = _outputs(manifest)
    if not (cfg.enabled or force) or "bundle" not in outputs or "monte_carlo" not in outputs:
        return None, None
    if force and not cfg.enabled:
        cfg = cfg.model_copy(update={"enabled": True})
    identity = _identity(cfg, outputs)
    ledger = store.root / "mlflow" / f"{identity}.json"
    state_path = store.runs / manifest.run_id / STATE
    try:
        done = json.loads(ledger.read_text())
    except (FileNotFoundError, ValueError):
        done = None
    if done is not None:  # these results are in MLflow already: no duplicate run
        _write(state_path, {"status": "logged", "mlflow_run_id": done["mlflow_run_id"],
                            "identity": identity, "logged_by": done.get("run_id"),
                            "updated": utc_now()})
        return done["mlflow_run_id"], None
    claim = _claim(ledger.with_suffix(".claim"))
    if claim is None:  # another live process is logging these very results right now
        return None, None
    _write(state_path, {"status": "pending", "identity": identity, "updated": utc_now(),
                        "message": "logging to MLflow"})
    try:
        with tempfile.TemporaryDirectory() as tmp:
            mlflow_id, warning = try_log(cfg, **_payload(store, manifest, outputs, Path(tmp)))
    except Exception as exc:
        _write(state_path, {"status": "pending", "identity": identity, "updated": utc_now(),
                            "message": str(exc)})
        raise
    finally:
        claim.unlink(missing_ok=True)
    if mlflow_id is None:
        _write(state_path, {"status": "pending", "identity": identity, "updated": utc_now(),
                            "message": warning})
        return None, (f"{warning}; the run is marked pending and is logged by the next "
                      f"run-all of {manifest.exchange}/{manifest.symbol} or by: "
                      f"ares log-mlflow {manifest.run_id}")
    _write(ledger, {"mlflow_run_id": mlflow_id, "run_id": manifest.run_id,
                    "uri": cfg.tracking_uri, "experiment": cfg.experiment})
    _write(state_path, {"status": "logged", "mlflow_run_id": mlflow_id, "identity": identity,
                        "updated": utc_now()})
    return mlflow_id, None


def log_pending(store: Store, exchange: str, symbol: str, config_of: Any,
                skip: str | None = None) -> list[tuple[str, str | None, str | None]]:
    """Log every run of the pair left pending (but `skip`): `(run id, mlflow id, warning)`
    each. `config_of(manifest)` gives a run's own config (its `[mlflow]` section is used). A
    run that fails again stays pending, and its failure is a warning here (even when its own
    config said `required`: it is not the run being finished now)."""
    done = []
    for manifest in store.list_runs():
        if (manifest.exchange, manifest.symbol) != (exchange, symbol) or \
                manifest.run_id == skip:
            continue
        state = mlflow_state(store, manifest.run_id)
        if state is None or state.get("status") != "pending":
            continue
        try:
            cfg = config_of(manifest).mlflow.model_copy(update={"required": False})
            mlflow_id, warning = post_run(store, manifest, cfg)
        except Exception as exc:  # an older run's logging never fails this one
            mlflow_id, warning = None, f"MLflow logging failed again: {exc}"
        done.append((manifest.run_id, mlflow_id, warning))
    return done


def _claim(path: Path) -> Path | None:
    """Take the right to log one identity (None: a live process on this host has it). A claim
    left by a process that died is taken over."""
    import os

    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                holder = int(path.read_text().strip() or 0)
                os.kill(holder, 0)
                return None  # alive: it is logging these results now
            except (ProcessLookupError, ValueError):
                path.unlink(missing_ok=True)  # its holder died: take it over
                continue
            except (PermissionError, FileNotFoundError):
                return None
        with os.fdopen(fd, "w") as handle:
            handle.write(str(os.getpid()))
        return path
    return None


def _write(path: Path, value: dict[str, Any]) -> None:
    atomic_write(path, json.dumps(value, sort_keys=True).encode())
