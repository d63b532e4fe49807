"""Meta-labels on hand-built fine paths: which barrier, when, at what price, after costs."""

from __future__ import annotations

import numpy as np
import pytest

from ares_cli.ml.tactician.meta_labelling import REASONS, meta_labels

MIN_US = 60_000_000
T0 = 1_704_067_200_000_000  # 2024-01-01 00:00 UTC


def path(bars: list[tuple[float, float, float, float]]):
    """Fine bars (open, high, low, close), one a minute from T0."""
    arr = np.array(bars, dtype=np.float64)
    return (T0 + np.arange(len(bars)) * MIN_US, arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3])


def label(bars, *, side: int = 1, decided_min: int = 0, sigma: float = 0.01,
          k_target: float = 2.0, k_stop: float = 1.0, hold_min: int = 10, cost: float = 0.0):
    """One event decided at T0 + decided_min; entry at the next fine bar's open."""
    starts, o, h, lo, c = path(bars)
    out = meta_labels(starts, o, h, lo, c, fine_ms=60_000,
                      decision_close_us=np.array([T0 + decided_min * MIN_US]),
                      side=np.array([side]), sigma=np.array([sigma]), k_target=k_target,
                      k_stop=k_stop, max_hold_ms=hold_min * 60_000, cost_per_side=cost)
    reason = REASONS[out.reason[0]] if out.reason[0] >= 0 else None
    return out, reason


FLAT = (100.0, 100.1, 99.9, 100.0)


def test_entry_is_the_next_fine_bars_open():
    bars = [FLAT, (101.0, 101.1, 100.9, 101.0)] + [(101.0, 101.1, 100.9, 101.0)] * 12
    out, _ = label(bars, decided_min=1)  # the decision bar closes when fine bar 1 opens
    assert out.entry_index[0] == 1 and out.entry_price[0] == 101.0


def test_stop_first_then_target_is_a_stop():
    # entry 100, target 102, stop 99: down to 98.9 at minute 2, up to 103 at minute 4
    bars = [FLAT, FLAT, (99.5, 99.6, 98.9, 99.0), FLAT, (101.0, 103.0, 100.5, 102.5)] + [FLAT] * 8
    out, reason = label(bars)
    assert reason == "stop" and out.exit_index[0] == 2 and out.exit_price[0] == 99.0
    assert out.net_return[0] == pytest.approx(-0.01) and out.y[0] == 0.0
    assert out.t1_us[0] == T0 + 3 * MIN_US  # the close of the exit fine bar


def test_target_first_then_stop_is_a_target():
    bars = [FLAT, (101.0, 102.2, 100.8, 102.0), (99.5, 99.6, 98.0, 98.5)] + [FLAT] * 10
    out, reason = label(bars)
    assert reason == "target" and out.exit_index[0] == 1
    assert out.exit_price[0] == pytest.approx(102.0) and out.y[0] == 1.0


def test_both_in_one_base_bar_are_ordered_by_the_fine_path():
    """Within one hour the target comes at minute 30 and the stop at minute 40: the fine path
    says target, whatever the hourly high and low would suggest."""
    bars = [FLAT] * 30 + [(101.0, 102.5, 100.9, 102.0)] + [FLAT] * 9 + \
        [(99.2, 99.3, 98.5, 98.6)] + [FLAT] * 30
    out, reason = label(bars, hold_min=60)
    assert reason == "target" and out.exit_index[0] == 30


def test_both_in_one_fine_bar_is_the_stop():
    bars = [FLAT, (100.0, 102.5, 98.5, 100.0)] + [FLAT] * 12
    out, reason = label(bars)
    assert reason == "stop" and out.exit_index[0] == 1 and out.exit_price[0] == 99.0


def test_time_out_leaves_at_the_close_of_the_last_bar_before_the_limit():
    bars = [(100.0, 100.3, 99.8, 100.0)] * 9 + [(100.0, 100.4, 99.9, 100.2)] + [FLAT] * 5
    out, reason = label(bars, hold_min=10)
    assert reason == "time" and out.exit_index[0] == 9 and out.exit_price[0] == 100.2
    assert out.t1_us[0] == T0 + 10 * MIN_US


def test_costs_turn_a_small_win_into_a_loss():
    bars = [(100.0, 100.3, 99.8, 100.0)] * 9 + [(100.0, 100.1, 99.9, 100.05)] + [FLAT] * 5
    free, _ = label(bars)
    costly, _ = label(bars, cost=0.0005)
    assert free.gross_return[0] == pytest.approx(0.0005) and free.y[0] == 1.0
    assert costly.net_return[0] == pytest.approx(0.0005 - 0.001) and costly.y[0] == 0.0


def test_the_short_side_mirrors_barriers_and_returns():
    # short at 100: target 98, stop 101
    bars = [FLAT, (99.0, 99.2, 97.5, 97.8)] + [FLAT] * 12
    out, reason = label(bars, side=-1)
    assert reason == "target" and out.exit_price[0] == pytest.approx(98.0)
    assert out.gross_return[0] == pytest.approx(0.02)
    up = [FLAT, (100.5, 101.5, 100.4, 101.2)] + [FLAT] * 12
    out, reason = label(up, side=-1)
    assert reason == "stop" and out.gross_return[0] == pytest.approx(-0.01)


