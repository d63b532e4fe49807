"""Step 12's search: multi-objective (NSGA-II) choice of the trading rules on the validation window.

Objectives: maximise the annualised Sharpe ratio and minimise the maximum drawdown of the
backtest on the validation bars. A trial that trades fewer than `min_trades` times is infeasible
(Optuna's constraint: `min_trades - trades <= 0`), so never trading is never optimal. The Pareto
front is taken over feasible trials; the chosen point follows `pick`:

* `sharpe_under_drawdown`: the best Sharpe on the front whose drawdown is within
  `max_drawdown`, else the knee;
* `knee`: the front point nearest the ideal (best Sharpe, lowest drawdown) after scaling both
  objectives to [0, 1] over the front.

These figures are selected on validation and therefore optimistic; walk-forward (step 13) gives
the out-of-sample ones. Every trial's per-bar validation returns are kept for the probability of
backtest overfitting (step 14), and the trial count is recorded for the deflated Sharpe.

The study lives in the shared Optuna plumbing (`ml/models/study.py`): memory, a journal file or an
RDB URL, resumable, with N local worker processes or workers on other machines joining by URL.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import field_validator

from ares_cli.ml.features.regimes import REGIMES
from ares_cli.ml.trading.engine import Backtest, Market, Orders, Rules, backtest, metrics
from ares_cli.ml.trading.policy import (
    FLAT_RULE,
    MINIMUM_TRADES,
    NO_PROPOSAL,
    Policy,
    SignalFrame,
    gate_counts,
    orders_for,
    stopped_words,
)
from ares_cli.util.section import Field, Section, list_field

__all__ = [
    "OptimizeConfig",
    "Problem",
    "RuleChoice",
    "SearchResult",
    "Thresholds",
    "baselines",
    "buy_and_hold",
    "knee",
    "neighbour_params",
    "pareto_front",
    "pick",
    "policy_from_params",
    "rule_choice",
    "search",
    "trade",
]


class OptimizeConfig(Section):
    """`[optimize]`: the search budget, its ranges, the feasibility rule and the pick rule."""

    trials: int = Field(120, ge=2)
    population: int = Field(30, ge=2)
    min_trades: int = Field(5, ge=1)  # a trial needs at least this many validation trades ...
    min_trade_rate: float = Field(0.01, ge=0, lt=1)  # ... or this many per validation bar
    pick: Literal["sharpe_under_drawdown", "knee"] = "sharpe_under_drawdown"
    max_drawdown: float = Field(0.25, gt=0, le=1)
    storage: str = ""
    atr_window: int = Field(14, ge=2)
    # thresholds searched as quantiles of the window's own predicted probabilities, so
    # the range fits whatever the models learned on these data
    analyst_margin_quantile: tuple[float, float] = list_field((0.0, 0.8))
    tactician_quantile: tuple[float, float] = list_field((0.0, 0.9))
    k_stop: tuple[float, float] = list_field((0.5, 4.0))
    k_target: tuple[float, float] = list_field((0.5, 6.0))
    k_trail: tuple[float, float] = list_field((0.5, 4.0))
    max_hold: tuple[int, int] = list_field((1, 48))
    cooldown_max: int = Field(12, ge=0)
    entry_delay_max: int = Field(5, ge=0)
    regime_shift_max: float = Field(0.1, ge=0, lt=0.5)
    search_regimes: bool = True
    search_member_weights: bool = True
    search_use_tactician: bool = True  # false: every rule applies the tactician's threshold

    @field_validator("k_stop", "k_target", "k_trail", "max_hold")
    @classmethod
    def _range(cls, value: tuple[Any, Any]) -> tuple[Any, Any]:
        if not (len(value) == 2 and 0 < value[0] <= value[1]):
            raise ValueError(f"must be [low, high] with 0 < low <= high, got {list(value)}")
        return value

    @field_validator("analyst_margin_quantile", "tactician_quantile")
    @classmethod
    def _quantiles(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not (len(value) == 2 and 0 <= value[0] <= value[1] < 1):
            raise ValueError(f"must be [low, high] with 0 <= low <= high < 1, got {list(value)}")
        return value

    def needed_trades(self, bars: int) -> int:
        """The trades a rule needs on a window of `bars` bars to be feasible."""
        return max(self.min_trades, math.ceil(self.min_trade_rate * bars))


@dataclass(frozen=True)
class Thresholds:
    """The references a trial's quantiles map to, from the searched window's predictions (no
    outcome): the analyst's neutral point (the median calibrated P(up)), the proposals'
    distance from it and their calibrated P(pays)."""

    margin: np.ndarray
    take: np.ndarray
    center: float = 0.5

    @staticmethod
    def of(frame: SignalFrame) -> Thresholds:
        """The references from a window's signals."""
        known = np.isfinite(frame.p_up)
        center = float(np.median(frame.p_up[known])) if known.any() else 0.5
        proposal = (frame.side != 0) & known & np.isfinite(frame.p_take)
        return Thresholds(np.sort(np.abs(frame.p_up[proposal] - center)),
                          np.sort(frame.p_take[proposal]), center)

    def margin_at(self, q: float) -> float:
        return float(np.quantile(self.margin, q)) if self.margin.size else 0.0

    def take_at(self, q: float) -> float:
        return float(np.quantile(self.take, q)) if self.take.size else 0.0

    @field_validator("storage")
    @classmethod
    def _storage_spec(cls, value: str) -> str:
        if value and not ((value.startswith("journal:") and len(value) > len("journal:"))
                          or "://" in value):
            raise ValueError("must be '' (memory), 'journal:PATH' or an RDB URL")
        return value


