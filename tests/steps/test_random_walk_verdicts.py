"""On a driftless random walk nothing is there to find: over five seeds step 14 never says
"edge" and step 15 keeps the baselines. Only the verdict is asserted: a per-seed p-value above
alpha is a coin flip, not a regression pin (the size is measured by `make power`)."""

from __future__ import annotations

import copy

import pytest

from ares_cli.config import build_config
from ares_cli.pipeline import run_steps
from ares_cli.steps import STEPS
from tests.conftest import SMALL

pytestmark = pytest.mark.slow

# A small, fast recipe: 45 days, light models, two folds, few replicates.
FAST = {
    "compute": {"n_jobs": 1},
    "analyst": {"num_boost_round": 20, "n_splits": 3, "n_threads": 1},
    "ensemble": {"inner_splits": 2},
    "tactician_model": {"bags": 1, "n_splits": 3, "num_boost_round": 40, "n_threads": 1},
    "enhance": {"n_trials": 1},
    "calibration": {"n_splits": 3},
    "walk_forward": {"folds": 2, "enhance_trials": 1, "optimize_trials": 8},
    "monte_carlo": {"n_boot": 200, "n_perm": 200, "n_shuffle": 200},
    "ab_test": {"n_boot": 300},
}


def random_walk_config(seed: int):
    raw = copy.deepcopy(SMALL)
    raw["data"] = {**raw["data"], "days": 45, "regimes": False, "seed": seed}
    for section, values in FAST.items():
        raw[section] = {**raw.get(section, {}), **values}
    return build_config(raw)


@pytest.mark.parametrize("seed", [11, 12, 13, 14, 15])
def test_random_walk_has_no_edge_and_the_baselines_are_kept(seed: int) -> None:
    result = run_steps(STEPS[:15], {}, random_walk_config(seed))
    mc = result.steps[14].metrics["walk_forward"]
    ab = result.steps[15].metrics["test"]
    assert mc["verdict"] in ("no edge", "not tested"), result.steps[14].summary
    assert ab["decision"] == "keep", result.steps[15].summary
    assert result.steps[14].warnings, "no edge must be told to the user"
