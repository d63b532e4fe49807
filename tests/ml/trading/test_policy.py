"""Trading rules: which proposals become orders, their size and their exits."""

from __future__ import annotations

import numpy as np
import pytest

from ares_cli.ml.features.regimes import REGIMES
from ares_cli.ml.models.calibration import Calibrator
from ares_cli.ml.trading.policy import Policy, SignalFrame, kelly_size, orders_for


def _frame(**over: object) -> SignalFrame:
    values = {
        "bar_index": np.arange(6, dtype=np.int64),
        "p_up": np.array([0.70, 0.30, 0.55, 0.70, 0.70, 0.50]),
        "side": np.array([1, -1, 1, 1, 0, 1], dtype=np.int64),
        "p_take": np.array([0.60, 0.60, 0.60, 0.40, np.nan, 0.60]),
        "regime": np.array([0, 1, 2, 3, 0, -1], dtype=np.int64),
        "atr_frac": np.full(6, 0.01),
    }
    values.update(over)
    return SignalFrame(**values)  # type: ignore[arg-type]


def test_kelly_is_fractional_capped_and_zero_without_an_edge() -> None:
    p = np.array([0.5, 0.6, 0.9, 0.3, np.nan])
    # payoff 2: full Kelly = p - (1 - p) / 2
    size = kelly_size(p, payoff=2.0, fraction=0.5, cap=0.3)
    assert size == pytest.approx([0.5 * 0.25, 0.5 * 0.4, 0.3, 0.0, 0.0])
    with pytest.raises(ValueError):
        kelly_size(p, payoff=0.0, fraction=0.5, cap=1.0)


def test_orders_follow_thresholds_margin_and_the_analysts_side() -> None:
    orders = orders_for(_frame(), Policy(analyst_margin=0.1, tactician_threshold=0.5))
    # bar 2: |0.55 - 0.5| < 0.1; bar 3: P(pays) 0.40 < 0.5; bar 4: no proposal;
    # bar 5: P(up) 0.5 is no distance from neutral (the side is the analyst's own call)
    assert orders.side.tolist() == [1, -1, 0, 0, 0, 0]
    assert orders.size.tolist() == [1.0, 1.0, 0, 0, 0, 0]
    assert orders.stop == pytest.approx(np.full(6, 0.01))
    assert orders.target == pytest.approx(np.full(6, 0.02))
    assert orders.trail == pytest.approx(np.zeros(6))


def test_regimes_can_be_switched_off_and_shift_the_threshold() -> None:
    base = Policy(tactician_threshold=0.5, analyst_margin=0.0)
    off = Policy(tactician_threshold=0.5, regime_enabled={REGIMES[1]: False})
    assert orders_for(_frame(), base).side[1] == -1
    assert orders_for(_frame(), off).side[1] == 0
    raised = Policy(tactician_threshold=0.5, regime_shift={REGIMES[0]: 0.15})
    lowered = Policy(tactician_threshold=0.5, regime_shift={REGIMES[3]: -0.15})
    assert orders_for(_frame(), raised).side[0] == 0  # 0.60 < 0.65 in BULL
    assert orders_for(_frame(), lowered).side[3] == 1  # 0.40 >= 0.35 in VOLATILE
    with pytest.raises(ValueError, match="unknown regimes"):
        Policy(regime_enabled={"MOON": True})


def test_kelly_sizing_uses_target_over_stop_as_the_payoff() -> None:
    policy = Policy(sizing="kelly", kelly_fraction=1.0, kelly_cap=0.15, k_stop=1.0,
                    k_target=3.0, tactician_threshold=0.0)
    orders = orders_for(_frame(p_take=np.array([0.30, 0.20, 0.6, 0.6, np.nan, 0.6])), policy)
    # p = 0.30, payoff 3: 0.30 - 0.70 / 3 = 0.0667; p = 0.20: negative -> no order
    assert orders.size[0] == pytest.approx(0.30 - 0.70 / 3)
    assert orders.side[1] == 0 and orders.size[1] == 0
    assert orders.size[2] == pytest.approx(0.15)  # capped


def test_member_weights_blend_raw_members_through_the_calibrator() -> None:
    members = np.array([[0.2, 0.8]] * 6)
    members[4] = np.nan
    cal = Calibrator("sigmoid")
    cal.a_, cal.b_, cal.fitted_ = 1.0, 0.0, True  # identity in logit space
    frame = _frame(members=members, member_names=("A", "B"), calibrator=cal)
    only_a = orders_for(frame, Policy(tactician_threshold=0.5, member_weights=(1.0, 0.0)))
    only_b = orders_for(frame, Policy(tactician_threshold=0.5, member_weights=(0.0, 1.0)))
    assert only_a.side.tolist() == [0, 0, 0, 0, 0, 0]
    assert only_b.side.tolist() == [1, -1, 1, 1, 0, 1]  # margin 0: bar 5 at 0.5 passes too
    with pytest.raises(ValueError, match="member weights"):
        orders_for(frame, Policy(member_weights=(1.0,)))


def test_policy_round_trips_through_its_dict() -> None:
    policy = Policy(sizing="kelly", regime_enabled={"BULL": False}, regime_shift={"BEAR": 0.05},
                    member_weights=(0.2, 0.8), k_trail=1.5)
    assert Policy.from_dict(policy.to_dict()) == policy