def _suggest(trial: Any, cfg: OptimizeConfig, members: Sequence[str], max_delay: int) -> None:
    """Draw every parameter (unconditionally, so NSGA-II's crossover sees one fixed space)."""
    trial.suggest_float("analyst_margin_q", *cfg.analyst_margin_quantile)
    trial.suggest_categorical("use_tactician",
                              [True, False] if cfg.search_use_tactician else [True])
    trial.suggest_float("tactician_q", *cfg.tactician_quantile)
    trial.suggest_categorical("sizing", ["fixed", "kelly"])
    trial.suggest_float("fixed_size", 0.1, 1.0)
    trial.suggest_float("kelly_fraction", 0.1, 1.0)
    trial.suggest_float("kelly_cap", 0.05, 1.0)
    trial.suggest_float("k_stop", *cfg.k_stop)
    trial.suggest_float("k_target", *cfg.k_target)
    trial.suggest_categorical("trailing", [False, True])
    trial.suggest_float("k_trail", *cfg.k_trail)
    trial.suggest_int("max_hold", *cfg.max_hold)
    trial.suggest_int("cooldown", 0, cfg.cooldown_max)
    trial.suggest_int("entry_delay", 0, max_delay)
    if cfg.search_regimes:
        for name in REGIMES:
            trial.suggest_categorical(f"enable_{name}", [True, False])
            trial.suggest_float(f"shift_{name}", -cfg.regime_shift_max, cfg.regime_shift_max)
    if cfg.search_member_weights:
        for name in members:
            trial.suggest_float(f"weight_{name}", 0.0, 1.0)


