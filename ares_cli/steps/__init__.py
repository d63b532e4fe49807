"""The registry of all 16 steps, in execution order, addressable by number or name.

Each step lives in its own numbered module (`sNN_<name>.py`) and declares its inputs, outputs
and the config it reads. A step declared without a `run` (none today) is failed loudly by the
runner, never skipped.
"""

from __future__ import annotations

import difflib

from ares_cli.errors import ConfigError
from ares_cli.steps.base import Step
from ares_cli.steps.s01_collect import STEP as COLLECT
from ares_cli.steps.s02_regime_classify import STEP as REGIME_CLASSIFY
from ares_cli.steps.s03_regime_split import STEP as REGIME_SPLIT
from ares_cli.steps.s04_analyst_features import STEP as ANALYST_FEATURES
from ares_cli.steps.s05_analyst_train import STEP as ANALYST_TRAIN
from ares_cli.steps.s06_analyst_enhance import STEP as ANALYST_ENHANCE
from ares_cli.steps.s07_analyst_ensemble import STEP as ANALYST_ENSEMBLE
from ares_cli.steps.s08_tactician_label import STEP as TACTICIAN_LABEL
from ares_cli.steps.s09_tactician_train import STEP as TACTICIAN_TRAIN
from ares_cli.steps.s10_tactician_ensemble import STEP as TACTICIAN_ENSEMBLE
from ares_cli.steps.s11_calibrate import STEP as CALIBRATE
from ares_cli.steps.s12_optimize import STEP as OPTIMIZE
from ares_cli.steps.s13_walk_forward import STEP as WALK_FORWARD
from ares_cli.steps.s14_monte_carlo import STEP as MONTE_CARLO
from ares_cli.steps.s15_ab_test import STEP as AB_TEST
from ares_cli.steps.s16_save import STEP as SAVE

STEPS: tuple[Step, ...] = (
    COLLECT, REGIME_CLASSIFY, REGIME_SPLIT, ANALYST_FEATURES, ANALYST_TRAIN, ANALYST_ENHANCE,
    ANALYST_ENSEMBLE, TACTICIAN_LABEL, TACTICIAN_TRAIN, TACTICIAN_ENSEMBLE, CALIBRATE,
    OPTIMIZE, WALK_FORWARD, MONTE_CARLO, AB_TEST, SAVE,
)
BY_NAME = {s.name: s for s in STEPS}
BY_NUMBER = {s.number: s for s in STEPS}
PRODUCER = {name: s for s in STEPS for name in s.all_outputs}
LAST = len(STEPS)  # the number of the last step

assert [s.number for s in STEPS] == list(range(1, LAST + 1)), "steps must be numbered in order"


def resolve(ref: str) -> Step:
    """A step by number ('2') or name ('regime-classify'); unknown names exit 2 listing all."""
    text = ref.strip()
    if text.isdigit() and int(text) in BY_NUMBER:
        return BY_NUMBER[int(text)]
    if text in BY_NAME:
        return BY_NAME[text]
    close = difflib.get_close_matches(text, list(BY_NAME), n=1)
    listing = ", ".join(f"{s.number} {s.name}" for s in STEPS)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    raise ConfigError(f"unknown step '{ref}'.{hint} Valid steps: {listing}")
