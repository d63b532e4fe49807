"""JSON tables: freqtrade rows and every pandas orientation."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from tests.data.files.helpers import (
    data_error,
    load,
    micros,
)
from tests.data.files.pandas_json import WRITTEN_BY_PANDAS


def test_freqtrade_json_row_of_wrong_length(tmp_path: Path) -> None:
    path = tmp_path / "X-trades.json.gz"
    rows = [[1_704_067_200_000, "1", None, "buy", 1.0, 2.0, 2.0], [1_704_067_200_001, "2"]]
    path.write_bytes(gzip.compress(json.dumps(rows).encode()))
    assert str(data_error(path)).startswith(f"{path}, row 2: expected 7 values")


# -- JSON orientations --------------------------------------------------------------------------

MS = [1_704_067_200_000 + 300_000 * i for i in range(3)]  # 2024-01-01 00:00, 00:05, 00:10
OHLCV = {"date": MS, "open": [1.0, 2.0, 3.0], "high": [2.0, 3.0, 4.0], "low": [0.5, 1.0, 2.0],
         "close": [1.5, 2.5, 3.5], "volume": [10.0, 0.0, 3.0]}
NAMES = list(OHLCV)
ROWS = [list(row) for row in zip(*OHLCV.values(), strict=True)]


def orient(shape: str) -> object:
    """OHLCV as pandas' DataFrame.to_json writes it with `orient=shape` (default RangeIndex)."""
    records = [dict(zip(NAMES, row, strict=True)) for row in ROWS]
    return {
        "values": ROWS,
        "records": records,
        "columns": {name: {str(i): v for i, v in enumerate(vs)} for name, vs in OHLCV.items()},
        "index": {str(i): record for i, record in enumerate(records)},
        "split": {"columns": NAMES, "index": [0, 1, 2], "data": ROWS},
        "table": {"schema": {"fields": [], "primaryKey": ["index"]},
                  "data": [{"index": i, **r} for i, r in enumerate(records)]},
    }[shape]


@pytest.mark.parametrize("shape", ["values", "records", "columns", "index", "split", "table"])
def test_json_candles_in_every_orientation(tmp_path: Path, shape: str) -> None:
    path = tmp_path / "ETH_BTC-5m.json"
    path.write_text(json.dumps(orient(shape)))
    result = load(path)
    assert result.kind == "candles" and result.timeframe_ms == 300_000
    assert result.files[0]["layout"] == "freqtrade-ohlcv-json"
    assert micros(result.frame) == [ms * 1000 for ms in MS]
    for name in NAMES[1:]:
        assert result.frame[name].to_list() == OHLCV[name], name


@pytest.mark.parametrize("shape", ["columns", "index", "split"])
def test_json_time_in_the_index(tmp_path: Path, shape: str) -> None:
    """pandas writes a DatetimeIndex as epoch ms (or ISO) labels; they become the timestamp."""
    body = {k: v for k, v in OHLCV.items() if k != "date"}
    labels = [str(ms) for ms in MS] if shape != "split" else MS
    data: object = {
        "columns": {n: dict(zip(labels, vs, strict=True)) for n, vs in body.items()},
        "index": {label: {n: vs[i] for n, vs in body.items()} for i, label in enumerate(labels)},
        "split": {"columns": list(body), "index": labels,
                  "data": [list(r) for r in zip(*body.values(), strict=True)]},
    }[shape]
    path = tmp_path / "bars.json.gz"
    path.write_bytes(gzip.compress(json.dumps(data).encode()))
    result = load(path)
    assert result.files[0]["layout"] == "table-candles-json"
    assert micros(result.frame) == [ms * 1000 for ms in MS]
    assert result.frame["close"].to_list() == OHLCV["close"]


def test_json_trades_as_records_with_iso_time(tmp_path: Path) -> None:
    records = [{"time": "2024-01-01T00:00:00Z", "id": 7, "price": 1.5, "size": 2.0, "side": "buy"},
               {"time": "2024-01-01T00:00:01Z", "id": 8, "price": 1.6, "size": 1.0, "side": "sell"}]
    path = tmp_path / "trades.json"
    path.write_text(json.dumps(records))
    result = load(path)
    assert result.files[0]["layout"] == "table-trades-json"
    assert result.frame["trade_id"].to_list() == [7, 8]
    assert result.frame["is_buyer_maker"].to_list() == [False, True]


def test_json_written_by_pandas(tmp_path: Path) -> None:
    for shape, text in WRITTEN_BY_PANDAS.items():
        path = tmp_path / f"{shape}.json"
        path.write_text(text)
        assert micros(load(path).frame) == [ms * 1000 for ms in MS], shape


@pytest.mark.parametrize(
    ("content", "found"),
    [
        ('{"open": 1, "close": 2}', "an object with keys 'open', 'close'"),
        ('"bars"', "str"),
        ("[1, 2, 3]", "a list of ints (1)"),
    ],
)
def test_json_of_another_shape_lists_the_accepted_ones(
    tmp_path: Path, content: str, found: str
) -> None:
    path = tmp_path / "x.json"
    path.write_text(content)
    message = str(data_error(path))
    assert message.startswith(f"{path}: not a JSON table: found {found}; expected one of: ")
    for shape in ("values", "records", "columns", "index", "split", "table"):
        assert f"orient='{shape}'" in message


def test_json_object_of_objects_without_known_names(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{"a": {"b": 1}}')
    assert "orient='columns' cannot be told from orient='index'" in str(data_error(path))


def test_json_bad_value_names_the_row(tmp_path: Path) -> None:
    data = orient("split")
    data["data"][1][2] = "high"
    path = tmp_path / "x.json"
    path.write_text(json.dumps(data))
    assert str(data_error(path)) == f"{path}, row 2: high 'high' is not a number"
    data["data"][1] = [1, 2]
    path.write_text(json.dumps(data))
    assert str(data_error(path)).startswith(f"{path}, row 2: expected 6 values, found [1, 2]")