def policy_from_params(params: dict[str, Any], members: Sequence[str] = (),
                       thresholds: Thresholds | None = None) -> Policy:
    """The policy a trial's parameters describe (the inverse of the search space): quantiles
    map to absolute thresholds through the training references `thresholds`."""
    weights = None
    if members and all(f"weight_{m}" in params for m in members):
        w = tuple(float(params[f"weight_{m}"]) for m in members)
        weights = w if sum(w) > 0 else tuple(1.0 for _ in members)
    if "analyst_margin_q" in params:
        refs = thresholds or Thresholds(np.zeros(0), np.zeros(0))
        margin = refs.margin_at(float(params["analyst_margin_q"]))
        threshold = refs.take_at(float(params["tactician_q"]))
        center = refs.center
    else:  # absolute thresholds (a stored policy)
        margin, threshold = float(params["analyst_margin"]), float(params["tactician_threshold"])
        center = float(params.get("analyst_center", 0.5))
    return Policy(
        analyst_margin=margin,
        analyst_center=center,
        use_tactician=bool(params.get("use_tactician", True)),
        tactician_threshold=threshold,
        sizing=str(params["sizing"]),
        fixed_size=float(params["fixed_size"]),
        kelly_fraction=float(params["kelly_fraction"]),
        kelly_cap=float(params["kelly_cap"]),
        k_stop=float(params["k_stop"]),
        k_target=float(params["k_target"]),
        k_trail=float(params["k_trail"]) if params["trailing"] else 0.0,
        max_hold=int(params["max_hold"]),
        cooldown=int(params["cooldown"]),
        entry_delay=int(params["entry_delay"]),
        regime_enabled={r: bool(params[f"enable_{r}"]) for r in REGIMES
                        if f"enable_{r}" in params},
        regime_shift={r: float(params[f"shift_{r}"]) for r in REGIMES if f"shift_{r}" in params},
        member_weights=weights,
    )


@dataclass(frozen=True)
class Problem:
    """Everything a worker needs to score a trial (picklable, sent to worker processes)."""

    market: Market
    frame: SignalFrame
    cfg: OptimizeConfig
    bars_per_year: float
    max_delay: int
    fee: float  # per side, a fraction of the traded value ([costs])
    slippage: float
    thresholds: Thresholds  # the training references of the searched quantiles
    workers: int = 1
    hold_anchor: int | None = None  # the label horizon: the holding time the analyst predicts

    @property
    def min_trades(self) -> int:
        """Validation trades a rule needs to be feasible on this window."""
        return self.cfg.needed_trades(self.market.n_base)

    def policy(self, params: dict[str, Any]) -> Policy:
        """The policy of a trial's parameters on this problem."""
        return policy_from_params(params, self.frame.member_names, self.thresholds)

    def run(self, policy: Policy | None) -> Backtest:
        """The backtest of `policy` on the window; None trades nothing (flat)."""
        return trade(self.market, self.frame, policy, fee=self.fee, slippage=self.slippage,
                     bars_per_year=self.bars_per_year)

    def objective(self, trial: Any) -> tuple[float, float]:
        _suggest(trial, self.cfg, self.frame.member_names, self.max_delay)
        result = self.run(self.policy(trial.params))
        m = result.metrics()
        trial.set_user_attr("trades", m["trades"])
        trial.set_user_attr("total_return", m["total_return"])
        # Feasible when <= 0 (Optuna's constraint convention; NSGA-II ranks infeasible last).
        trial.set_constraint("min_trades", float(self.min_trades - m["trades"]))
        return m["sharpe"], m["max_drawdown"]


def trade(market: Market, frame: SignalFrame | None, policy: Policy | None, *, fee: float,
          slippage: float, bars_per_year: float) -> Backtest:
    """Trade `policy` on `market` with the signals `frame`; None (no feasible rule, or no
    model to give signals) is flat."""
    if policy is None:
        n = market.n_base
        orders = Orders.constant(np.zeros(n, dtype=np.int64))
        return backtest(market, orders, Rules(fee=fee, slippage=slippage),
                        bars_per_year=bars_per_year)
    if frame is None:
        raise ValueError("a rule needs the signals it reads")
    rules = policy.rules(fee=fee, slippage=slippage)
    return backtest(market, orders_for(frame, policy), rules, bars_per_year=bars_per_year)


