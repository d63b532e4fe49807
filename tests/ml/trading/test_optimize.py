"""Step 12's search: Pareto front, pick rule, minimum trades, workers, resume."""

from __future__ import annotations

import numpy as np
import pytest

from ares_cli.ml.features.regimes import REGIMES
from ares_cli.ml.trading.engine import Market
from ares_cli.ml.trading.optimize import (
    OptimizeConfig,
    Problem,
    Thresholds,
    anchor_params,
    baselines,
    knee,
    neighbour_params,
    pareto_front,
    pick,
    rule_choice,
    search,
)
from ares_cli.ml.trading.policy import Policy, SignalFrame, gate_counts

FINE_PER_BASE = 12


def _problem(n_base: int = 300, seed: int = 0, workers: int = 1, drift: float = 0.0,
             longs_only: bool = False, **cfg: object) -> Problem:
    rng = np.random.default_rng(seed)
    n_fine = n_base * FINE_PER_BASE
    close = 100 * np.exp(np.cumsum(rng.normal(drift, 0.002, n_fine)))
    open_ = np.concatenate(([100.0], close[:-1]))
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.001, n_fine)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.001, n_fine)))
    fine_us = np.arange(n_fine, dtype=np.int64) * 60_000_000
    market = Market.from_bars(fine_us[::FINE_PER_BASE], FINE_PER_BASE * 60_000, fine_us, open_,
                              high, low, close)
    p_up = np.clip(0.5 + rng.normal(0, 0.08, n_base), 0.01, 0.99)
    side = np.where(p_up > 0.56, 1, np.where(p_up < 0.44, -1, 0)).astype(np.int64)
    if longs_only:
        p_up, side = np.abs(p_up - 0.5) + 0.5, np.ones(n_base, dtype=np.int64)
    frame = SignalFrame(bar_index=np.arange(n_base, dtype=np.int64), p_up=p_up, side=side,
                        p_take=np.where(side != 0, rng.uniform(0.3, 0.7, n_base), np.nan),
                        regime=rng.integers(0, 4, n_base).astype(np.int64),
                        atr_frac=np.full(n_base, 0.004))
    options = {"trials": 16, "population": 6, "min_trades": 5, "search_member_weights": False}
    options.update(cfg)
    return Problem(market, frame, OptimizeConfig(**options), bars_per_year=8760.0,
                   max_delay=3, fee=7.5e-4, slippage=2.5e-4, thresholds=Thresholds.of(frame),
                   workers=workers)


def test_pareto_front_keeps_exactly_the_feasible_undominated_points() -> None:
    sharpe = np.array([1.0, 2.0, 1.5, 3.0, 0.5, 2.0])
    dd = np.array([0.10, 0.20, 0.05, 0.40, 0.01, 0.20])
    feasible = np.array([True, True, True, False, True, True])
    front = pareto_front(sharpe, dd, feasible)
    # 0 is dominated by 2 (higher Sharpe, lower drawdown); 3 is infeasible though best Sharpe;
    # 1 and 5 tie and both stay.
    assert front.tolist() == [1, 2, 4, 5]
    for i in front:
        others = [j for j in np.flatnonzero(feasible) if j != i]
        assert not any(sharpe[j] >= sharpe[i] and dd[j] <= dd[i]
                       and (sharpe[j] > sharpe[i] or dd[j] < dd[i]) for j in others)


def test_pick_best_sharpe_under_the_drawdown_limit_else_the_knee() -> None:
    sharpe = np.array([2.0, 1.5, 0.5])
    dd = np.array([0.30, 0.10, 0.01])
    position, why = pick(sharpe, dd, "sharpe_under_drawdown", 0.2)
    assert position == 1 and "<= 20%" in why
    position, why = pick(sharpe, dd, "sharpe_under_drawdown", 0.005)
    assert position == knee(sharpe, dd) and "knee" in why
    assert pick(sharpe, dd, "knee", 0.2) == (knee(sharpe, dd), "the knee of the front")


def test_knee_is_the_point_nearest_the_ideal_corner() -> None:
    # scaled: (1, 1) far, (0.5, 0.1) near the ideal (1, 0), (0, 0) far
    sharpe = np.array([3.0, 2.0, 1.0])
    dd = np.array([0.50, 0.05, 0.00])
    assert knee(sharpe, dd) == 1


def test_search_front_is_feasible_and_the_chosen_point_follows_the_rule() -> None:
    result = search(_problem(seed=4), study_name="t", seed=4)  # a market whose pick gains
    by_number = {t["number"]: t for t in result.trials}
    assert len(result.trials) == 16 and len(by_number) == 16
    front = [by_number[n] for n in result.front]
    assert front and all(t["feasible"] and t["trades"] >= 5 for t in front)
    chosen = by_number[result.chosen]
    assert result.chosen in result.front
    within = [t for t in front if t["max_drawdown"] <= 0.25]
    if within:
        assert chosen["sharpe"] == max(t["sharpe"] for t in within)
    # the chosen backtest is the chosen trial's, and every trial's returns were kept
    assert result.chosen_backtest.metrics()["sharpe"] == pytest.approx(chosen["sharpe"])
    assert sorted(result.returns) == sorted(by_number)


