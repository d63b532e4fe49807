"""No reachable setting ends in a crash: over bar sizes, every `*_window` and `*_minutes` key,
the label horizon and the holding limits, steps 1 to 12 on real files either run or stop with
exit 2 (a setting the data cannot serve) or 3 (too little data), naming a key, never exit 1."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ares_cli.config import build_config
from ares_cli.errors import AresError
from ares_cli.pipeline import run_steps
from ares_cli.steps import STEPS
from tests.conftest import shared_file

pytestmark = pytest.mark.slow

FILES = {  # a real file, and a slice long enough to train on yet quick to run
    "eth_1m": ("real/long/binance_ETH_USDT_1m_20240726-20240825.feather", 30_000),
    "btc_1h": ("real/long/binance_BTC_USDT_1h_20170817-20240421.feather", 6_000),
}
BASES = ("5m", "15m", "30m", "1h", "2h", "4h", "1d")
FINES = ("1m", "5m", "15m", "1h")


@pytest.fixture(scope="module")
def slices(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    out = {}
    folder = tmp_path_factory.mktemp("real")
    for name, (relative, rows) in FILES.items():
        path = folder / f"{name}.feather"
        pl.read_ipc(shared_file(relative)).tail(rows).write_ipc(path)
        out[name] = str(path)
    return out


windows = st.integers(min_value=2, max_value=200)
setting = st.fixed_dictionaries({
    "file": st.sampled_from(sorted(FILES)),
    "bars": st.fixed_dictionaries({"base": st.sampled_from(BASES),
                                   "fine": st.sampled_from(FINES)}),
    "features": st.fixed_dictionaries({
        "vol_window": windows, "rsi_window": windows, "atr_window": windows,
        "bollinger_window": windows, "adx_window": windows, "cci_window": windows,
        "stochastic_window": windows, "mfi_window": windows, "obv_window": windows}),
    "regimes": st.fixed_dictionaries({"trend_window": windows, "vol_window": windows}),
    "labels": st.fixed_dictionaries({"horizon": st.integers(1, 96),
                                     "vol_window": windows}),
    "tactician": st.fixed_dictionaries({"flow_minutes": st.integers(1, 24 * 60),
                                        "vol_window": windows,
                                        "max_hold_bars": st.integers(1, 96)}),
    "optimize": st.fixed_dictionaries({"atr_window": windows,
                                       "max_hold": st.tuples(st.integers(1, 10),
                                                             st.integers(10, 96))}),
})


@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(chosen=setting)
def test_steps_1_to_12_never_crash(slices: dict[str, str], chosen: dict) -> None:
    raw = {key: value for key, value in chosen.items() if key != "file"}
    raw["data"] = {"source": "files", "paths": [slices[chosen["file"]]]}
    raw["split"] = {"purge_bars": max(chosen["labels"]["horizon"], 24)}
    raw["enhance"] = {"n_trials": 1}
    raw["optimize"] = {**raw["optimize"], "trials": 8, "population": 4,
                       "max_hold": list(raw["optimize"]["max_hold"])}
    try:
        config = build_config(raw)
    except AresError as exc:  # a setting rejected up front: a config error, never a crash
        assert exc.exit_code == 2, exc
        event("rejected by the config")
        return
    try:
        run_steps(STEPS[:12], {}, config)
    except AresError as exc:
        assert exc.exit_code in (2, 3), f"exit {exc.exit_code}: {exc}"
        assert "." in str(exc), f"no key named: {exc}"
        event(f"exit {exc.exit_code}: {str(exc)[:60]}")
    else:
        event("ran steps 1-12")
