"""`ares run-all --source files` end to end: real Binance and freqtrade files, bad archives."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from ares_cli.cli import app
from tests.conftest import shared_file
from tests.data.binance_files import binance_path, csv_bytes, generate, write_checksum, write_zip


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ARES_STORE", str(tmp_path / "store"))
    return tmp_path


def run(*args: str) -> tuple[int, dict]:
    result = CliRunner().invoke(app, ["run-all", "--source", "files", "--json", *args])
    return result.exit_code, json.loads(result.stdout)


def test_real_binance_aggtrades_csv_through_step_3(env):
    path = shared_file(
        "real/binance/derived_from_freqtrade/XRPETH-aggTrades-2019-10-11_2019-10-13.csv"
    )
    code, summary = run("--path", str(path), "--symbol", "XRPETH", "--set", "bars.base=5m",
                        "--to", "3")
    assert code == 0, summary
    collect = summary["steps"][0]["metrics"]["data"]
    assert collect["trades_rows"] == 12_477
    assert collect["files"][0]["layout"] == "binance-spot-aggTrades"
    assert collect["validation"]["rows_out"] == 12_477
    bars = summary["steps"][1]["metrics"]["data"]
    assert bars["built_from"] == "trades"
    assert bars["base_bars"] - bars["empty_base_bars"] == 706  # as freqtrade's XRP_ETH-5m


def test_freqtrade_candles_drive_the_bars(env):
    path = shared_file("real/freqtrade/ETH_BTC-5m.feather")
    code, summary = run("--path", str(path), "--symbol", "ETHBTC", "--to", "3")
    assert code == 0, summary
    assert summary["steps"][0]["metrics"]["data"]["candles_rows"] == 5760
    assert "candle-only" in summary["steps"][0]["metrics"]["data"]["note"]
    bars = summary["steps"][1]["metrics"]["data"]
    assert bars["built_from"] == "candles" and bars["candle_ms"] == 300_000
    assert bars["base_bars"] == 481  # 20 days of 5m candles starting at 04:55 -> 1h bars


def test_changed_input_file_is_not_a_cache_hit(env):
    gen = generate("spot-aggTrades", n=50)
    path = binance_path(env, "spot-aggTrades")
    path.write_bytes(csv_bytes(gen))
    code, first = run("--path", str(path), "--to", "1")
    assert code == 0 and first["steps"][0]["status"] == "ok"
    assert run("--path", str(path), "--to", "1")[1]["steps"][0]["status"] == "cached"
    path.write_bytes(csv_bytes(generate("spot-aggTrades", n=60)))
    assert run("--path", str(path), "--to", "1")[1]["steps"][0]["status"] == "ok"


def test_wrong_checksum_exits_3_naming_the_file(env):
    gen = generate("um-aggTrades", n=20)
    archive = write_zip(binance_path(env, "um-aggTrades", suffix=".zip"), csv_bytes(gen))
    write_checksum(archive, "ab" * 32)
    code, summary = run("--path", str(archive), "--to", "1")
    assert code == 3
    assert archive.name in summary["steps"][0]["message"]
    assert "checksum" in summary["steps"][0]["message"]


def test_truncated_last_line_exits_3_naming_the_line(env):
    gen = generate("spot-aggTrades", n=20)
    path = binance_path(env, "spot-aggTrades")
    path.write_bytes(csv_bytes(gen)[:-15])
    code, summary = run("--path", str(path), "--to", "1")
    assert code == 3
    assert "line 20" in summary["steps"][0]["message"]


def test_no_path_is_a_usage_error(env):
    code, summary = run("--to", "1")
    assert code == 2 and "--path" in summary["steps"][0]["message"]


def test_folder_of_several_files_is_merged(env):
    src = shared_file("real/binance/ADABTC-1m-2021-11-27.csv")
    folder = env / "klines"
    folder.mkdir()
    shutil.copy(src, folder / src.name)
    shutil.copy(shared_file("real/binance/ADABTC-1m-2021-11-28.csv"), folder)
    code, summary = run("--path", str(folder), "--symbol", "ADABTC", "--to", "1")
    assert code == 0, summary
    assert summary["steps"][0]["metrics"]["data"]["candles_rows"] == 21