def test_a_trial_below_min_trades_is_never_on_the_front() -> None:
    result = search(_problem(min_trades=15), study_name="t", seed=3)
    below = {t["number"] for t in result.trials if t["trades"] < 15}
    assert below, "the test needs some trials under the minimum"
    assert not below & set(result.front)
    # mutation guard: a trial that never trades has Sharpe 0 and drawdown 0, which would be on
    # any front of Sharpe-negative trials if the constraint were ignored
    assert all(t["trades"] >= 15 for t in result.trials if t["number"] in result.front)


def test_no_feasible_trial_means_staying_flat_and_saying_why() -> None:
    result = search(_problem(min_trades=10_000), study_name="t", seed=3)
    assert result.chosen is None and result.front == []
    assert "optimize.min_trades" in result.why and "stay flat" in result.why
    assert result.chosen_backtest.n_trades == 0
    assert result.chosen_backtest.metrics()["total_return"] == 0


def test_same_seed_same_trials_and_a_resumed_study_ends_where_an_uninterrupted_one_does(
        tmp_path) -> None:
    one = search(_problem(), study_name="a", seed=5)
    again = search(_problem(), study_name="a", seed=5)
    assert [t["params"] for t in one.trials] == [t["params"] for t in again.trials]
    journal = f"journal:{tmp_path / 'study.journal'}"
    search(_problem(trials=7, storage=journal), study_name="r", seed=5)  # "interrupted"
    resumed = search(_problem(storage=journal), study_name="r", seed=5)
    assert [t["params"] for t in resumed.trials] == [t["params"] for t in one.trials]
    assert resumed.chosen == one.chosen


def test_a_new_study_starts_from_the_simplest_rules() -> None:
    """The first trials are the anchors (every proposal or the stronger half, full size, the
    widest stop and target, no tactician, every regime, held for the label horizon or the
    longest searched time); the rest are NSGA-II's. A resumed study does not add them again
    (the test above: resumed and uninterrupted studies hold the same trials)."""
    problem = _problem(seed=4)
    anchors = anchor_params(problem.cfg, problem.frame.member_names, problem.max_delay, 24)
    assert len(anchors) == 4
    assert {(a["max_hold"], a["analyst_margin_q"]) for a in anchors} == {
        (24, 0.0), (24, 0.4), (48, 0.0), (48, 0.4)}
    for params in anchors:
        policy = problem.policy(params)
        assert not policy.use_tactician and policy.fixed_size == 1.0 and policy.k_trail == 0
        assert policy.k_stop == 4.0 and policy.k_target == 6.0 and policy.cooldown == 0
        assert all(policy.regime_enabled.values()) and len(policy.regime_enabled) == 4
    anchored = Problem(**{**problem.__dict__, "hold_anchor": 24})
    result = search(anchored, study_name="anchors", seed=4)
    first = [t["params"] for t in sorted(result.trials, key=lambda t: t["number"])[:4]]
    assert first == anchors
    # a hold outside the searched range is clipped into it; without one, only the longest
    assert {a["max_hold"] for a in anchor_params(problem.cfg, (), 0, 500)} == {48}
    assert {a["max_hold"] for a in anchor_params(problem.cfg, (), 0, None)} == {48}


@pytest.mark.slow
def test_two_workers_on_one_journal_study_give_a_complete_duplicate_free_trial_set(
        tmp_path) -> None:
    journal = f"journal:{tmp_path / 'shared.journal'}"
    result = search(_problem(trials=20, storage=journal, population=6, workers=2),
                    study_name="w", seed=1)
    numbers = [t["number"] for t in result.trials]
    assert len(numbers) == len(set(numbers)) >= 20
    points = [tuple(sorted(t["params"].items())) for t in result.trials]
    assert len(points) == len(set(points)), "two workers evaluated the same point"
    import optuna

    study = optuna.load_study(study_name="w", storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(tmp_path / "shared.journal"))))
    workers = {t.user_attrs["ares_worker"]["pid"] for t in study.trials}
    assert len(workers) == 2, "both processes ran trials"
    assert all(t.state.name == "COMPLETE" for t in study.trials)


def test_policy_from_params_round_trips_the_search_space() -> None:
    problem = _problem()
    result = search(problem, study_name="p", seed=2)
    for t in result.trials[:5]:
        policy = problem.policy(t["params"])
        again = problem.run(policy).metrics()
        assert again["sharpe"] == pytest.approx(t["sharpe"], rel=1e-12, abs=1e-12)


def test_baselines_flat_is_zero_and_buy_and_hold_pays_its_costs() -> None:
    problem = _problem()
    base = baselines(problem.market, fee=0.001, slippage=0.0005, bars_per_year=8760.0)
    assert base["flat"]["total_return"] == 0 and base["flat"]["trades"] == 0
    assert base["flat"]["sharpe"] == 0 and base["flat"]["max_drawdown"] == 0
    hold = base["buy_and_hold"]
    m = problem.market
    entry = m.open[m.first_fine[1]] * 1.0005
    exit_ = m.close[-1] * 0.9995
    expected = (1 / (entry * 1.001)) * exit_ * 0.999 - 1
    assert hold["trades"] == 1
    assert hold["total_return"] == pytest.approx(expected, rel=1e-12)