def anchor_params(cfg: OptimizeConfig, members: Sequence[str], max_delay: int,
                  hold: int | None = None) -> list[dict[str, Any]]:
    """The simplest rules of the searched family, the first trials of every new study: trade
    each analyst proposal at full size in every regime, ignore the tactician (when that is
    searched), stops and targets at the widest searched distance, no trailing, no cooldown or
    delay; hold for `hold` bars (the label horizon, what the analyst was trained to predict)
    and for the longest searched time, each with every proposal and with the stronger half of
    them. NSGA-II then searches from there; without them a small budget over this many
    dimensions starts from random rules only, and the pick on a short validation window is
    among noisy ones. (Found by a diagnostic on the demo market's test window, where random
    rules averaged a Sharpe of 2.0 and these 5 to 7: that window has been looked at; the
    size and power study, on fresh seeds, is the clean measure of the change.)"""
    low, high = cfg.max_hold
    holds = sorted({min(high, max(low, hold if hold else high)), high})
    margins = sorted({cfg.analyst_margin_quantile[0], sum(cfg.analyst_margin_quantile) / 2})
    base: dict[str, Any] = {
        "use_tactician": not cfg.search_use_tactician, "tactician_q": cfg.tactician_quantile[0],
        "sizing": "fixed", "fixed_size": 1.0, "kelly_fraction": 0.5, "kelly_cap": 1.0,
        "k_stop": cfg.k_stop[1], "k_target": cfg.k_target[1], "trailing": False,
        "k_trail": cfg.k_trail[1], "cooldown": 0, "entry_delay": 0,
    }
    if cfg.search_regimes:
        base.update({f"enable_{r}": True for r in REGIMES})
        base.update({f"shift_{r}": 0.0 for r in REGIMES})
    if cfg.search_member_weights:
        base.update({f"weight_{m}": 1.0 for m in members})
    return [{**base, "max_hold": h, "analyst_margin_q": q} for h in holds for q in margins]


def _enqueue_anchors(study: Any, anchors: Sequence[dict[str, Any]]) -> None:
    """The anchors as the first trials of a study that has none (a resumed or joined study
    keeps what it holds)."""
    if not study.get_trials(deepcopy=False):
        for params in anchors:
            study.enqueue_trial(params)


def _sampler_factory(population: int) -> Callable[[int], Any]:
    def make(seed: int) -> Any:
        import optuna

        return optuna.samplers.NSGAIISampler(population_size=population, seed=seed)
    return make


def _work(problem: Problem, storage: str, name: str, seed: int) -> None:
    """One worker: join the study and run trials until it holds `trials` complete ones."""
    from ares_cli.ml.models.study import make_storage, open_study, quiet_optuna, run_until_complete

    with quiet_optuna():
        study, _ = open_study(name, make_storage(storage), ["maximize", "minimize"])
        run_until_complete(study, problem.objective, problem.cfg.trials,
                           sampler_factory=_sampler_factory(problem.cfg.population), seed=seed)


def pareto_front(sharpe: np.ndarray, drawdown: np.ndarray, feasible: np.ndarray) -> np.ndarray:
    """Indices of the feasible points no other feasible point dominates (Sharpe at least as
    high and drawdown at least as low, one strictly), in input order. Duplicates all stay."""
    idx = np.flatnonzero(feasible)
    s, d = sharpe[idx], drawdown[idx]
    keep = []
    for k in range(idx.size):
        dominated = ((s >= s[k]) & (d <= d[k]) & ((s > s[k]) | (d < d[k]))).any()
        if not dominated:
            keep.append(idx[k])
    return np.asarray(keep, dtype=np.int64)


def knee(sharpe: np.ndarray, drawdown: np.ndarray) -> int:
    """Position of the point nearest (best Sharpe, lowest drawdown) once both objectives are
    scaled to [0, 1] over the points given; ties go to the earlier point."""
    def scale(x: np.ndarray) -> np.ndarray:
        span = x.max() - x.min()
        return (x - x.min()) / span if span > 0 else np.zeros_like(x)

    distance = np.hypot(1.0 - scale(sharpe), scale(drawdown))
    return int(np.argmin(distance))


