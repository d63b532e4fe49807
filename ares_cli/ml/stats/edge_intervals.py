"""Does a model beat its baseline? A gain, a block-bootstrap interval and a plain verdict.

Rows of a labelled series are not independent: a triple-barrier label spans many bars, so
neighbouring labels share most of their outcome (with mean label uniqueness u, n rows carry about
n·u independent outcomes), and predictions and regimes persist beyond a label's span. The
interval therefore comes from a circular block bootstrap whose block length is the larger of the
mean number of labels alive at once (1/u) and the Politis-White length of the per-row gain
series itself. With fewer than `MIN_BLOCKS` blocks there is too little data to tell: the verdict
is "no edge", and the result says why.

`edge` compares per-row losses (or the AUC) of a model with a baseline on the same rows and
says "edge" only when the 95 % interval of the gain excludes no gain. Pure NumPy.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ares_cli.ml.features.labels import average_uniqueness
from ares_cli.ml.stats.bootstrap import block_indices, optimal_block_length

__all__ = ["EPS", "auc_replicates", "describe", "edge", "log_loss_rows", "overlap_block_length"]

EPS = 1e-6
N_BOOT = 2000
MIN_BLOCKS = 20  # fewer independent blocks than this: no interval worth stating


def overlap_block_length(t0: np.ndarray, t1: np.ndarray) -> tuple[int, float]:
    """(block length in rows, mean uniqueness) of label windows `[t0, t1]` (bar indices)."""
    t0a, t1a = np.asarray(t0, dtype=np.int64), np.asarray(t1, dtype=np.int64)
    if t0a.size == 0:
        return 1, 1.0
    origin = int(t0a.min())
    uniqueness = average_uniqueness(t0a - origin, t1a - origin, int(t1a.max()) - origin + 1)
    mean_u = float(np.clip(np.mean(uniqueness), 1e-9, 1.0))
    return max(1, min(t0a.size, round(1.0 / mean_u))), mean_u


def auc_replicates(p: np.ndarray, y: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """AUC of `p` for labels `y` under each row-count vector of `counts` (n_boot, n).

    The Mann-Whitney statistic with ties counted half, computed for every replicate at once on
    the rows sorted by `p`; NaN where a replicate holds a single class.
    """
    order = np.argsort(p, kind="mergesort")
    ps, ys = p[order], y[order]
    c = counts[:, order].astype(np.float64)
    starts = np.flatnonzero(np.r_[True, ps[1:] != ps[:-1]])
    pos = np.add.reduceat(c * (ys == 1), starts, axis=1)
    neg = np.add.reduceat(c * (ys == 0), starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    wins = (pos * (below + 0.5 * neg)).sum(axis=1)
    pairs = pos.sum(axis=1) * neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pairs > 0, wins / np.where(pairs > 0, pairs, 1.0), np.nan)


def _block_means(values: np.ndarray, starts: np.ndarray, block: int) -> np.ndarray:
    """Mean of `values` over circular blocks of `block` rows starting at `starts` (per row of
    `starts`), from prefix sums: no (n_boot, n) matrix."""
    prefix = np.concatenate([[0.0], np.cumsum(np.concatenate([values, values[:block]]))])
    sums = prefix[starts + block] - prefix[starts]
    return sums.sum(axis=1) / (starts.shape[1] * block)


def log_loss_rows(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-row negative log-likelihood of `p` = P(y = 1), clipped to [EPS, 1 - EPS]."""
    q = np.clip(p, EPS, 1.0 - EPS)
    return -(y * np.log(q) + (1.0 - y) * np.log1p(-q))


