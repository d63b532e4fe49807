"""Read-only views of the store for `status`, `runs`, `show` and `verify`."""

from __future__ import annotations

from typing import Any

from ares_cli.artifacts import decode
from ares_cli.errors import ConfigError
from ares_cli.manifest import Manifest
from ares_cli.store import Store


def _counts(manifest: Manifest) -> str:
    counts: dict[str, int] = {}
    for step in manifest.steps:
        counts[step.status] = counts.get(step.status, 0) + 1
    return ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))


def _last_done(manifest: Manifest) -> str:
    done = [s for s in manifest.steps if s.done]
    return f"{done[-1].number} {done[-1].name}" if done else "-"


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
        rows.append({
            "exchange": manifest.exchange,
            "symbol": manifest.symbol,
            "run": run_id,
            "status": manifest.status,
            "last step done": _last_done(manifest),
            "steps": _counts(manifest),
            "failed": f"{failed[0].number} {failed[0].name}" if failed else "-",
            "updated": manifest.updated,
        })
    return rows


def run_rows(store: Store, exchange: str | None, symbol: str | None) -> list[dict[str, Any]]:
    """One row per run, oldest first, optionally for one exchange/symbol."""
    return [
        {
            "run": m.run_id,
            "exchange": m.exchange,
            "symbol": m.symbol,
            "status": m.status,
            "steps": _counts(m),
            "created": m.created,
        }
        for m in store.list_runs()
        if (exchange is None or m.exchange == exchange)
        and (symbol is None or m.symbol == symbol)
    ]


def producers(store: Store) -> dict[str, tuple[str, str]]:
    """digest -> (step name, output name) from every action record."""
    made: dict[str, tuple[str, str]] = {}
    for _key, record in store.iter_actions():
        for output, info in record.get("outputs", {}).items():
            made[info["digest"]] = (record["step"], output)
    return made


def pairs_using(store: Store) -> dict[str, list[tuple[str, str]]]:
    """digest -> the (exchange, symbol) pairs whose runs hold it, for repair hints."""
    used: dict[str, set[tuple[str, str]]] = {}
    for manifest in store.list_runs():
        pair = (manifest.exchange, manifest.symbol)
        for step in manifest.steps:
            for digest in step.outputs.values():
                used.setdefault(digest, set()).add(pair)
    return {digest: sorted(found) for digest, found in used.items()}


def show_ref(store: Store, ref: str, exchange: str, symbol: str) -> dict[str, Any]:
    """A run manifest (id, prefix or 'latest'), a step of the latest run, or an object."""
    from ares_cli.steps import BY_NAME, BY_NUMBER

    latest = store.get_ref(exchange, symbol, "latest")
    if ref == "latest":
        if latest is None:
            raise ConfigError(f"no runs for {exchange}/{symbol}")
        return store.read_manifest(latest).to_json()
    if ref in BY_NAME or (ref.isdigit() and int(ref) in BY_NUMBER):
        if latest is None:
            raise ConfigError(f"no runs for {exchange}/{symbol}")
        step = BY_NAME.get(ref) or BY_NUMBER[int(ref)]
        return store.read_manifest(latest).step(step.number).model_dump(mode="json")
    runs = [m for m in store.list_runs() if m.run_id.startswith(ref)]
    if len(runs) == 1:
        return runs[0].to_json()
    objects = [d for d, _ in store.iter_objects() if d.startswith(ref)] if len(ref) >= 6 else []
    if len(objects) == 1:
        return _describe_object(store, objects[0])
    if len(runs) + len(objects) > 1:
        raise ConfigError(f"'{ref}' is ambiguous: it starts {len(runs) + len(objects)} names")
    raise ConfigError(f"nothing named '{ref}': not a run id, step, or object digest (6+ chars)")


def _describe_object(store: Store, digest: str) -> dict[str, Any]:
    made = producers(store).get(digest)
    info: dict[str, Any] = {"digest": digest, "bytes": store.object_path(digest).stat().st_size}
    if made is None:
        return info
    info.update(step=made[0], output=made[1])
    for _key, record in store.iter_actions():
        output = record.get("outputs", {}).get(made[1])
        if output and output["digest"] == digest:
            info["kind"] = output["kind"]
            break
    kind = info.get("kind")
    if kind == "table":
        frame = decode(store.get(digest, what=made[1]), "table")
        info["rows"], info["schema"] = frame.height, {c: str(t) for c, t in frame.schema.items()}
        info["head"] = frame.head(5).to_dicts()
    elif kind == "json":
        info["value"] = decode(store.get(digest, what=made[1]), "json")
    return info