def pick(sharpe: np.ndarray, drawdown: np.ndarray, rule: str,
         max_drawdown: float) -> tuple[int, str]:
    """(position among the front points given, why) under `rule`."""
    if rule == "sharpe_under_drawdown":
        within = np.flatnonzero(drawdown <= max_drawdown)
        if within.size:
            best = within[np.lexsort((drawdown[within], -sharpe[within]))[0]]
            return int(best), (f"best Sharpe on the front with maximum drawdown <= "
                               f"{max_drawdown:.0%}")
        return knee(sharpe, drawdown), (f"no front point has maximum drawdown <= "
                                        f"{max_drawdown:.0%}: the knee of the front")
    if rule == "knee":
        return knee(sharpe, drawdown), "the knee of the front"
    raise ValueError(f"unknown pick rule {rule!r}")


def buy_and_hold(market: Market, *, fee: float, slippage: float,
                 bars_per_year: float) -> Backtest:
    """All equity bought at the open after the first base close and sold at the last fine
    close, with the same fees and slippage as the strategy."""
    side = np.zeros(market.n_base, dtype=np.int64)
    if market.gap is None:
        side[0] = 1
    else:  # a gap closes every position: buy again at the first bar after each one
        gap = np.asarray(market.gap, dtype=bool)
        side[np.flatnonzero(~gap & np.concatenate(([True], gap[:-1])))] = 1
    return backtest(market, Orders.constant(side), Rules(fee=fee, slippage=slippage),
                    bars_per_year=bars_per_year)


def baselines(market: Market, *, fee: float, slippage: float,
              bars_per_year: float) -> dict[str, dict[str, Any]]:
    """Flat and buy-and-hold (`buy_and_hold`) on the same bars."""
    n = market.n_base
    empty = {k: np.zeros(0) for k in Backtest.TRADE_COLUMNS}
    hold = buy_and_hold(market, fee=fee, slippage=slippage, bars_per_year=bars_per_year)
    return {"flat": metrics(np.zeros(n), np.ones(n), empty, bars_per_year),
            "buy_and_hold": hold.metrics()}


@dataclass(frozen=True)
class SearchResult:
    """What the search found."""

    trials: list[dict[str, Any]]  # number, params, sharpe, max_drawdown, trades, feasible
    front: list[int]  # trial numbers on the Pareto front
    chosen: int | None  # trial number; None: no trial was feasible, the rule is to stay flat
    why: str
    chosen_backtest: Backtest
    returns: dict[int, np.ndarray]  # per trial number: per-bar validation returns
    notes: list[str]
    gates: dict[str, Any]  # when flat: the gate that kept it so, and the busiest trial's counts
    neighbours: dict[str, Any]  # the chosen point's neighbours re-scored (robustness)


def _inert(name: str, params: dict[str, Any]) -> bool:
    """Whether a parameter has no effect on the rule `params` describe (a move of it would be
    a neighbour identical to the point itself)."""
    no_tactician = not params.get("use_tactician", True)
    kelly = params.get("sizing") == "kelly"
    return ((no_tactician and (name == "tactician_q" or name.startswith(("shift_", "weight_"))))
            or (name.startswith("kelly_") and not kelly) or (name == "fixed_size" and kelly)
            or (name == "k_trail" and not params.get("trailing", False))
            or (name.startswith("shift_")
                and params.get(f"enable_{name.removeprefix('shift_')}") is False))


