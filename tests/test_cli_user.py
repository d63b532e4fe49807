"""What a user and cron see, through the real entry point (`ares_cli.cli.main`, what the
`ares` console script calls): show, step on a files run, resume hints, JSON for every outcome,
interrupted runs, failed attempts, candle-only warnings."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import polars as pl
import pytest

from ares_cli.cli import main
from ares_cli.steps import STEPS
from ares_cli.store.manifest import Manifest, StepRecord
from ares_cli.store.objects import Store
from tests.conftest import TINY_SETS, shared_file

TINY = [arg for item in TINY_SETS for arg in ("--set", item)]
SUMMARY_KEYS = {"command", "status", "exit_code", "run_id", "exchange", "symbol", "steps",
                "warnings", "resume_command", "message", "versions_not_locked", "report"}


def ares(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run `ares ARGS` in-process; (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as ended:
        main(list(args))
    captured = capsys.readouterr()
    return int(ended.value.code or 0), captured.out, captured.err


@pytest.fixture
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ARES_STORE", str(tmp_path / "store"))
    return tmp_path / "store"


def write_trades_csv(path: Path, hours: int = 24 * 12) -> Path:
    """A Binance-layout aggTrades CSV: one trade a minute on a gentle random walk."""
    import numpy as np

    n = hours * 60
    rng = np.random.default_rng(0)
    price = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    start = 1_704_067_200_000
    frame = pl.DataFrame({
        "a": np.arange(n), "p": price, "q": rng.uniform(0.1, 2.0, n), "f": np.arange(n),
        "l": np.arange(n), "T": start + np.arange(n) * 60_000 + 5_000,
        "m": rng.random(n) < 0.5, "M": np.ones(n, dtype=bool),
    })
    frame.write_csv(path, include_header=False)
    return path


# -- 1. show ----------------------------------------------------------------------------------


def test_show_describes_tables_json_and_model_sets(store_copy, capsys):
    manifest = Store(store_copy).list_runs()[-1]
    kinds = {}
    for record in manifest.steps:
        for name, digest in record.outputs.items():
            kinds.setdefault(record.kinds[name], digest)
    assert {"table", "json", "modelset"} <= set(kinds)
    code, out, err = ares(capsys, "show", kinds["table"][:12])
    table = json.loads(out)
    assert code == 0 and table["kind"] == "table" and table["rows"] > 0
    assert "timestamp" in table["schema"] and len(table["span"]) == 2 and table["head"]
    assert "polars.read_parquet" in table["format"] and "object" in err
    code, out, _ = ares(capsys, "show", kinds["json"][:12])
    assert code == 0 and json.loads(out)["kind"] == "json" and "value" in json.loads(out)
    code, out, _ = ares(capsys, "show", kinds["modelset"][:12])
    models = json.loads(out)
    assert code == 0 and "GLOBAL" in models["models"] and "members" in models["table"]


def test_show_of_a_corrupted_object_gives_the_repair_command(store_copy, capsys):
    digest = Store(store_copy).list_runs()[-1].step(2).outputs["bars"]
    path = Store(store_copy).object_path(digest)
    path.chmod(0o644)
    path.write_bytes(path.read_bytes()[:-4] + b"oops")
    code, _, err = ares(capsys, "show", digest[:12])
    assert code == 1 and "corrupted" in err
    assert "ares step regime-classify --force --exchange binance --symbol ETHUSDT" in err


def test_show_latest_and_steps_find_the_only_pair_and_say_which(fresh, capsys):
    code, _, _ = ares(capsys, "run-all", *TINY, "--symbol", "BTCUSDT", "--to", "1", "--json")
    assert code == 0
    code, out, err = ares(capsys, "show", "latest")
    assert code == 0 and json.loads(out)["symbol"] == "BTCUSDT" and "binance/BTCUSDT" in err
    code, out, err = ares(capsys, "show", "collect")
    assert code == 0 and json.loads(out)["status"] == "ok" and "binance/BTCUSDT" in err
    code, _, err = ares(capsys, "show", "latest", "--symbol", "ETHUSDT")
    assert code == 2 and "no runs for binance/ETHUSDT" in err and "binance/BTCUSDT" in err


# -- 3. step keeps the run's source; hints can be pasted --------------------------------------


def test_step_after_a_files_run_keeps_the_source_and_hints_paste(fresh, tmp_path, capsys):
    data = write_trades_csv(tmp_path / "ETHUSDT-aggTrades-2024-01.csv")
    base = ["--source", "files", "--path", str(data), "--set", "bars.base=15m",
            "--set", "split.min_regime_rows=10"]
    code, out, _ = ares(capsys, "run-all", *base, "--to", "2", "--json")
    assert code == 0, out
    code, out, _ = ares(capsys, "step", "3", "--json")  # no --source, no --path
    summary = json.loads(out)
    assert code == 0 and summary["steps"][2]["status"] == "ok", summary["message"]
    manifest = Store(fresh).read_manifest(summary["run_id"])
    assert manifest.config["data"]["source"] == "files"
    assert manifest.config["bars"]["base"] == "15m"

    code, _, err = ares(capsys, "step", "3", "--set", "split.train=0.5",
                        "--set", "split.validation=0.3")
    assert code == 2 and "split.train = 0.6 (now 0.5)" in err and "resume with" not in err
    hint = err.split("ares run-all", 1)[1].splitlines()[0]
    pasted = shlex.split("run-all" + hint)
    assert "--set" in pasted and "split.train=0.5" in pasted
    code, out, _ = ares(capsys, *pasted, "--to", "3", "--json")
    redone = json.loads(out)
    assert code == 0 and [s["status"] for s in redone["steps"][1:3]] == ["ok", "ok"]
    again = Store(fresh).read_manifest(redone["run_id"])
    assert again.config["data"]["source"] == "files" and again.config["split"]["train"] == 0.5


# -- 4. resume only when it can help ------------------------------------------------------------


def test_resume_is_suggested_only_when_it_can_get_further(fresh, capsys, monkeypatch):
    """A machine failure (disk, memory) may pass on a plain resume; a config or data error, or
    a crash of the code, repeats with the same data and config: no resume is offered, and
    `ares status` says to fix the cause instead."""
    code, out, err = ares(capsys, "run-all", "--set", "data.days=2", "--to", "3", "--json")
    assert code == 3 and "resume with" not in err and json.loads(out)["resume_command"] is None
    code, out, _ = ares(capsys, "status", "--json")
    assert json.loads(out)["rows"][0]["next"] == \
        "fix the cause the failed step names, then run again"
    code, out, err = ares(capsys, "run-all", "--set", "data.dyas=2", "--json")
    assert code == 2 and "resume with" not in err and json.loads(out)["resume_command"] is None

    import ares_cli.ml.features.splits as splits

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(splits, "split_bars", broken)
    code, out, err = ares(capsys, "run-all", *TINY, "--to", "3", "--json")
    summary = json.loads(out)
    assert code == 1 and "crashed: RuntimeError: a bug" in summary["steps"][2]["message"]
    assert summary["resume_command"] is None and "resume with" not in err

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(splits, "split_bars", disk_full)
    code, out, err = ares(capsys, "run-all", *TINY, "--to", "3", "--json")
    summary = json.loads(out)
    assert code == 1 and "No space left on device" in summary["steps"][2]["message"]
    assert summary["resume_command"] == "ares resume --exchange binance --symbol ETHUSDT"
    assert "resume with: ares resume" in err
    code, out, _ = ares(capsys, "status", "--json")
    assert json.loads(out)["rows"][0]["next"] == "ares resume --exchange binance --symbol ETHUSDT"


# -- 5. one JSON object for every outcome --------------------------------------------------------


@pytest.mark.parametrize("args", [
    ["run-all", "--to", "99", "--json"],
    ["run-all", "--to", "0", "--json"],
    ["run-all", "--bogus", "--json"],
    ["run-all", "--set", "data.dyas=3", "--json"],
    ["step", "nonsense", "--json"],
    ["resume", "--json"],
])
def test_every_outcome_prints_one_json_object_with_the_full_schema(fresh, capsys, args):
    code, out, _ = ares(capsys, *args)
    summary = json.loads(out)
    assert code == 2 and set(summary) == SUMMARY_KEYS
    assert summary["exit_code"] == 2 and summary["status"] == "failed" and summary["message"]


# -- 6. a killed run is interrupted, not running forever ----------------------------------------


def test_a_run_whose_process_died_is_interrupted(fresh, capsys):
    store = Store(fresh)
    manifest = Manifest(run_id="20240101T000000Z-dead00", exchange="binance",
                        symbol="ETHUSDT", status="running",
                        steps=[StepRecord(number=s.number, name=s.name) for s in STEPS])
    manifest.steps[0].status = "ok"
    manifest.steps[1].status = "running"
    store.write_manifest(manifest)
    store.set_ref("binance", "ETHUSDT", "latest", manifest.run_id)
    code, out, _ = ares(capsys, "status", "--json")
    row = json.loads(out)["rows"][0]
    assert code == 0 and row["status"] == "interrupted"
    assert "1 interrupted" in row["steps"] and "running" not in row["steps"]
    assert row["next"] == "ares resume --exchange binance --symbol ETHUSDT"
    with store.lock("binance", "ETHUSDT"):  # a live holder: still running
        code, out, _ = ares(capsys, "status", "--json")
        assert json.loads(out)["rows"][0]["status"] == "running"


# -- 8. candle-only input is a run warning -------------------------------------------------------


def test_candle_only_input_warns_that_order_flow_is_missing(fresh, capsys):
    path = shared_file("real/freqtrade/ETH_BTC-5m.feather")
    code, out, _ = ares(capsys, "run-all", "--source", "files", "--path", str(path),
                        "--symbol", "ETHBTC", "--to", "4", "--json")
    summary = json.loads(out)
    assert code == 0, summary["message"]
    assert any("candle-only" in w and "order-flow" in w for w in summary["warnings"])
    code, out, _ = ares(capsys, "run-all", "--source", "files", "--path", str(path),
                        "--symbol", "ETHBTC", "--to", "4", "--json", "--strict")
    assert code == 1


# -- 9. failed attempts are labelled and can be removed -----------------------------------------


def test_runs_label_failed_attempts_and_gc_failed_removes_them(fresh, capsys):
    assert ares(capsys, "run-all", "--set", "data.days=2", "--to", "2", "--json")[0] == 3
    assert ares(capsys, "run-all", *TINY, "--to", "1", "--json")[0] == 0
    code, out, _ = ares(capsys, "runs", "--json")
    rows = json.loads(out)["rows"]
    assert [r["status"] for r in rows] == ["failed", "complete"] or \
        [r["status"] for r in rows] == ["failed", "partial"]
    assert rows[0]["result"].startswith("FAILED at step 2 regime-classify")
    code, out, _ = ares(capsys, "gc", "--failed")
    assert code == 0 and "deleted 1 failed or interrupted runs" in out
    code, out, _ = ares(capsys, "runs", "--json")
    assert [r["status"] for r in json.loads(out)["rows"]] != [] and all(
        r["status"] != "failed" for r in json.loads(out)["rows"])