def edge(
    model: np.ndarray,
    baseline: np.ndarray,
    y: np.ndarray,
    t0: np.ndarray,
    t1: np.ndarray,
    *,
    metric: str = "log_loss",
    seed: int = 0,
    n_boot: int = N_BOOT,
    model_name: str = "model",
    baseline_name: str = "class prior",
    min_block: int = 1,
) -> dict[str, Any]:
    """The gain of `model` over `baseline` on the same rows, with a 95 % block-bootstrap interval.

    `metric` "log_loss": gain = baseline log-loss - model log-loss (positive: the model is
    better). "auc": gain = model AUC - baseline AUC. Rows must be in time order; `t0`/`t1` are
    their label windows (bar indices), which set the block length. The verdict is "edge" only
    when the whole interval lies above zero. `min_block` (rows) floors the block length: for
    a score like the AUC, whose rows share their features' look-back as well as their label
    windows, pass the look-back plus the label horizon. `effective_n` is the number of blocks
    the interval resampled (the independent pieces it rests on), not n times the uniqueness.
    """
    p, b = np.asarray(model, dtype=np.float64), np.asarray(baseline, dtype=np.float64)
    labels = np.asarray(y, dtype=np.float64)
    n = labels.size
    overlap, uniqueness = overlap_block_length(t0, t1)
    out: dict[str, Any] = {
        "metric": metric, "model_name": model_name, "baseline_name": baseline_name,
        "rows": int(n), "effective_n": None, "block_length": overlap,
        "label_uniqueness": round(uniqueness, 4),
        "model": None, "baseline": None, "gain": None, "ci95": None, "model_ci95": None,
        "verdict": "no edge",
    }
    if n < 2 or np.unique(labels).size < 2:
        out["reason"] = "fewer than two rows or a single class: nothing to compare"
        return out
    lm, lb = log_loss_rows(p, labels), log_loss_rows(b, labels)
    block = min(n, max(overlap, min_block, math.ceil(optimal_block_length(lb - lm)[1])))
    out.update(block_length=block, effective_n=round(n / block, 1))
    rng = np.random.default_rng(seed)
    if metric == "log_loss":
        model_value, base_value = float(lm.mean()), float(lb.mean())
        starts = rng.integers(0, n, size=(n_boot, math.ceil(n / block)))
        gains = _block_means(lb - lm, starts, block)
        model_reps = _block_means(lm, starts, block)
        gain = base_value - model_value
    elif metric == "auc":
        idx = block_indices(n, block, n_boot, rng)
        flat = (np.arange(n_boot)[:, None] * n + idx).ravel()
        counts = np.bincount(flat, minlength=n_boot * n).reshape(n_boot, n)
        ones = np.ones((1, n), dtype=np.int32)
        model_value = float(auc_replicates(p, labels, ones)[0])
        base_value = float(auc_replicates(b, labels, ones)[0])
        model_reps = auc_replicates(p, labels, counts)
        gains = model_reps - auc_replicates(b, labels, counts)
        gain = model_value - base_value
    else:
        raise ValueError(f"metric must be 'log_loss' or 'auc', got {metric!r}")
    out.update(model=model_value, baseline=base_value, gain=gain)
    if n / block < MIN_BLOCKS:
        out["reason"] = (f"{n} rows hold only {n / block:.1f} blocks of {block} dependent rows "
                         f"(< {MIN_BLOCKS}): too little data for an interval")
        return out
    finite = np.isfinite(gains)
    lo, hi = np.quantile(gains[finite], [0.025, 0.975])
    mlo, mhi = np.quantile(model_reps[np.isfinite(model_reps)], [0.025, 0.975])
    out.update(ci95=[float(lo), float(hi)], model_ci95=[float(mlo), float(mhi)],
               verdict="edge" if lo > 0 else "no edge")
    return out


def _num(value: Any, spec: str) -> str:
    """A number in `spec`, or "n/a" for a value that is missing (JSON-cleaned NaN)."""
    return "n/a" if value is None else format(value, spec)


def describe(result: dict[str, Any]) -> str:
    """One line: 'log-loss 0.6565 vs class prior 0.6879 (lower is better; gain +0.0313
    [+0.0089, +0.0545])' or 'AUC 0.62 [0.51, 0.72]', saying so when there is no interval."""
    if result["model"] is None:
        return f"{result['metric']}: {result.get('reason', 'not computed')}"
    model, baseline = _num(result["model"], ".4f"), _num(result.get("baseline"), ".4f")
    if result["ci95"] is None:
        interval = f"no interval: {result.get('reason', 'not computed')}"
        if result["metric"] == "auc":
            return f"AUC {_num(result['model'], '.3f')} ({interval})"
        return (f"log-loss {model} vs {result['baseline_name']} {baseline} "
                f"(lower is better; {interval})")
    if result["metric"] == "auc":
        lo, hi = result["model_ci95"]
        return f"AUC {_num(result['model'], '.3f')} [{_num(lo, '.3f')}, {_num(hi, '.3f')}]"
    lo, hi = result["ci95"]
    return (f"log-loss {model} vs {result['baseline_name']} {baseline} (lower is better; "
            f"gain {_num(result['gain'], '+.4f')} [{_num(lo, '+.4f')}, {_num(hi, '+.4f')}])")
