"""Walk-forward folds (step 13): their plan, the stitched out-of-sample record, parameter stability.

The folds' test spans tile the end of the history: K spans of `test_bars` bars (by default the
length of step 3's test window), the last one ending with the data, so the last fold trades
exactly the test window when the spans have its length. Fold k learns on its own past only:

* anchored: every bar from the start up to the test span, less a gap of purge + embargo bars;
* rolling: the `train_bars` bars before that gap.

Inside its past a fold keeps the last `validation` share (after another gap) as the validation
window its steps 7 to 12 score and choose on, and the rest for training; its test span is the
"test" window of its own pipeline, whose outcomes those steps never read. Pure and I/O-free.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ares_cli.ml.trading.policy import NO_PROPOSAL, stopped_words
from ares_cli.util.section import Field, Section

__all__ = ["ComputeConfig", "Fold", "WalkForwardConfig", "fold_gate_words", "parameter_stability",
           "plan_folds"]


class ComputeConfig(Section):
    """`[compute]`: where independent work (walk-forward folds) runs.

    `local` uses `n_jobs` joblib (loky) processes on this machine; `dask` sends the folds to the
    Dask scheduler at `scheduler` (e.g. "tcp://10.0.0.5:8786"), whose workers need ares and the
    same library versions installed. A lost worker's fold is re-run by Dask. A resource, not a
    recipe: it is in no action key (the backends give identical results), and the run's
    manifest records what was used.
    """

    backend: Literal["local", "dask"] = "local"
    scheduler: str = ""
    n_jobs: int = Field(2, ge=1, le=256)
    # threads for independent model fits in one process (CV folds, bags): results identical
    fit_threads: int = Field(2, ge=1, le=256)


class WalkForwardConfig(Section):
    """`[walk_forward]`: the folds and the (small) search budgets each fold re-runs with."""

    folds: int = Field(0, ge=0, le=50)  # 0: as many as fit, up to max_auto_folds
    max_auto_folds: int = Field(3, ge=1, le=50)
    scheme: Literal["anchored", "rolling"] = "anchored"
    test_bars: int = Field(0, ge=0)  # 0: the length of step 3's test window
    train_bars: int = Field(0, ge=0)  # rolling: bars of each fold's past (0: the first fold's)
    validation: float = Field(0.25, gt=0, lt=1)  # share of a fold's past used as validation
    enhance_trials: int = Field(2, ge=1)  # step 6 trials per member inside each fold
    optimize_trials: int = Field(40, ge=2)  # step 12 trials inside each fold
    min_train_bars: int = Field(250, ge=10)


@dataclass(frozen=True)
class Fold:
    """Global bar-index bounds [start, end) of one fold's windows (`start` = first bar read)."""

    number: int
    start: int
    train: tuple[int, int]
    validation: tuple[int, int]
    test: tuple[int, int]

    def to_dict(self) -> dict[str, Any]:
        return {"fold": self.number, "start": self.start, "train": list(self.train),
                "validation": list(self.validation), "test": list(self.test)}


def plan_folds(n: int, test_start: int, cfg: WalkForwardConfig, gap: int) -> list[Fold]:
    """The folds over `n` bars whose last test span ends at `n` (see the module docstring).

    `test_start` is where step 3's test window starts; `gap` is purge + embargo bars. With
    `folds = 0` the count is the largest, up to `max_auto_folds`, whose first fold still trains
    on `min_train_bars` bars (a short history gets fewer folds rather than starved ones).

    Raises:
        ValueError: naming the key to change when a fold's training or validation part would
            be smaller than allowed (with `folds = 0`: even one fold).
    """
    if cfg.folds == 0:
        for k in range(cfg.max_auto_folds, 1, -1):
            try:
                return _plan(n, test_start, cfg, gap, k)
            except ValueError:
                continue
        return _plan(n, test_start, cfg, gap, 1)
    return _plan(n, test_start, cfg, gap, cfg.folds)


def _plan(n: int, test_start: int, cfg: WalkForwardConfig, gap: int, count: int) -> list[Fold]:
    span = cfg.test_bars or (n - test_start)
    if span <= 0:
        raise ValueError("the test window is empty: walk_forward needs test spans")
    first = n - count * span
    folds = []
    past_len_first = first - gap
    rolling_len = cfg.train_bars or past_len_first
    for k in range(count):
        test = (first + k * span, first + (k + 1) * span)
        past_end = test[0] - gap
        start = 0 if cfg.scheme == "anchored" else max(0, past_end - rolling_len)
        past = past_end - start
        val_len = int(np.floor(past * cfg.validation))
        train_end = start + past - val_len - gap
        train = (start, train_end)
        validation = (train_end + gap, past_end)
        if train_end - start < cfg.min_train_bars or val_len < 1:
            raise ValueError(
                f"walk-forward fold {k + 1} of {count} would train on "
                f"{max(train_end - start, 0)} bars and validate on {max(val_len, 0)} "
                f"(spans of {span} test bars over {n} bars, gaps of {gap}); it needs at least "
                f"{cfg.min_train_bars} training bars (walk_forward.min_train_bars): lower "
                "walk_forward.folds or walk_forward.test_bars, or collect more data")
        folds.append(Fold(k + 1, start, train, validation, test))
    return folds


def parameter_stability(chosen: list[dict[str, Any]]) -> dict[str, Any]:
    """How the chosen parameters vary across folds: numbers get mean, standard deviation and
    range; other values the share of folds that chose the most common one."""
    keys = sorted({k for c in chosen for k in c})
    out: dict[str, Any] = {}
    for key in keys:
        values = [c.get(key) for c in chosen]
        numeric = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        if len(numeric) == len(values) and values:
            a = np.asarray(numeric, dtype=np.float64)
            out[key] = {"mean": float(a.mean()), "std": float(a.std()),
                        "min": float(a.min()), "max": float(a.max()), "values": numeric}
        else:
            text = [repr(v) for v in values]
            common = max(set(text), key=text.count)
            out[key] = {"mode": common, "mode_share": text.count(common) / len(text),
                        "values": text}
    return out


def fold_gate_words(fold: dict[str, Any]) -> str:
    """Why a fold traded little, in the shared gate names: its step 12 stayed flat (and why),
    or its test span's proposals and what each gate stopped (step 14's "not tested" reason,
    and the report's sentence for an empty record)."""
    if fold["params"]["policy"] is None:
        return f"fold {fold['fold']} stayed flat: {fold['params']['why']}"
    gates = fold["metrics"].get("gates")
    trades = fold["metrics"]["rules"]["trades"]
    if not gates:  # a record from before the gates were kept
        return f"fold {fold['fold']}: {trades} trade(s)"
    if gates["proposals"] == 0:
        return f"fold {fold['fold']}: {NO_PROPOSAL} on its test span"
    return (f"fold {fold['fold']}: {trades} trade(s) from {gates['proposals']} test proposals; "
            f"the gates stopped {stopped_words(gates)}; {gates['passed']} passed (an open "
            "trade or the cooldown absorbs the rest)")
