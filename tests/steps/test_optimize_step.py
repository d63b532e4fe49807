"""Step 12 `optimize` on the tiny market: the names the JSON relies on, and no test-window row."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from ares_cli.pipeline import run_steps
from ares_cli.steps import BY_NUMBER
from tests.conftest import TINY_LAST_STEP

pytestmark = pytest.mark.skipif(TINY_LAST_STEP < 12, reason="step 12 not built")


def test_metrics_carry_the_names_the_json_relies_on(tiny_pipeline) -> None:
    m = tiny_pipeline.steps[12].metrics
    assert m["data"]["trials"] == 12
    assert 1 <= m["data"]["pareto_size"] <= m["data"]["feasible"] <= 12
    assert m["data"]["trials_search_total"] == m["data"]["trials"] + m["data"]["trials_step6"]
    chosen = m["validation"]["chosen"]
    for key in ("sharpe", "max_drawdown", "total_return", "trades"):
        assert isinstance(chosen[key], int | float)
    params = tiny_pipeline.catalog["params"]
    trials = tiny_pipeline.catalog["trials"]
    if params["policy"] is None:  # the pick lost on validation (or nothing was feasible): flat
        assert params["why"].startswith(("flat rule", "minimum trades", "no proposal"))
        assert chosen["trades"] == 0 and trials["chosen"].sum() == 0
        assert chosen["dsr"] is None and "flat" in chosen["deflation_note"]
    else:
        assert chosen["trades"] >= m["data"]["min_trades"] and trials["chosen"].sum() == 1
    assert set(m["validation"]["baselines"]) == {"flat", "buy_and_hold"}
    assert "optimistic" in m["validation"]["note"]
    returns = tiny_pipeline.catalog["trial_returns"]
    assert trials.height == 12
    assert returns.width == 1 + 12  # bar_index and one column per trial
    splits = tiny_pipeline.catalog["splits"]
    validation = splits.filter(pl.col("window") == "validation")["bar_index"]
    assert returns["bar_index"].to_list() == validation.sort().to_list()
    assert params["trial"] == m["data"]["chosen_trial"]


def _scramble_after(frame: pl.DataFrame, start_us: int, rng: np.random.Generator,
                    columns: tuple[str, ...]) -> pl.DataFrame:
    later = frame["timestamp"].dt.epoch("us") >= start_us
    factor = pl.Series(np.where(later.to_numpy(), rng.uniform(0.5, 1.5, frame.height), 1.0))
    return frame.with_columns(*(pl.col(c) * factor for c in columns))


def test_step_12_reads_no_test_window_price_or_probability(tiny_pipeline, tiny_config) -> None:
    """Scramble every test-window price and probability: the search and its choice stay the
    same to the bit. (Mutation: trading the window up to the end of the data fails this.)"""
    catalog = dict(tiny_pipeline.catalog)
    splits = catalog["splits"]
    test_index = splits.filter(pl.col("window") == "test")["bar_index"]
    first_test = int(test_index.min())
    start_us = int(catalog["bars"]["timestamp"].dt.epoch("us")[first_test])
    rng = np.random.default_rng(0)
    prices = ("open", "high", "low", "close")
    catalog["bars"] = _scramble_after(catalog["bars"], start_us, rng, prices)
    catalog["bars_fine"] = _scramble_after(catalog["bars_fine"], start_us, rng, prices)
    in_test = pl.col("bar_index").is_in(test_index.implode())
    for name, cols in (("calibrated_analyst", ("p_up", "p_up_cal")),
                       ("calibrated_tactician", ("p_take", "p_take_cal"))):
        catalog[name] = catalog[name].with_columns(
            *(pl.when(in_test).then(1.0 - pl.col(c)).otherwise(pl.col(c)).alias(c)
              for c in cols))
    catalog["tactician_predictions"] = catalog["tactician_predictions"].with_columns(
        pl.when(in_test).then(1.0 - pl.col(c)).otherwise(pl.col(c)).alias(c)
        for c in catalog["tactician_predictions"].columns if c.startswith("p_"))
    again = run_steps([BY_NUMBER[12]], catalog, tiny_config)
    assert again.catalog["params"] == tiny_pipeline.catalog["params"]
    assert again.catalog["trials"].equals(tiny_pipeline.catalog["trials"])
    assert again.catalog["trial_returns"].equals(tiny_pipeline.catalog["trial_returns"])
