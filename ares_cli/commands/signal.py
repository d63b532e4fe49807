"""`ares signal` end to end: find the bundle, bring the data up to date, decide.

Kept apart from `serve/scoring.py` (pure, also used by step 15) because it runs steps 1 and 2
through the pipeline and loads the config, which a step's code must not depend on.
"""

from __future__ import annotations

from typing import Any

from ares_cli.serve.scoring import decide

__all__ = ["load_decision"]


def load_decision(store: Any, exchange: str, symbol: str, *, latest: bool,
                  max_age_minutes: float | None) -> dict[str, Any]:
    """Find the bundle (the pair's champion, or its latest saved run with `latest`), collect
    fresh data with that run's config, and decide. Errors name what is missing or stale."""
    from datetime import UTC, datetime, timedelta

    import polars as pl

    from ares_cli.artifacts import decode
    from ares_cli.config import build_config, upgrade_snapshot
    from ares_cli.data.bars import bar_length_ms
    from ares_cli.errors import ConfigError, DataError
    from ares_cli.pipeline import run_steps
    from ares_cli.steps import PRODUCER
    from ares_cli.store.champion import CHAMPION
    from ares_cli.util.command import ares_command

    save, saver = PRODUCER["bundle"].number, PRODUCER["bundle"].name

    runs = [m for m in store.list_runs() if m.exchange == exchange and m.symbol == symbol]
    if latest:
        saved = [m for m in runs if m.step(save).done]
        if not saved:
            raise ConfigError(f"no run of {exchange}/{symbol} has a bundle "
                              f"(step {save} {saver})",
                              hint=ares_command("run-all", exchange=exchange, symbol=symbol))
        manifest = saved[-1]
    else:
        run_id = store.get_ref(exchange, symbol, CHAMPION)
        if run_id is None:
            raise ConfigError(f"{exchange}/{symbol} has no champion",
                              hint="promote one with: ares promote RUN (or use --latest)")
        manifest = next((m for m in runs if m.run_id == run_id), None)
        if manifest is None or not manifest.step(save).done:
            raise ConfigError(f"the champion run {run_id} has no bundle "
                              f"(step {save} {saver})",
                              hint=ares_command("resume", exchange=exchange, symbol=symbol))
    record = manifest.step(save)
    bundle = decode(store.get(record.outputs["bundle"], what="the bundle"), "modelset")
    origin = f"run {manifest.run_id}"
    config = build_config(upgrade_snapshot(manifest.config, origin), origin=origin)
    fresh = run_steps([PRODUCER["trades"], PRODUCER["bars"]], {}, config, exchange=exchange,
                      symbol=symbol, work_dir=store.root)
    base_ms = config.bars.base_ms
    now = datetime.now(UTC)
    # only closed bars: a bar still forming (live data) would change before its close
    cutoff = now - timedelta(milliseconds=base_ms)
    bars = fresh.catalog["bars"].filter(pl.col("timestamp") <= cutoff)
    if bars.height == 0:
        raise DataError(f"no closed {config.bars.base} bar of {exchange}/{symbol} yet")
    fine = fresh.catalog["bars_fine"].filter(
        pl.col("timestamp") < bars["timestamp"][-1] + timedelta(milliseconds=base_ms))
    closed = bars["timestamp"][-1].timestamp() * 1000 + base_ms
    age_min = (now.timestamp() * 1000 - closed) / 60_000
    limit = max_age_minutes
    if limit is None and config.data.source == "ccxt":
        limit = 2 * base_ms / 60_000
    if limit is not None and age_min > limit:
        raise DataError(f"the newest bar of {exchange}/{symbol} closed {age_min:.0f} minutes "
                        f"ago, more than {limit:.0f} allowed: the data is stale")
    decision = decide(bundle, bars, fine, base_ms=base_ms,
                      fine_ms=bar_length_ms(fine, config.bars.fine_ms))
    decision.update(run_id=manifest.run_id, source=config.data.source,
                    bundle="champion" if not latest else "latest",
                    data_age_minutes=round(age_min, 1))
    return decision
