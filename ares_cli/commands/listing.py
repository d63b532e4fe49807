"""Read-only views of the store for `status`, `runs`, `show` and `verify`."""

from __future__ import annotations

from typing import Any

from ares_cli.artifacts import decode
from ares_cli.errors import ConfigError
from ares_cli.store.manifest import Manifest
from ares_cli.store.objects import Store
from ares_cli.util.command import ares_command

__all__ = ["FORMATS", "describe_object", "latest_run", "pairs_using", "producers", "run_rows",
           "show_ref", "status_rows"]


def _counts(manifest: Manifest, state: str) -> str:
    """How many steps are in each status; a killed run's in-flight step reads `interrupted`."""
    counts: dict[str, int] = {}
    for step in manifest.steps:
        status = "interrupted" if state == "interrupted" and step.status == "running" \
            else step.status
        counts[status] = counts.get(status, 0) + 1
    return ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))


def _last_done(manifest: Manifest) -> str:
    done = [s for s in manifest.steps if s.done]
    return f"{done[-1].number} {done[-1].name}" if done else "-"


def _resume_hint(manifest: Manifest, state: str) -> str:
    """`ares resume` where resuming can get further: an interrupted or partial run, or a failed
    step whose cause may pass unchanged (a network or machine failure); a data or config error
    needs the setting its message names changed first."""
    if state not in ("interrupted", "failed", "partial"):
        return "-"
    if state == "failed" and not any(s.resumable for s in manifest.steps if s.status == "failed"):
        return "fix the cause the failed step names, then run again"
    return ares_command("resume", exchange=manifest.exchange, symbol=manifest.symbol)


def status_rows(store: Store) -> list[dict[str, Any]]:
    """One row per exchange/symbol: its latest run and how far it got."""
    rows = []
    for _exchange, _symbol, name, run_id in store.iter_refs():
        if name != "latest":
            continue
        try:
            manifest = store.read_manifest(run_id)
        except FileNotFoundError:
            continue
        failed = [s for s in manifest.steps if s.status == "failed"]
        state = store.run_state(manifest)
        rows.append({
            "exchange": manifest.exchange,
            "symbol": manifest.symbol,
            "run": run_id,
            "champion": store.get_ref(manifest.exchange, manifest.symbol, "champion") or "-",
            "status": state,
            "last step done": _last_done(manifest),
            "steps": _counts(manifest, state),
            "failed": f"{failed[0].number} {failed[0].name}" if failed else "-",
            "updated": manifest.updated,
            "next": _resume_hint(manifest, state),
        })
    return rows


def run_rows(store: Store, exchange: str | None, symbol: str | None) -> list[dict[str, Any]]:
    """One row per run, oldest first, optionally for one exchange/symbol. A failed or
    interrupted attempt says so in `result`, so it never reads like a result."""
    rows = []
    for m in store.list_runs():
        if (exchange is not None and m.exchange != exchange) or (
                symbol is not None and m.symbol != symbol):
            continue
        state = store.run_state(m)
        failed = [s for s in m.steps if s.status == "failed"]
        result = {"complete": "all steps done", "partial": f"done to step {_last_done(m)}",
                  "failed": f"FAILED at step {failed[0].number} {failed[0].name}"
                  if failed else "FAILED",
                  "interrupted": "INTERRUPTED (killed while running)",
                  "running": "running now"}.get(state, state)
        rows.append({"run": m.run_id, "exchange": m.exchange, "symbol": m.symbol,
                     "status": state, "result": result, "steps": _counts(m, state),
                     "based on": m.based_on or "-", "created": m.created})
    return rows


def producers(store: Store) -> dict[str, tuple[str, str]]:
    """digest -> (step name, output name) from every action record."""
    made: dict[str, tuple[str, str]] = {}
    for _key, record in store.iter_actions():
        for output, info in record.get("outputs", {}).items():
            made[info["digest"]] = (record["step"], output)
            if info.get("kind") == "chunks":  # a day of trades is named by its list's output
                made.update(dict.fromkeys(store.parts_of(info["digest"]),
                                          (record["step"], output)))
    return made


def pairs_using(store: Store) -> dict[str, list[tuple[str, str]]]:
    """digest -> the (exchange, symbol) pairs whose runs hold it, for repair hints."""
    used: dict[str, set[tuple[str, str]]] = {}
    for manifest in store.list_runs():
        pair = (manifest.exchange, manifest.symbol)
        for step in manifest.steps:
            for name, digest in step.outputs.items():
                used.setdefault(digest, set()).add(pair)
                if step.kinds.get(name) == "chunks":
                    for part in store.parts_of(digest):
                        used.setdefault(part, set()).add(pair)
    return {digest: sorted(found) for digest, found in used.items()}