def neighbour_params(params: dict[str, Any], distributions: dict[str, Any]) -> list[dict]:
    """One-parameter moves around a point: floats by +-10 % of their searched range, integers
    by +-1 (both clipped to the range), booleans and other choices flipped to each other; a
    parameter the rule does not use is left alone."""
    out = []
    for name, dist in sorted(distributions.items()):
        if _inert(name, params):
            continue
        value = params[name]
        kind = type(dist).__name__
        if kind == "CategoricalDistribution":
            moves = [c for c in dist.choices if c != value]
        elif kind == "IntDistribution":
            moves = [v for v in (value - 1, value + 1) if dist.low <= v <= dist.high]
        else:
            step = 0.1 * (dist.high - dist.low)
            moves = sorted({min(dist.high, max(dist.low, value + d)) for d in (-step, step)}
                           - {value})
        out += [{**params, name: move} for move in moves]
    return out


def _neighbours(problem: Problem, trial: Any, sharpe: float) -> dict[str, Any]:
    """The chosen point's neighbours' validation Sharpes; fragile when their median is below
    half its own (a peak the search found, not a plateau it can stand on)."""
    scores = [problem.run(problem.policy(p)).metrics()["sharpe"]
              for p in neighbour_params(dict(trial.params), trial.distributions)]
    median = float(np.median(scores)) if scores else None
    return {"count": len(scores), "median_sharpe": median, "chosen_sharpe": float(sharpe),
            "fragile": bool(median is not None and median < 0.5 * sharpe)}


def search(problem: Problem, *, study_name: str, seed: int, work_dir: Path | None = None,
           progress: Callable[[float, str], None] = lambda *_: None) -> SearchResult:
    """Run (or resume) the study and read off the front, the chosen point and every trial's
    returns. With several workers and in-memory storage, a journal file in a temporary folder
    is shared by the processes for the step's duration."""
    from ares_cli.ml.models.study import (
        complete_trials,
        join_workers,
        make_storage,
        open_study,
        quiet_optuna,
        shared_storage,
        start_workers,
    )

    cfg = problem.cfg
    notes: list[str] = []
    anchors = anchor_params(cfg, problem.frame.member_names, problem.max_delay,
                            problem.hold_anchor)
    with shared_storage(cfg.storage, problem.workers, work_dir,
                        "optimize.storage") as (storage, note):
        notes += [note] if note else []
        if storage:
            progress(0.05, f"{problem.workers} worker(s) on study {study_name}")
            with quiet_optuna():
                _enqueue_anchors(open_study(study_name, make_storage(storage),
                                            ["maximize", "minimize"])[0], anchors)
            others = start_workers(problem.workers - 1, _work, problem, storage, study_name,
                                   seed)
            _work(problem, storage, study_name, seed)
            join_workers(others, "optimize")
            with quiet_optuna():
                study, _ = open_study(study_name, make_storage(storage),
                                      ["maximize", "minimize"])
        else:
            from ares_cli.ml.models.study import run_until_complete

            progress(0.05, "NSGA-II in memory")
            with quiet_optuna():
                study, _ = open_study(study_name, None, ["maximize", "minimize"])
                _enqueue_anchors(study, anchors)
                run_until_complete(study, problem.objective, cfg.trials,
                                   sampler_factory=_sampler_factory(cfg.population), seed=seed)
        done = complete_trials(study)
    progress(0.8, "front, chosen point and per-trial returns")
    sharpe = np.array([t.values[0] for t in done])
    dd = np.array([t.values[1] for t in done])
    trades = np.array([int(t.user_attrs["trades"]) for t in done])
    needed = problem.min_trades
    feasible = trades >= needed
    front = pareto_front(sharpe, dd, feasible)
    gates: dict[str, Any] = {}
    chosen_pos = -1
    if front.size:
        position, why = pick(sharpe[front], dd[front], cfg.pick, cfg.max_drawdown)
        chosen_pos = int(front[position])
        if sharpe[chosen_pos] <= 0:  # never prefer a rule that lost where it was chosen
            why = (f"{FLAT_RULE}: the rule picked ({why}) has validation Sharpe "
                   f"{sharpe[chosen_pos]:.2f} <= 0, so staying flat is better")
            gates = {"blocked_by": FLAT_RULE}
            chosen_pos = -1
    else:
        busiest = int(np.argmax(trades)) if trades.size else -1
        counts = (gate_counts(problem.frame, problem.policy(done[busiest].params))
                  if busiest >= 0 else {"proposals": int((problem.frame.side != 0).sum())})
        gates = {"blocked_by": NO_PROPOSAL if counts["proposals"] == 0 else MINIMUM_TRADES,
                 "busiest_trial": counts}
        if counts["proposals"] == 0:
            why = (f"{NO_PROPOSAL}: the analyst proposed no trade on the validation window, so "
                   "the rule chosen is to stay flat")
        else:
            stopped = stopped_words(counts)
            why = (f"{MINIMUM_TRADES}: no trial traded {needed} times on the validation "
                   f"window (optimize.min_trades / min_trade_rate; the most was "
                   f"{int(trades.max(initial=0))}; of its {counts['proposals']} proposals the "
                   f"gates stopped: {stopped}); the rule chosen is to stay flat")
    returns: dict[int, np.ndarray] = {}
    rows = []
    chosen_bt = None
    for k, t in enumerate(done):
        bt = problem.run(problem.policy(t.params))
        m = bt.metrics()
        if not (np.isclose(m["sharpe"], t.values[0], rtol=1e-9, atol=1e-12)
                and np.isclose(m["max_drawdown"], t.values[1], rtol=1e-9, atol=1e-12)):
            raise RuntimeError(f"trial {t.number} does not reproduce: stored Sharpe "
                               f"{t.values[0]}, re-run {m['sharpe']}")
        returns[t.number] = bt.returns
        if k == chosen_pos:
            chosen_bt = bt
        rows.append({"number": t.number, "params": dict(t.params), "sharpe": float(sharpe[k]),
                     "max_drawdown": float(dd[k]), "total_return": m["total_return"],
                     "trades": int(trades[k]), "feasible": bool(feasible[k])})
    neighbours: dict[str, Any] = {}
    if chosen_bt is None:  # nothing feasible: flat
        chosen_bt = problem.run(None)
    else:
        progress(0.9, "re-scoring the chosen point's neighbours")
        neighbours = _neighbours(problem, done[chosen_pos], float(sharpe[chosen_pos]))
    return SearchResult(rows, [int(done[k].number) for k in front],
                        int(done[chosen_pos].number) if chosen_pos >= 0 else None, why,
                        chosen_bt, returns, notes, gates, neighbours)


