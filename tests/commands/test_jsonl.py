"""`--json` is one line for every command and every outcome, with one schema per command."""

from __future__ import annotations

import json

import pytest

from ares_cli.cli import main
from ares_cli.commands.jsonl import BASE_KEYS, MAX_ITEMS, SCHEMAS, compact, json_line
from ares_cli.store.objects import Store
from tests.conftest import TINY_LAST_STEP, TINY_SETS

TINY = [arg for item in TINY_SETS for arg in ("--set", item)]


_CAPTURE: list = []


@pytest.fixture(autouse=True)
def _capture(capsys):
    _CAPTURE[:] = [capsys]
    yield
    _CAPTURE.clear()


def _line(*args: str) -> tuple[int, dict]:
    """Run the console entry point (usage errors included) and parse its stdout's one line."""
    capsys = _CAPTURE[0]
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main([*args, "--json"])
    code = exited.value.code
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert len(lines) == 1, (args, out[:500])
    value = json.loads(lines[0])
    command = args[0]
    assert tuple(value)[:len(BASE_KEYS)] == BASE_KEYS, args
    assert set(value) == set(BASE_KEYS) | set(SCHEMAS[command]), args
    assert value["command"] == command and value["exit_code"] == code, args
    assert value["status"] == ("ok" if code == 0 else "failed"), args
    return code, value


def test_every_command_writes_one_line_on_success_and_on_failure(store_copy, tmp_path):
    store = Store(store_copy)
    run_id = store.list_runs()[-1].run_id
    ok = [("run-all", *TINY, "--to", str(TINY_LAST_STEP)), ("step", "2", *TINY),
          ("resume",), ("status",), ("runs",), ("show", "latest"), ("show", run_id),
          ("verify",), ("gc",)]
    for args in ok:
        code, value = _line(*args)
        assert code == 0, (args, value["message"])
    code, value = _line("run-all", *TINY, "--to", str(TINY_LAST_STEP))
    assert value["exchange"] == "binance" and value["symbol"] == "ETHUSDT"
    assert value["run_id"] and len(value["steps"]) == 16
    code, value = _line("status")
    assert value["exchange"] is None and value["rows"][0]["exchange"] == "binance"
    failing = {
        ("promote", run_id): 2,  # no bundle
        ("report",): 2,  # no run has a report: a usage error, not a failed step
        ("export", run_id, "--out", str(tmp_path / "x")): 2,
        ("signal",): 2,  # no champion
        ("run-all", "--from", "99"): 2,
        ("run-all", "--no-such-option"): 2,
        ("step", "no-such-step"): 2,
        ("show", "no-such-ref"): 2,
        ("resume", "--exchange", "kraken", "--symbol", "XBTUSD"): 2,
        ("runs", "--bogus"): 2,
    }
    for args, expected in failing.items():
        code, value = _line(*args)
        assert code == expected, (args, value)
        assert value["message"], args
    code, value = _line("signal")
    assert value["exchange"] == "binance" and value["side"] is None
    # damage: verify fails with exit 1 and names the object in its line
    digest, path = next(iter(store.iter_objects()))
    path.chmod(0o644)
    path.write_bytes(b"damaged")
    code, value = _line("verify")
    assert code == 1 and value["problems"][0]["digest"] == digest


def test_long_lists_are_left_to_the_summary_file() -> None:
    value = json.loads(json_line("run-all", 0, run_id="r", steps=[{"x": list(range(1000))}],
                                 where="/s/summary.json"))
    assert value["steps"][0]["x"] == {"omitted_items": 1000, "see": "/s/summary.json"}
    assert compact(list(range(MAX_ITEMS))) == list(range(MAX_ITEMS))
    assert "\n" not in json_line("status", 0, rows=[{"a": "b\nc"}]).rstrip("\n")
