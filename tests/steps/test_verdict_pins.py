"""Regression pins of the verdict on the synthetic market, seeds fixed once: at `drift_scale` 2
on a one-year market (where the published study found the edge in 20 of 20 seeds, as it did
in 3 of 3 pilot seeds on 240 days) these seeds must say "edge".

The pins ran on the 240-day pilot market until the market was generated a day at a time (a new
draw of the same process): there seed 1 said "no edge" (Sharpe -2.1 [-5.1, 1.3]), as it did
with XGBoost's 256 bins too, so the draw, not a model setting, decided it; on 240 days the
verdict's power at drift 2 is not near one. On 365 days both seeds say "edge" (Sharpe 7.5 and
7.9), each in about two minutes.
The random-walk seeds that must never say it are in `test_random_walk_verdicts.py`. Only the
verdict is pinned: p-values and Sharpes move with any change to the models."""

from __future__ import annotations

import pytest

from ares_cli.config import apply_overrides, build_config
from ares_cli.pipeline import run_steps
from ares_cli.steps import STEPS

pytestmark = pytest.mark.slow

# The pilot settings of `benchmarks/verdict_power.py` (docs/verdict-power.md) on one year.
PILOT = ("data.days=365", "data.trades_per_day=2000", "enhance.n_trials=4", "optimize.trials=60",
         "optimize.population=20", "walk_forward.enhance_trials=1",
         "walk_forward.optimize_trials=24", "data.drift_scale=2.0")


@pytest.mark.parametrize("seed", [1, 2])
def test_a_strong_planted_edge_is_called_an_edge(seed: int) -> None:
    config = build_config(apply_overrides({}, [*PILOT, f"data.seed={seed}"]))
    result = run_steps(STEPS[:14], {}, config)
    mc = result.steps[14].metrics["walk_forward"]
    assert mc["verdict"] == "edge", result.steps[14].summary
    assert mc["looks"] == 1 and not result.steps[14].warnings