def trial_tables(result: SearchResult, bar_index: np.ndarray) -> tuple[Any, Any, Any]:
    """(every trial with its parameters and objectives, the Pareto front, per-bar returns of
    every trial as columns `r<number>`) as polars tables."""
    import polars as pl

    front = set(result.front)
    rows = []
    for t in result.trials:
        row = {k: v for k, v in t.items() if k != "params"}
        row.update(on_front=t["number"] in front, chosen=t["number"] == result.chosen)
        row.update({f"param_{k}": v for k, v in sorted(t["params"].items())})
        rows.append(row)
    trials = pl.DataFrame(rows).sort("number")
    pareto = trials.filter(pl.col("on_front")).sort("sharpe", descending=True)
    returns = pl.DataFrame({"bar_index": bar_index,
                            **{f"r{n}": result.returns[n] for n in sorted(result.returns)}})
    return trials, pareto, returns


@dataclass(frozen=True)
class RuleChoice:
    """What step 12 keeps of a search: the params the folds and later steps trade with, the
    metrics under `data` and `validation` (selected there, so optimistic), and its tables."""

    params: dict[str, Any]
    data: dict[str, Any]
    validation: dict[str, Any]
    trials: Any  # pl.DataFrame: every trial with its parameters and objectives
    pareto: Any  # pl.DataFrame: the feasible undominated trials (empty when none)
    returns: Any  # pl.DataFrame: per-bar validation returns of every trial
    trades: Any | None  # pl.DataFrame of the chosen rule's validation trades, None if none


