"""The backtest engine on hand-built markets: every expected number is worked out in the test.

Each market is a list of base bars, each a list of fine bars (open, high, low, close). Unless a
test says otherwise there are no fees and no slippage, and the account starts at 1.0.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from ares_cli.ml.trading.engine import REASONS, Market, Orders, Rules, backtest, metrics

MIN_US = 60_000_000
HOUR_US = 60 * MIN_US
T0 = 1_704_067_200_000_000  # 2024-01-01 00:00 UTC
FLAT = (100.0, 100.0, 100.0, 100.0)


def market(base_bars: list[list[tuple[float, float, float, float]]]) -> Market:
    """Base bar i holds the fine bars base_bars[i] (possibly none)."""
    fine = [bar for base in base_bars for bar in base]
    arr = np.array(fine, dtype=np.float64).reshape(-1, 4)
    counts = [len(base) for base in base_bars]
    first = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
    return Market(T0 + np.arange(len(fine), dtype=np.int64) * MIN_US,
                  *(np.ascontiguousarray(arr[:, k]) for k in range(4)), first,
                  T0 + np.arange(len(base_bars), dtype=np.int64) * HOUR_US)


def run(base_bars, side, *, size=1.0, stop=0.0, target=0.0, trail=0.0, bars_per_year=8760.0,
        **rules):
    rules = {"fee": 0.0, "slippage": 0.0, **rules}
    orders = Orders.constant(np.array(side), size=size, stop=stop, target=target, trail=trail)
    return backtest(market(base_bars), orders, Rules(**rules), bars_per_year=bars_per_year)


def trades(result) -> list[tuple]:
    """(entry index, exit index, side, reason) of every trade."""
    t = result.trades
    return [(int(t["entry_index"][i]), int(t["exit_index"][i]), int(t["side"][i]),
             REASONS[t["reason"][i]]) for i in range(result.n_trades)]


def test_fees_and_slippage_on_one_long_round_trip():
    bars = [[FLAT],                                              # decide: long
            [(100.0, 101.0, 99.0, 100.5), (100.5, 108.0, 100.0, 108.0)],
            [(108.0, 110.0, 107.0, 110.0)],                      # decide: flat -> exit
            [(110.0, 111.0, 109.0, 110.0)]]
    out = run(bars, [1, 1, 0, 0], fee=0.001, slippage=0.0005, exit_on_flat=True)
    assert trades(out) == [(1, 4, 1, "signal")]  # decided at base bar 2, filled at fine bar 4
    entry = 100.0 * 1.0005  # 100.05
    exit_ = 110.0 * 0.9995  # 109.945
    units = 1.0 / (entry * 1.001)  # all the cash, fee included
    assert out.trades["entry_price"][0] == pytest.approx(100.05, rel=1e-12)
    assert out.trades["exit_price"][0] == pytest.approx(109.945, rel=1e-12)
    # Equity: flat at bar 0, then all in units (cash 0) marked at the closes, then the exit.
    final = units * exit_ * 0.999  # exit fee on the exit value
    np.testing.assert_allclose(out.equity, [1.0, units * 108.0, units * 110.0, final],
                               rtol=1e-12)
    assert final == pytest.approx(109.835055 / 100.15005, rel=1e-12)  # 1.0967052...
    pnl = units * (exit_ - entry) - 0.001 * units * (entry + exit_)
    assert out.trades["pnl"][0] == pytest.approx(pnl, rel=1e-12)
    assert out.trades["pnl"][0] == pytest.approx(final - 1.0, rel=1e-12)
    assert out.trades["net_return"][0] == pytest.approx(final - 1.0, rel=1e-12)  # size 1
    np.testing.assert_array_equal(out.position, [0, 1, 1, 0])
    np.testing.assert_allclose(out.returns, [0.0, units * 108 - 1, 110 / 108 - 1,
                                             final / (units * 110) - 1], rtol=1e-12)


def test_half_size_commits_half_the_cash():
    bars = [[FLAT], [(100.0, 100.0, 100.0, 110.0)], [(110.0, 110.0, 110.0, 110.0)]]
    out = run(bars, [1, 1, 0], size=0.5, exit_on_flat=True)
    # 0.005 units bought at 100; 0.5 cash left; exit at 110.
    assert out.equity[1] == pytest.approx(0.5 + 0.005 * 110.0)
    assert out.trades["pnl"][0] == pytest.approx(0.05)
    assert out.trades["net_return"][0] == pytest.approx(0.1)  # on the 0.5 committed
    assert out.trades["size"][0] == 0.5


def test_fine_path_decides_between_stop_and_target_inside_one_base_bar():
    # Long from 100, stop 2% (98), target 3% (103). Base bar 1 reaches both 103.5 and 97,
    # but along the fine path the target comes first.
    target_first = [[FLAT],
                    [(100.0, 102.0, 99.0, 101.0), (101.0, 103.5, 100.5, 103.0),
                     (103.0, 103.2, 97.0, 97.5)],
                    [FLAT]]
    out = run(target_first, [1, 0, 0], stop=0.02, target=0.03)
    assert trades(out) == [(1, 2, 1, "target")]
    assert out.trades["exit_price"][0] == pytest.approx(103.0)
    # Same base bar range, stop first on the path.
    stop_first = [[FLAT],
                  [(100.0, 101.0, 97.5, 98.5), (98.5, 103.5, 97.0, 103.0)],
                  [FLAT]]
    out = run(stop_first, [1, 0, 0], stop=0.02, target=0.03)
    assert trades(out) == [(1, 1, 1, "stop")]
    assert out.trades["exit_price"][0] == pytest.approx(98.0)
    assert out.equity[1] == pytest.approx(0.98)
    # Both inside one fine bar: the stop (conservative).
    both = [[FLAT], [(100.0, 104.0, 97.0, 101.0)], [FLAT]]
    out = run(both, [1, 0, 0], stop=0.02, target=0.03)
    assert trades(out) == [(1, 1, 1, "stop")]
    assert out.trades["exit_price"][0] == pytest.approx(98.0)


def test_a_low_exactly_at_the_stop_reaches_it():
    bars = [[FLAT], [(100.0, 100.5, 99.0, 100.0)], [(100.0, 100.5, 98.0, 99.0)], [FLAT]]
    out = run(bars, [1, 1, 1, 1], stop=0.02)  # level 100 * 0.98 = 98.0
    assert trades(out)[0] == (1, 2, 1, "stop")
    assert out.trades["exit_price"][0] == 98.0


def test_short_side_target_with_fees():
    bars = [[FLAT],
            [(100.0, 101.0, 98.0, 98.0)],
            [(98.0, 98.5, 94.0, 94.5)],  # reaches the target 95
            [FLAT]]
    out = run(bars, [-1, -1, 0, 0], stop=0.05, target=0.05, fee=0.001)
    assert trades(out) == [(1, 2, -1, "target")]
    units = 1.0 / (100.0 * 1.001)
    assert out.trades["entry_price"][0] == 100.0
    assert out.trades["exit_price"][0] == pytest.approx(95.0)
    # A short receives the notional (100 units) less the fee; marked at 98 it owes 98 units.
    cash = 1.0 + units * 100.0 * (1 - 0.001)
    assert out.equity[1] == pytest.approx(cash - units * 98.0, rel=1e-12)
    pnl = units * (100.0 - 95.0) - 0.001 * units * (100.0 + 95.0)  # 4.805 / 100.1
    assert out.trades["pnl"][0] == pytest.approx(pnl, rel=1e-12)
    assert pnl == pytest.approx(0.0480019980, rel=1e-9)
    assert out.equity[2] == pytest.approx(1.0 + pnl, rel=1e-12)
    np.testing.assert_array_equal(out.position, [0, -1, 0, 0])


def test_short_stop_slippage_buys_higher():
    bars = [[FLAT], [(100.0, 103.0, 99.0, 102.0)], [FLAT]]
    out = run(bars, [-1, 0, 0], stop=0.02, slippage=0.001)
    fill = 100.0 * 0.999  # a short sells lower: 99.9
    level = fill * 1.02  # 101.898
    assert trades(out) == [(1, 1, -1, "stop")]
    assert out.trades["entry_price"][0] == pytest.approx(99.9)
    assert out.trades["exit_price"][0] == pytest.approx(level * 1.001)


def test_trailing_stop_follows_the_high_and_skips_the_bar_that_moved_it():
    bars = [[FLAT],
            [(100.0, 101.0, 99.0, 100.5)],    # extreme 101 -> level 95.95
            [(100.5, 120.0, 113.0, 119.0)],   # low 113 is above 95.95; extreme 120 -> 114
            [(118.0, 118.5, 113.0, 114.0)],   # low reaches 114: trail
            [FLAT]]
    out = run(bars, [1, 1, 1, 0, 0], stop=0.10, trail=0.05)
    assert trades(out) == [(1, 3, 1, "trail")]
    assert out.trades["exit_price"][0] == pytest.approx(114.0)
    assert out.trades["pnl"][0] == pytest.approx(0.14)
    # Without the trail the fixed stop (90) is never reached: the trade runs to the end.
    out = run(bars, [1, 1, 1, 1, 1], stop=0.10)
    assert trades(out) == [(1, 4, 1, "end")]


def test_maximum_holding_time_exits_at_the_next_open_and_may_reenter_there():
    bars = [[(100.0 + i, 100.0 + i, 100.0 + i, 100.0 + i)] for i in range(6)]
    out = run(bars, [1] * 6, max_hold=2)
    # Entered at fine bar 1 (base bar 1), held base bars 1 and 2: exits at the open of 3; the
    # same decision re-enters there (cooldown 0). The last one ends with the data.
    assert trades(out) == [(1, 3, 1, "time"), (3, 5, 1, "time"), (5, 5, 1, "end")]
    np.testing.assert_allclose(out.trades["entry_price"], [101.0, 103.0, 105.0])
    np.testing.assert_allclose(out.trades["exit_price"], [103.0, 105.0, 105.0])
    assert out.equity[-1] == pytest.approx(105.0 / 101.0)


def test_cooldown_counts_base_bars_after_the_exit():
    bars = [[FLAT], [(100.0, 100.0, 94.0, 95.0)]] + [[(95.0, 95.0, 95.0, 95.0)]] * 4
    side = [1] * 6
    # Stopped out in base bar 1 -> cooldown_until = 1 + 2 = 3: decisions 1 and 2 are skipped,
    # base bar 3 enters at the open of fine bar 4.
    out = run(bars, side, stop=0.05, cooldown=2)
    assert trades(out) == [(1, 1, 1, "stop"), (4, 5, 1, "end")]
    # No cooldown: the decision at the close of the stop's own base bar enters again.
    out = run(bars, side, stop=0.05, cooldown=0)
    assert trades(out) == [(1, 1, 1, "stop"), (2, 5, 1, "end")]


def test_cooldown_after_a_signal_exit_counts_from_the_decision_bar():
    bars = [[(100.0, 100.0, 100.0, 100.0)] for _ in range(6)]
    # Long at 1; bar 1 says short: exit at fine 2 (decided at 1, cooldown_until = 1 + 1 = 2),
    # no reversal at that open; bar 2 is allowed again and enters short at fine 3.
    out = run(bars, [1, -1, -1, -1, -1, -1], cooldown=1)
    assert trades(out) == [(1, 2, 1, "signal"), (3, 5, -1, "end")]
    # With cooldown 0 the opposite signal reverses at one open.
    out = run(bars, [1, -1, -1, -1, -1, -1], cooldown=0)
    assert trades(out) == [(1, 2, 1, "signal"), (2, 5, -1, "end")]


def test_entry_delay_in_fine_bars():
    bars = [[(100.0 + 3 * b + k,) * 4 for k in range(3)] for b in range(3)]
    out = run(bars, [1, 0, 0], entry_delay=2)
    # Decided at the close of base bar 0 (fine bar 2): first_fine[1] = 3, plus 2 -> fine 5.
    assert trades(out) == [(5, 8, 1, "end")]
    assert out.trades["entry_price"][0] == 105.0
    np.testing.assert_array_equal(out.position, [0, 1, 0])  # the end exit is in the last mark


def test_entry_delay_past_the_last_fine_bar_never_fills():
    bars = [[FLAT], [FLAT]]
    out = run(bars, [1, 1], entry_delay=1)
    assert out.n_trades == 0
    np.testing.assert_array_equal(out.equity, [1.0, 1.0])


def test_a_gap_through_the_stop_fills_at_the_open():
    bars = [[FLAT], [(100.0, 101.0, 99.0, 100.0)], [(90.0, 92.0, 89.0, 91.0)], [FLAT]]
    out = run(bars, [1, 1, 0, 0], stop=0.05, slippage=0.001)
    # Entry 100.1, stop 100.1 * 0.95 = 95.095; the next open (90) is already beyond it.
    assert trades(out) == [(1, 2, 1, "stop")]
    assert out.trades["entry_price"][0] == pytest.approx(100.1)
    assert out.trades["exit_price"][0] == pytest.approx(90.0 * 0.999)  # not 95.095
    assert out.trades["pnl"][0] == pytest.approx(89.91 / 100.1 - 1.0)


def test_a_gap_through_the_target_fills_at_the_open():
    bars = [[FLAT], [(100.0, 101.0, 99.0, 100.0)], [(110.0, 112.0, 109.0, 111.0)], [FLAT]]
    out = run(bars, [1, 1, 0, 0], target=0.05)
    assert trades(out) == [(1, 2, 1, "target")]
    assert out.trades["exit_price"][0] == 110.0  # better than the 105 target


def test_a_stop_closer_than_the_entry_slippage_exits_at_the_entry_bars_open():
    # long fill 100 * 1.01 = 101; stop 0.5 % below it = 100.495, above the open of 100: it
    # exits at that open (less slippage), never at 100.495, which this bar did not trade.
    bars = [[FLAT], [(100.0, 100.2, 99.0, 100.0)], [FLAT]]
    out = run(bars, [1, 0, 0], stop=0.005, slippage=0.01)
    assert trades(out) == [(1, 1, 1, "stop")]
    assert out.trades["exit_price"][0] == pytest.approx(100.0 * 0.99)


def test_end_of_data_exits_at_the_last_close_and_the_last_mark_includes_it():
    bars = [[FLAT], [(100.0, 103.0, 99.0, 102.0)], [(102.0, 106.0, 101.0, 105.0)], []]
    out = run(bars, [1, 1, 1, 1], fee=0.001, slippage=0.001)
    assert trades(out) == [(1, 2, 1, "end")]  # exit index: the last fine bar
    units = 1.0 / (100.1 * 1.001)
    assert out.trades["exit_price"][0] == pytest.approx(105.0 * 0.999)  # 104.895
    final = units * 104.895 * 0.999
    # Base bar 3 has no fine bars: it repeats the last mark (which includes the exit).
    np.testing.assert_allclose(out.equity, [1.0, units * 102.0, final, final], rtol=1e-12)
    assert out.trades["pnl"][0] == pytest.approx(final - 1.0, rel=1e-12)
    assert out.position[1] == 1


def test_empty_base_bars_take_no_decision():
    bars = [[FLAT], [], [(100.0, 100.0, 100.0, 110.0)], [(110.0,) * 4], [(110.0,) * 4]]
    # The entry decided at base bar 0 fills at first_fine[1] = first_fine[2] = fine bar 1.
    # Base bar 1 has no close: its side (-1) is never read, its mark repeats bar 0's.
    out = run(bars, [1, -1, 1, 0, 0], exit_on_flat=True)
    assert trades(out) == [(1, 3, 1, "signal")]
    np.testing.assert_allclose(out.equity, [1.0, 1.0, 1.1, 1.1, 1.1])
    np.testing.assert_array_equal(out.position, [0, 0, 1, 1, 0])


def test_metrics_on_a_known_case():
    equity = np.array([1.1, 0.99, 1.089])
    returns = np.array([0.1, -0.1, 0.1])
    trade_cols = {"pnl": np.array([0.1, -0.11, 0.099]), "entry_index": np.array([0, 4, 7]),
                  "exit_index": np.array([2, 5, 7])}
    m = metrics(returns, equity, trade_cols, bars_per_year=4.0, n_fine=12)
    assert m["total_return"] == pytest.approx(0.089)
    # Mean 1/30, sample sd sqrt((4 + 16 + 4) / 900 / 2) = sqrt(12) / 30; annualised by
    # sqrt(4) = 2: Sharpe = 2 / sqrt(12) = 1 / sqrt(3).
    assert m["sharpe"] == pytest.approx(1.0 / math.sqrt(3.0))
    # Downside deviation sqrt(0.01 / 3): Sortino = (1/30) / (0.1 / sqrt(3)) * 2.
    assert m["sortino"] == pytest.approx(2.0 / math.sqrt(3.0))
    assert m["max_drawdown"] == pytest.approx(0.1)  # peak 1.1, trough 0.99
    assert m["cagr"] == pytest.approx(1.089 ** (4.0 / 3.0) - 1.0)  # 3 bars = 0.75 years
    assert m["calmar"] == pytest.approx((1.089 ** (4.0 / 3.0) - 1.0) / 0.1)
    assert m["win_rate"] == pytest.approx(2.0 / 3.0)
    assert m["profit_factor"] == pytest.approx(0.199 / 0.11)
    assert m["exposure"] == pytest.approx((3 + 2 + 1) / 12)
    assert m["trades"] == 3 and m["bars"] == 3 and m["bars_per_year"] == 4.0


def test_metrics_of_a_backtest_and_their_zero_divisions():
    bars = [[FLAT], [(100.0, 100.0, 100.0, 110.0)], [(110.0,) * 4]]
    out = run(bars, [1, 1, 0], exit_on_flat=True, bars_per_year=365.0)
    m = out.metrics()
    assert m["total_return"] == pytest.approx(0.1)
    assert m["max_drawdown"] == 0.0 and m["calmar"] is None
    assert m["win_rate"] == 1.0 and m["profit_factor"] is None  # no losing trade
    assert m["sortino"] is None  # no negative bar
    assert m["trades"] == 1 and m["bars_per_year"] == 365.0
    # Returns 0, 0.1, 0: mean 1/30, sd sqrt((1 + 4 + 1) / 900 / 2) = sqrt(3) / 30 (ddof 1),
    # annualised by sqrt(365).
    assert m["sharpe"] == pytest.approx(math.sqrt(365.0 / 3.0))
    assert m["exposure"] == pytest.approx(2 / 3)  # fine bars 1..2 of 3


def test_a_gap_in_the_data_cuts_the_window_like_its_end():
    """An outage (Market.gap) is a window edge: a position open before it exits at the close
    of the last bar before it (reason "gap"), nothing is held or entered inside it, and the
    stretch after it trades as a window of its own with the equity carried over."""
    import dataclasses

    rise = [(100.0 + k, 101.0 + k, 99.5 + k, 101.0 + k) for k in range(8)]
    bars = [[bar] for bar in rise]
    side = np.ones(8, dtype=np.int64)
    whole = market(bars)
    gap = np.zeros(8, dtype=bool)
    gap[3:5] = True  # base bars 3 and 4 are an outage
    cut = backtest(dataclasses.replace(whole, gap=gap),
                   Orders.constant(side), Rules(fee=0.0, slippage=0.0), bars_per_year=8760.0)
    assert trades(cut) == [(1, 2, 1, "gap"), (6, 7, 1, "end")]
    assert cut.position[3:5].tolist() == [0, 0]
    before = backtest(market(bars[:3]), Orders.constant(side[:3]), Rules(fee=0.0, slippage=0.0),
                      bars_per_year=8760.0)
    after = backtest(market(bars[5:]), Orders.constant(side[5:]), Rules(fee=0.0, slippage=0.0),
                     bars_per_year=8760.0)
    expected = np.concatenate((before.equity, np.full(2, before.equity[-1]),
                               after.equity * before.equity[-1]))
    np.testing.assert_allclose(cut.equity, expected, rtol=1e-12)
    assert cut.trades["pnl"][1] == pytest.approx(after.trades["pnl"][0] * before.equity[-1])
    # no gap: the same backtest as before the feature
    plain = backtest(dataclasses.replace(whole, gap=np.zeros(8, dtype=bool)),
                     Orders.constant(side), Rules(fee=0.0, slippage=0.0), bars_per_year=8760.0)
    assert trades(plain) == [(1, 7, 1, "end")]


def test_buy_and_hold_buys_again_after_each_gap_and_an_all_gap_window_trades_nothing():
    import dataclasses

    from ares_cli.ml.trading.optimize import buy_and_hold

    bars = [[(100.0 + k, 101.0 + k, 99.5 + k, 101.0 + k)] for k in range(10)]
    gap = np.zeros(10, dtype=bool)
    gap[[0, 4]] = True
    held = buy_and_hold(dataclasses.replace(market(bars), gap=gap), fee=0.0, slippage=0.0,
                        bars_per_year=8760.0)
    assert [t[3] for t in trades(held)] == ["gap", "end"] and held.metrics()["total_return"] > 0
    every = dataclasses.replace(market(bars), gap=np.ones(10, dtype=bool))
    flat = backtest(every, Orders.constant(np.ones(10, dtype=np.int64)), Rules(),
                    bars_per_year=8760.0)
    assert flat.n_trades == 0 and flat.trade_table(every).height == 0
    assert flat.trades["entry_index"].dtype.kind == "i"
    assert (flat.equity == 1.0).all()
