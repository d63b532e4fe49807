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


# -- messages about input files, as a user or cron sees them ----------------------------------

REJECT = ("--set", 'data.invalid_policy="reject"')


def test_reject_names_the_file_and_line(env):
    gen = generate("spot-aggTrades", n=30)
    gen.rows[16][1] = "0"  # trade 1016, line 17
    path = binance_path(env, "spot-aggTrades")
    path.write_bytes(csv_bytes(gen))
    code, summary = run("--path", str(path), "--to", "1", *REJECT)
    assert code == 3 and summary["exit_code"] == 3
    message = summary["steps"][0]["message"]
    assert message.startswith(f"{path}, line 17 (trade_id 1016, ")
    assert message.endswith("price must be positive and finite (price 0.0)")
    code, summary = run("--path", str(path), "--to", "1")  # "drop": counted, warned, goes on
    assert code == 0
    assert summary["steps"][0]["metrics"]["data"]["validation"]["dropped_nonpositive_price"] == 1
    assert any("dropped 1 trades rows (1 nonpositive_price)" in w for w in summary["warnings"])


def test_a_large_loss_of_rows_is_never_silent(env):
    """Dropping more than data.max_drop_share (5 %) of the rows as invalid stops step 1 with
    exit 3 naming the reasons and counts (the export a user gave is not what a model of the
    rest would cover); raising the share, as the message says, accepts the loss with a warning
    (mutation: without the gate this run exits 0 having lost a fifth of the data)."""
    gen = generate("spot-aggTrades", n=30)
    for row in range(10, 16):  # 6 of 30 rows: 20 %
        gen.rows[row][1] = "0"
    path = binance_path(env, "spot-aggTrades")
    path.write_bytes(csv_bytes(gen))
    code, summary = run("--path", str(path), "--to", "1")
    message = summary["steps"][0]["message"]
    assert code == 3 and "6 of 30 trades rows (20.0%) are invalid" in message
    assert "6 nonpositive price" in message and "data.max_drop_share = 5%" in message
    hint = message.split("accept the loss with ")[1].split()
    code, summary = run("--path", str(path), "--to", "1", *hint)
    assert code == 0, summary
    assert any("dropped 6 trades rows" in w for w in summary["warnings"])


def test_reject_names_the_file_among_a_folder_and_the_row_of_a_table(env):
    folder = env / "days"
    folder.mkdir()
    for day, first_id in (("2024-01-01", 1000), ("2024-01-02", 1005)):
        gen = generate("spot-aggTrades", n=5, first_id=first_id)
        if day == "2024-01-02":
            gen.rows[2][2] = "-1"  # qty of trade 1007, line 3
        write_zip(folder / f"BTCUSDT-aggTrades-{day}.zip", csv_bytes(gen))
    code, summary = run("--path", str(folder), "--to", "1", *REJECT)
    assert code == 3
    bad = folder / "BTCUSDT-aggTrades-2024-01-02.zip"
    assert summary["steps"][0]["message"].startswith(
        f"{bad} (BTCUSDT-aggTrades-2024-01-02.csv), line 3 (trade_id 1007, ")
    rows = [[1_704_067_200_000 + 60_000 * i, 1.0, 2.0, 0.5, 1.5, 1.0] for i in range(4)]
    rows[1][2] = 1.2  # high below the close
    table = env / "ETH_BTC-1m.json"
    table.write_text(json.dumps({"columns": ["date", "open", "high", "low", "close", "volume"],
                                 "index": [0, 1, 2, 3], "data": rows}))
    code, summary = run("--path", str(table), "--to", "1", *REJECT)
    assert code == 3
    assert summary["steps"][0]["message"] == (
        f"{table}, row 2 (timestamp 2024-01-01T00:01:00+00:00): "
        "high 1.2 is below max(open, close) 1.5"
    )


def test_explicit_timestamp_unit_on_iso_text_is_a_usage_error(env):
    path = env / "x.csv"
    path.write_text("time,price,qty,id,side\n2024-01-01T00:00:00,1.5,2,1,buy\n"
                    "2024-01-01T00:00:01,1.6,1,2,sell\n")
    code, summary = run("--path", str(path), "--to", "1", "--set", 'files.timestamp_unit="ms"')
    assert code == 2 and summary["exit_code"] == 2
    assert summary["steps"][0]["message"] == (
        f"{path}: files.timestamp_unit = 'ms' but column 'time' holds ISO text "
        "(2024-01-01T00:00:00); leave timestamp_unit = 'auto'"
    )


def test_explicit_unit_against_the_magnitudes_is_a_usage_error(env):
    path = binance_path(env, "um-aggTrades")
    path.write_bytes(csv_bytes(generate("um-aggTrades", n=10)))
    code, summary = run("--path", str(path), "--to", "1", "--set", 'files.timestamp_unit="ns"')
    assert code == 2
    message = summary["steps"][0]["message"]
    assert message.startswith(f"{path}: files.timestamp_unit = 'ns' but column 'transact_time'")
    assert "in nanoseconds is 1970-01-01" in message
    assert message.endswith("set timestamp_unit = 'ms' or 'auto'")


def test_json_candles_in_pandas_orientations(env):
    minutes = [1_704_067_200_000 + 60_000 * i for i in range(5)]
    body = {"open": [1.0] * 5, "high": [2.0] * 5, "low": [0.5] * 5, "close": [1.5] * 5,
            "volume": [3.0] * 5}
    by_index = {  # orient="index" of a frame indexed by time (epoch ms labels)
        str(ms): {name: values[i] for name, values in body.items()}
        for i, ms in enumerate(minutes)
    }
    by_column = {  # orient="columns" of a frame with a "date" column
        name: dict(enumerate(values)) for name, values in {"date": minutes, **body}.items()
    }
    for name, data in (("index", by_index), ("columns", by_column)):
        path = env / f"{name}.json"
        path.write_text(json.dumps(data))
        code, summary = run("--path", str(path), "--to", "1", *REJECT)
        assert code == 0, summary
        metrics = summary["steps"][0]["metrics"]["data"]
        assert metrics["candles_rows"] == 5 and metrics["candle_ms"] == 60_000
        assert metrics["first"] == "2024-01-01T00:00:00+00:00"


def test_json_of_another_shape_names_the_accepted_ones(env):
    path = env / "x.json"
    path.write_text('{"result": "ok"}')
    code, summary = run("--path", str(path), "--to", "1")
    assert code == 3
    message = summary["steps"][0]["message"]
    assert message.startswith(f"{path}: not a JSON table: found an object with keys 'result'")
    assert all(f"orient='{o}'" in message for o in ("records", "columns", "index", "split"))


def test_fine_bars_must_divide_the_base(env):
    path = binance_path(env, "spot-klines")
    path.write_bytes(csv_bytes(generate("spot-klines", n=10)))
    code, summary = run("--path", str(path), "--to", "1", "--set", "bars.base=5m",
                        "--set", "bars.fine=2m")
    assert code == 2
    assert "bars.fine (2m) must be shorter than bars.base (5m) and divide it" in summary["message"]
