"""Steps 1 and 2 with trades as day chunks: digests that do not depend on the process or on
polars' thread count, and a store from before chunks (trades as one table) still read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ares_cli.config import build_config
from ares_cli.data.chunks import TradeChunks
from ares_cli.pipeline import run_steps
from ares_cli.steps import PRODUCER

SMALL_MARKET = ("--set", "data.days=20", "--set", "data.trades_per_day=3000",
                "--set", "data.outages=1")


def _digests(store: Path, threads: int) -> dict[str, str]:
    """Steps 1-2 in a fresh `ares` process with POLARS_MAX_THREADS = `threads`."""
    env = {**os.environ, "ARES_STORE": str(store), "POLARS_MAX_THREADS": str(threads)}
    done = subprocess.run(
        [sys.executable, "-m", "ares_cli", "run-all", "--to", "2", "--json", "--force",
         *SMALL_MARKET], env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout)
    return {name: digest for step in summary["steps"][:2]
            for name, digest in step["outputs"].items()}


@pytest.mark.slow  # three fresh processes of steps 1-2
def test_trades_and_bars_digests_are_the_same_in_fresh_processes_at_any_thread_count(tmp_path):
    one = _digests(tmp_path / "a", 1)
    assert set(one) >= {"trades", "bars", "bars_fine", "regimes"}
    assert _digests(tmp_path / "b", 4) == one
    assert _digests(tmp_path / "c", 2) == one


def test_a_store_from_before_chunks_trades_as_one_table_gives_the_same_bars():
    """Step 2 reads an old store's `trades` table as one chunk: the same bars and regimes."""
    config = build_config({"data": {"days": 20, "trades_per_day": 3000, "outages": 1}})
    fresh = run_steps([PRODUCER["trades"], PRODUCER["bars"]], {}, config)
    chunks = fresh.catalog["trades"]
    assert isinstance(chunks, TradeChunks) and len(chunks.chunks) == 20
    old = run_steps([PRODUCER["bars"]], {"trades": chunks.collect(),
                                          "true_regimes": fresh.catalog["true_regimes"]}, config)
    step = PRODUCER["bars"].number
    assert old.steps[step].digests == fresh.steps[step].digests
    assert old.steps[step].metrics == fresh.steps[step].metrics