def test_a_gap_through_the_stop_fills_at_the_open():
    bars = [FLAT, (97.0, 97.5, 96.5, 97.2)] + [FLAT] * 12
    out, reason = label(bars)
    assert reason == "stop" and out.exit_price[0] == 97.0


def test_no_label_when_the_data_end_before_the_time_limit_without_a_touch():
    bars = [FLAT] * 5
    out, reason = label(bars, hold_min=10)
    assert not out.labelled[0] and reason is None and np.isnan(out.y[0])
    touched = [FLAT, (101.0, 102.5, 100.9, 102.0), FLAT]  # a touch inside the data is known
    out, reason = label(touched, hold_min=10)
    assert out.labelled[0] and reason == "target"


def test_many_events_at_once_equal_one_at_a_time():
    rng = np.random.default_rng(0)
    n = 3000
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    opens = np.r_[100.0, close[:-1]]
    high = np.maximum(opens, close) * (1 + rng.uniform(0, 0.001, n))
    low = np.minimum(opens, close) * (1 - rng.uniform(0, 0.001, n))
    starts = T0 + np.arange(n) * MIN_US
    decided = T0 + rng.integers(0, n - 100, 200) * MIN_US
    sides = rng.choice([-1, 1], 200)
    sig = rng.uniform(0.002, 0.01, 200)
    kwargs = {"fine_ms": 60_000, "k_target": 1.5, "k_stop": 1.0, "max_hold_ms": 90 * 60_000,
              "cost_per_side": 0.0002}
    together = meta_labels(starts, opens, high, low, close, decision_close_us=decided,
                           side=sides, sigma=sig, **kwargs)
    for i in range(0, 200, 17):
        alone = meta_labels(starts, opens, high, low, close, decision_close_us=decided[i:i + 1],
                            side=sides[i:i + 1], sigma=sig[i:i + 1], **kwargs)
        assert alone.exit_index[0] == together.exit_index[i]
        assert alone.net_return[0] == together.net_return[i]
    assert together.labelled.mean() > 0.9


def plain_meta_label(starts, o, h, lo, c, decided, side, sigma, k_target, k_stop, hold_us,
                     cost):
    """A deliberately plain loop over the fine bars, for one event."""
    entry = next((i for i, s in enumerate(starts) if s >= decided), None)
    if entry is None:
        return None
    price = o[entry]
    target = price * (1 + side * k_target * sigma)
    stop = price * (1 - side * k_stop * sigma)
    deadline = starts[entry] + hold_us
    i = entry
    while i < len(starts) and starts[i] < deadline:
        reach_stop = lo[i] <= stop if side > 0 else h[i] >= stop
        reach_target = h[i] >= target if side > 0 else lo[i] <= target
        opened_beyond_target = o[i] >= target if side > 0 else o[i] <= target
        if reach_stop and not (reach_target and opened_beyond_target):
            fill = min(stop, o[i]) if side > 0 else max(stop, o[i])
            return i, side * (fill / price - 1) - 2 * cost
        if reach_target:
            fill = max(target, o[i]) if side > 0 else min(target, o[i])
            return i, side * (fill / price - 1) - 2 * cost
        i += 1
    if deadline > starts[-1] + MIN_US:
        return None
    return i - 1, side * (c[i - 1] / price - 1) - 2 * cost


def test_equals_a_plain_loop_on_a_random_market():
    rng = np.random.default_rng(7)
    n = 2000
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.0015, n)))
    opens = np.r_[100.0, close[:-1]] * (1 + rng.normal(0, 0.0003, n))  # small gaps
    high = np.maximum(opens, close) * (1 + rng.uniform(0, 0.001, n))
    low = np.minimum(opens, close) * (1 - rng.uniform(0, 0.001, n))
    starts = T0 + np.arange(n) * MIN_US
    decided = T0 + rng.integers(0, n, 300) * MIN_US
    sides = rng.choice([-1, 1], 300)
    sig = rng.uniform(0.002, 0.008, 300)
    out = meta_labels(starts, opens, high, low, close, fine_ms=60_000, decision_close_us=decided,
                      side=sides, sigma=sig, k_target=1.5, k_stop=1.0, max_hold_ms=120 * 60_000,
                      cost_per_side=0.0003)
    for i in range(300):
        plain = plain_meta_label(starts, opens, high, low, close, decided[i], sides[i], sig[i],
                                 1.5, 1.0, 120 * MIN_US, 0.0003)
        if plain is None:
            assert not out.labelled[i]
            continue
        assert out.labelled[i] and out.exit_index[i] == plain[0]
        assert out.net_return[i] == pytest.approx(plain[1], abs=1e-12)


def test_a_bar_opening_beyond_the_target_fills_the_target_even_if_it_dips_to_the_stop():
    bars = [FLAT, (103.0, 103.5, 98.0, 99.0)] + [FLAT] * 12  # target 102, stop 99
    out, reason = label(bars)
    assert reason == "target" and out.exit_price[0] == 103.0


def test_break_even_after_costs_is_not_paid():
    bars = [(100.0, 100.3, 99.8, 100.0)] * 9 + [(100.0, 100.1, 99.9, 100.1)] + [FLAT] * 5
    out, _ = label(bars, cost=0.0005)  # +0.1 % gross, 0.1 % costs
    assert abs(out.net_return[0]) < 1e-12 and out.y[0] == 0.0