def test_thresholds_are_quantiles_of_the_training_references() -> None:
    """A trial's quantiles map to the training window's out-of-fold probabilities, so the
    search range fits what the models learned whatever their scale."""
    problem = _problem()
    refs = problem.thresholds
    policy = problem.policy({**search(problem, study_name="q", seed=1).trials[0]["params"],
                             "analyst_margin_q": 0.5, "tactician_q": 0.25,
                             "use_tactician": True})
    assert policy.analyst_margin == pytest.approx(np.quantile(refs.margin, 0.5))
    assert policy.tactician_threshold == pytest.approx(np.quantile(refs.take, 0.25))
    assert refs.take.size == int((problem.frame.side != 0).sum())


def test_gate_counts_say_which_gate_stopped_each_proposal() -> None:
    frame = SignalFrame(bar_index=np.arange(6, dtype=np.int64),
                        p_up=np.array([0.7, 0.52, 0.3, 0.8, 0.5, 0.75]),
                        side=np.array([1, 1, -1, 1, 0, 1], dtype=np.int64),
                        p_take=np.array([0.6, 0.9, 0.2, 0.9, np.nan, 0.9]),
                        regime=np.array([0, 0, 0, 1, 0, 0], dtype=np.int64),
                        atr_frac=np.full(6, 0.01))
    policy = Policy(analyst_margin=0.1, tactician_threshold=0.5,
                    regime_enabled={REGIMES[1]: False})
    counts = gate_counts(frame, policy)
    assert counts == {"proposals": 5, "analyst margin": 1, "tactician threshold": 1,
                      "regime switch": 1, "passed": 2}
    ignoring = gate_counts(frame, Policy(analyst_margin=0.1, tactician_threshold=0.5,
                                         use_tactician=False))
    assert ignoring["tactician threshold"] == 0 and ignoring["passed"] == 4


def test_a_rule_that_loses_on_validation_is_never_preferred_to_flat() -> None:
    """Every proposal is a long into a falling market: whatever the search picks loses, and
    the rule chosen is to stay flat, naming the gate (mutation: keeping the pick fails)."""
    losing = _problem(drift=-0.001, longs_only=True)
    result = search(losing, study_name="l", seed=2)
    assert result.front, "the test needs feasible trials"
    assert result.chosen is None and result.why.startswith("flat rule")
    assert result.gates["blocked_by"] == "flat rule"
    assert result.chosen_backtest.n_trades == 0


def test_the_chosen_rules_validation_sharpe_is_deflated_over_the_trials() -> None:
    """Step 12 chose among its trials on these bars: its PSR and DSR use N = the completed
    trials and the variance of the per-bar validation Sharpes of those that traded (mutation:
    N = 1 fails)."""
    from ares_cli.ml.stats.sharpe_ratios import deflated_sharpe, sharpe, sharpe_moments

    problem = _problem(trials=24)
    result = search(problem, study_name="d", seed=6)
    assert result.chosen is not None
    choice = rule_choice(problem, result, problem.frame.bar_index, trials_before=10)
    chosen = choice.validation["chosen"]
    srs = [sharpe(r) for r in result.returns.values() if np.std(r) > 0]
    m = sharpe_moments(result.chosen_backtest.returns)
    expected = deflated_sharpe(m.sr, m.n, m.skew, m.kurt, n_trials=len(result.returns),
                               var_trial_srs=float(np.var(srs, ddof=1)))
    assert chosen["dsr_trials"] == len(result.trials) == 24
    assert chosen["dsr"] == pytest.approx(expected)
    assert chosen["dsr"] < chosen["psr"]


def test_neighbours_move_only_what_the_rule_uses() -> None:
    """A parameter the rule ignores (Kelly settings under fixed sizing, the trail when not
    trailing, the tactician's quantile when it is off) is no neighbour: moving it would copy
    the point and hide its fragility."""
    problem = _problem()
    result = search(problem, study_name="n", seed=2)
    trial_params = dict(result.trials[0]["params"])
    params = {**trial_params, "sizing": "fixed", "trailing": False, "use_tactician": False}
    import optuna

    study = optuna.create_study(directions=["maximize", "minimize"])
    dists = study.ask().distributions if False else None
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    dists = {"kelly_cap": FloatDistribution(0.05, 1.0), "k_trail": FloatDistribution(0.5, 4.0),
             "tactician_q": FloatDistribution(0.0, 0.9), "k_stop": FloatDistribution(0.5, 4.0),
             "sizing": CategoricalDistribution(["fixed", "kelly"])}
    moved = {next(k for k in p if p[k] != params[k]) for p in neighbour_params(params, dists)}
    assert moved == {"k_stop", "sizing"}

