"""Champion promotion: `ares promote RUN` and step 15's automatic promotion.

The champion of an exchange/symbol is a ref (`refs/<exchange>/<symbol>/champion`) naming a run.
Only a run whose bundle is saved (step 16) can be promoted: later runs score that bundle as
their champion and `ares signal` trades it. The pair's lock is held while the ref changes.
"""

from __future__ import annotations

from typing import Any

from ares_cli.errors import ConfigError
from ares_cli.store.manifest import Manifest
from ares_cli.store.objects import Store
from ares_cli.util.command import ares_command

__all__ = ["CHAMPION", "find_run", "promote_run", "require_bundle"]

CHAMPION = "champion"


def find_run(store: Store, ref: str) -> Manifest:
    """The run whose id is `ref` or starts with it (ConfigError: none, or several)."""
    runs = [m for m in store.list_runs() if m.run_id.startswith(ref)]
    if not runs:
        raise ConfigError(f"no run matches {ref!r}", hint="list them with: ares runs")
    if len(runs) > 1:
        raise ConfigError(f"{ref!r} matches {len(runs)} runs: "
                          f"{', '.join(m.run_id for m in runs[:5])}; give more of the id")
    return runs[0]


def promote_run(store: Store, ref: str, save_step: int) -> dict[str, Any]:
    """Make run `ref` (an id or unique prefix) its pair's champion; returns what changed.
    `save_step` is the number of the step that saves the bundle (the registry knows it).

    Raises:
        ConfigError: no such run, an ambiguous prefix, or a run without a saved bundle.
    """
    manifest = find_run(store, ref)
    require_bundle(manifest, save_step)
    with store.lock(manifest.exchange, manifest.symbol):
        previous = store.get_ref(manifest.exchange, manifest.symbol, CHAMPION)
        store.set_ref(manifest.exchange, manifest.symbol, CHAMPION, manifest.run_id)
    return {"exchange": manifest.exchange, "symbol": manifest.symbol,
            "run_id": manifest.run_id, "previous": previous}


def require_bundle(manifest: Manifest, save_step: int) -> None:
    """ConfigError (exit 2) unless the run saved its bundle: only a saved run can trade."""
    record = manifest.step(save_step)
    if not record.done:
        raise ConfigError(
            f"run {manifest.run_id} has no bundle (step {save_step} {record.name} is "
            f"{record.status}); "
            "only a saved run can be champion",
            hint=ares_command("resume", exchange=manifest.exchange, symbol=manifest.symbol))