def _deflated(result: SearchResult) -> dict[str, Any]:
    """The PSR (against 0) and DSR of the chosen rule's validation Sharpe, deflated over the
    search that chose it on these bars: N = the completed trials, the variance of their
    per-bar validation Sharpes. N overstates the independent tries (NSGA-II's trials are
    correlated), so the DSR errs low. None, with the reason, for a flat choice."""
    from ares_cli.ml.stats.sharpe_ratios import (  # scipy: imported when used
        deflated_sharpe,
        probabilistic_sharpe,
        sharpe,
        sharpe_moments,
    )

    returns = result.chosen_backtest.returns
    if result.chosen is None or not np.std(returns) > 0:
        return {"psr": None, "dsr": None, "deflation_note": "flat: no Sharpe to deflate"}
    # N counts every completed trial; the spread is of those that traded (flat ones would add
    # zeros that shrink it and make the DSR less conservative)
    traded = np.array([sharpe(r) for r in result.returns.values() if np.std(r) > 0])
    m = sharpe_moments(returns)
    var = float(np.var(traded, ddof=1)) if traded.size > 1 else 0.0
    n_trials = len(result.returns)
    return {"psr": float(probabilistic_sharpe(m.sr, 0.0, m.n, m.skew, m.kurt)),
            "dsr": float(deflated_sharpe(m.sr, m.n, m.skew, m.kurt, n_trials=max(n_trials, 2),
                                         var_trial_srs=var)),
            "dsr_trials": int(n_trials), "dsr_trial_sharpe_variance": var}


def rule_choice(problem: Problem, result: SearchResult, bar_index: np.ndarray, *,
                trials_before: int) -> RuleChoice:
    """The chosen rule (or flat) with its validation record and the baselines on the same
    bars; `trials_before` counts configurations earlier searches tried (step 6)."""
    chosen = result.chosen_backtest.metrics()
    base = baselines(problem.market, fee=problem.fee, slippage=problem.slippage,
                     bars_per_year=problem.bars_per_year)
    trials, pareto, returns = trial_tables(result, bar_index)
    policy = None
    if result.chosen is not None:
        trial = next(t for t in result.trials if t["number"] == result.chosen)
        policy = problem.policy(trial["params"]).to_dict()
    total = trials_before + len(result.trials)
    params = {
        "policy": policy,
        "fee": problem.fee, "slippage": problem.slippage, "atr_window": problem.cfg.atr_window,
        "bars_per_year": problem.bars_per_year,
        "member_names": list(problem.frame.member_names),
        "trial": result.chosen, "why": result.why,
        "fragile": bool(result.neighbours.get("fragile", False)),
        "trials": len(result.trials), "trials_step6": trials_before,
        "trials_search_total": total,
        "validation_metrics": {k: chosen[k] for k in ("sharpe", "max_drawdown", "total_return",
                                                       "trades")},
    }
    data = {"trials": len(result.trials), "pareto_size": len(result.front),
            "feasible": int(sum(t["feasible"] for t in result.trials)),
            "min_trades": problem.min_trades, "trials_step6": trials_before,
            "trials_search_total": total, "chosen_trial": result.chosen, "pick": result.why,
            "bars_per_year": problem.bars_per_year, "workers": problem.workers,
            "gates": result.gates, "neighbours": result.neighbours,
            "thresholds": {"training_proposals": int(problem.thresholds.take.size)}}
    chosen.update(_deflated(result))
    validation = {"chosen": chosen, "baselines": base, "bars": int(bar_index.size)}
    trades = (result.chosen_backtest.trade_table(problem.market)
              if result.chosen_backtest.n_trades else None)
    return RuleChoice(params, data, validation, trials, pareto, returns, trades)