def latest_run(store: Store, exchange: str | None, symbol: str | None) -> Manifest:
    """The latest run of a pair; without a pair, the most recently updated run of any pair."""
    if exchange is not None or symbol is not None:
        exchange, symbol = exchange or "binance", symbol or "ETHUSDT"
        run_id = store.get_ref(exchange, symbol, "latest")
        if run_id is None:
            pairs = sorted({f"{e}/{s}" for e, s, n, _ in store.iter_refs() if n == "latest"})
            raise ConfigError(f"no runs for {exchange}/{symbol}"
                              + (f"; runs exist for {', '.join(pairs)}" if pairs else ""))
        return store.read_manifest(run_id)
    latest = [store.read_manifest(v) for _, _, n, v in store.iter_refs() if n == "latest"]
    if not latest:
        raise ConfigError("no runs in the store yet", hint="start one with: ares run-all")
    return max(latest, key=lambda m: m.updated)


def show_ref(store: Store, ref: str, exchange: str | None,
             symbol: str | None) -> tuple[str, Any]:
    """(what it is, its content) for a run (id, prefix or 'latest'), a step of the latest run,
    or an object digest (6+ characters)."""
    from ares_cli.steps import BY_NAME, BY_NUMBER

    if ref == "latest":
        manifest = latest_run(store, exchange, symbol)
        return f"run {manifest.run_id} of {manifest.exchange}/{manifest.symbol}", \
            manifest.to_json()
    if ref in BY_NAME or (ref.isdigit() and int(ref) in BY_NUMBER):
        manifest = latest_run(store, exchange, symbol)
        step = BY_NAME.get(ref) or BY_NUMBER[int(ref)]
        return (f"step {step.number} {step.name} of run {manifest.run_id} "
                f"({manifest.exchange}/{manifest.symbol})",
                manifest.step(step.number).model_dump(mode="json"))
    runs = [m for m in store.list_runs() if m.run_id.startswith(ref)]
    objects = [d for d, _ in store.iter_objects() if d.startswith(ref)] if len(ref) >= 6 else []
    if len(runs) + len(objects) > 1:
        raise ConfigError(f"'{ref}' is ambiguous: it starts {len(runs) + len(objects)} names")
    if runs:
        return f"run {runs[0].run_id} of {runs[0].exchange}/{runs[0].symbol}", runs[0].to_json()
    if objects:
        return f"object {objects[0]}", describe_object(store, objects[0])
    raise ConfigError(f"nothing named '{ref}': not a run id, step, or object digest (6+ chars)")


def describe_object(store: Store, digest: str) -> dict[str, Any]:
    """What an object holds: a table's schema, rows, time span and first rows; a JSON value;
    a model set's member table and models. A corrupted object gets `verify`'s repair hint."""
    from ares_cli.errors import IntegrityError

    made = producers(store).get(digest)
    info: dict[str, Any] = {"digest": digest, "bytes": store.object_path(digest).stat().st_size}
    kind = None
    if made is not None:
        info.update(step=made[0], output=made[1])
        for _key, record in store.iter_actions():
            output = record.get("outputs", {}).get(made[1])
            if output and output["digest"] == digest:
                kind = output["kind"]
                break
    try:
        data = store.get(digest, what=made[1] if made else "")
    except IntegrityError as exc:
        pairs = pairs_using(store).get(digest, [])
        hint = "; ".join(ares_command("step", str(made[0]), "--force", exchange=e, symbol=s)
                         for e, s in pairs) if made else "it was made by no recorded step"
        raise IntegrityError(exc.message, hint=f"repair it with: {hint}") from None
    kind = kind or _sniff(data)
    info["kind"] = kind
    info["format"] = FORMATS.get(kind, "bytes")
    if kind == "table":
        frame = decode(data, "table")
        info.update(rows=frame.height, columns=frame.width,
                    schema={c: str(t) for c, t in frame.schema.items()})
        if "timestamp" in frame.columns and frame.height:
            info["span"] = [frame["timestamp"].min(), frame["timestamp"].max()]
        info["head"] = frame.head(5).to_dicts()
    elif kind == "json":
        info["value"] = decode(data, "json")
    elif kind == "chunks":
        listing = decode(data, "json")
        parts = listing["parts"]
        info.update(rows=listing["rows"], days=len(parts),
                    span=[parts[0]["day"], parts[-1]["day"]] if parts else None,
                    parts_missing=sum(not store.has(p["digest"]) for p in parts),
                    head=parts[:3])
    elif kind == "modelset":
        models = decode(data, "modelset")
        info["models"] = {name: len(raw) for name, raw in sorted(models.models.items())}
        info["table"] = models.table
    return info


# How each kind of object is stored, and how to open it in Python (README "The store").
FORMATS = {
    "table": "parquet: polars.read_parquet(path)",
    "json": "JSON: json.load(open(path))",
    "chunks": "JSON list of day objects (parquet each): [polars.read_parquet(objects/d[:2]/d[2:]) "
              "for d in (p['digest'] for p in json.load(open(path))['parts'])]",
    "modelset": "zip of table.json and models/<NAME>.ubj (XGBoost's own format): "
                "zipfile.ZipFile(path); xgboost.Booster().load_model(bytearray(ubj_bytes))",
    "joblib": "joblib pickle (load only after `ares verify`): joblib.load(path)",
}


def _sniff(data: bytes) -> str:
    if data[:4] == b"PAR1":
        return "table"
    if data[:2] == b"PK":
        return "modelset"
    if data[:1] in (b"{", b"["):
        return "json"
    return "bytes"
