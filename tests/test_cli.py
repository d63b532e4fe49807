"""The command line end to end on a small synthetic market: caching, invalidation, exit codes,
resume, corruption repair, JSON output and the lock."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ares_cli.cli import app
from ares_cli.steps import LAST
from ares_cli.store.objects import Store
from tests.conftest import TINY_LAST_STEP, TINY_SETS

SMALL = [
    "--set", "data.days=20", "--set", "data.trades_per_day=2000",
    "--set", "enhance.n_trials=2", "--set", "analyst.num_boost_round=60",
]
# For tests about resuming, whose runs go on through the analyst steps: the least model work.
QUICK = [*SMALL, "--set", "enhance.n_trials=1", "--set", "enhance.min_features=100",
         "--set", "ensemble.method=gated", "--set", "analyst.num_boost_round=30"]
# The session's tiny market (tests/conftest.py): `store_copy` already holds steps 1-7 of it.
TINY = [arg for item in TINY_SETS for arg in ("--set", item)]


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A private working folder and store for one test."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ARES_STORE", str(tmp_path / "store"))
    return tmp_path


def ares(*args: str) -> tuple[int, dict | str]:
    result = CliRunner().invoke(app, list(args))
    if "--json" in args:
        return result.exit_code, json.loads(result.stdout)
    return result.exit_code, result.output


def statuses(summary: dict) -> dict[int, str]:
    return {s["number"]: s["status"] for s in summary["steps"]}


def test_run_all_then_cached(env):
    code, first = ares("run-all", *SMALL, "--to", "3", "--json")
    assert code == 0, first
    assert [statuses(first)[n] for n in (1, 2, 3)] == ["ok", "ok", "ok"]
    assert all(statuses(first)[n] == "not-run" for n in range(4, LAST + 1))
    assert first["status"] == "ok" and first["resume_command"] is None
    assert set(first["steps"][1]["outputs"]) == {"bars", "bars_fine", "regimes", "regime_model"}
    assert set(first["steps"][2]["metrics"]["validation"]) >= {"vs_true_regimes"}
    assert "test" not in first["steps"][2]["metrics"]
    code, second = ares("run-all", *SMALL, "--to", "3", "--json")
    assert code == 0
    assert [statuses(second)[n] for n in (1, 2, 3)] == ["cached"] * 3
    assert [s["outputs"] for s in second["steps"]] == [s["outputs"] for s in first["steps"]]


@pytest.mark.slow  # the whole pipeline end to end: about 40 s of a worker, kept out of make test
def test_all_sixteen_steps_then_report_export_promote_signal_and_resume(store_copy, tmp_path):
    """Through the real entry point on the tiny market (one walk-forward fold: a month holds
    no more): all 16 steps, summary.json and report.html beside the manifest, `ares report`,
    `ares export` loadable with polars and xgboost alone, `ares signal` for the latest run and,
    after `ares promote`, for the champion; a second run-all all cached; `resume --from 9`
    re-executes 9-16 only."""
    import polars as pl
    import xgboost as xgb

    store = Store(store_copy)
    partial = store.list_runs()[-1].run_id  # the fixture's run: steps 1-12 only
    code, out = ares("promote", partial[:12])
    assert code == 2 and "no bundle" in out
    code, out = ares("promote", "no-such-run")
    assert code == 2 and "no run matches" in out
    code, out = ares("signal", "--json")
    assert code == 2 and "no champion" in out["message"]
    one_fold = ("--set", "walk_forward.folds=1")
    code, summary = ares("run-all", *TINY, *one_fold, "--json")
    assert code == 0, [s["message"] for s in summary["steps"] if s["message"]]
    run_id = summary["run_id"]
    report = Path(summary["report"])
    assert report == (store.runs / run_id / "report.html").resolve()
    page = report.read_text()
    assert page.startswith("<!DOCTYPE html>")
    # the published copy says what it is a report of; step 16's stored one stays run-free
    header = page.split('<section id="identity">')[1].split("</section>")[0]
    for fact in (run_id, "ETHUSDT on binance", "synthetic market (seed 7,", "base 1h",
                 "walk_forward.folds</code> = 1", "no rows dropped", "no trade id missing",
                 "0 outages", "16 of 16 steps done", "Published"):
        assert fact in header, fact
    stored = store.get(summary["steps"][15]["outputs"]["report"]).decode()
    assert run_id not in stored and "<!-- ares:identity -->" in stored
    on_disk = json.loads((store.runs / run_id / "summary.json").read_text())
    assert on_disk["run_id"] == run_id and on_disk["report"] == str(report)
    code, out = ares("report")
    assert code == 0 and out.strip() == str(report)
    code, out = ares("export", run_id[:14], "--out", str(tmp_path / "export"))
    assert code == 0, out
    bundle = json.loads((tmp_path / "export" / "bundle" / "bundle.json").read_text())
    booster = xgb.Booster()
    booster.load_model(str(tmp_path / "export" / "bundle" / "models" /
                           f"{bundle['models'][0]}.ubj"))
    assert pl.read_parquet(tmp_path / "export" / "walk_forward.parquet").height > 0
    assert "xgb.Booster()" in (tmp_path / "export" / "README.md").read_text()
    code, decision = ares("signal", "--latest", "--json")
    assert code == 0, decision
    assert decision["run_id"] == run_id and decision["side"] in ("long", "short", "flat")
    # a flat decision says why, in step 12's gate names
    gates = ("no proposal", "analyst margin", "tactician threshold", "regime switch",
             "minimum trades", "flat rule", "sized to zero", "no usable volatility")
    assert (decision["why_flat"] is None) == (decision["side"] != "flat")
    assert decision["side"] != "flat" or decision["why_flat"].startswith(gates)
    assert len(decision["top_features"]) <= 3 and decision["bar"]
    code, again = ares("run-all", *TINY, *one_fold, "--json")
    assert code == 0 and all(s["status"] == "cached" for s in again["steps"])
    code, resumed = ares("resume", "--from", "9", "--json")
    assert code == 0
    assert [s["status"] for s in resumed["steps"][:8]] == ["cached"] * 8
    assert [s["status"] for s in resumed["steps"][8:]] == ["ok"] * 8  # 9-16 re-executed
    assert [s["outputs"] for s in resumed["steps"]] == [s["outputs"] for s in again["steps"]]
    code, out = ares("promote", run_id, "--json")  # a month's record proves nothing
    assert code == 2 and "re-judged with 1 look(s)" in out["message"], out
    code, out = ares("promote", run_id, "--force", "--json")
    assert code == 0 and out["run_id"] == run_id and out["previous"] is None
    assert out["forced"] and out["verdict"] != "edge"
    code, line = ares("signal")
    assert code == 0 and "analyst P(up)" in line
    # a new champion changes step 15's input: it scores the champion bundle; 1-14 stay cached
    code, third = ares("run-all", *TINY, *one_fold, "--json")
    assert code == 0
    assert [s["status"] for s in third["steps"][:14]] == ["cached"] * 14
    assert third["steps"][14]["status"] == "ok"
    test = third["steps"][14]["metrics"]["test"]
    assert "bundle" in test["opponents_source"]
    # the champion is compared in addition to the baselines, each named for what it is
    assert {k: v["kind"] for k, v in test["per_opponent"].items()} == {
        "buy_and_hold": "baseline", "momentum": "baseline", "regime_rule": "baseline",
        "champion": "champion"}
    # an experiment after promotion never touches the champion: `step 4 --set ...` and
    # `resume` carry it in a new run, and the live decision is the champion's as before
    code, before = ares("signal", "--json")
    assert code == 0 and before["run_id"] == run_id
    champion_manifest = store.manifest_path(run_id).read_bytes()
    code, experiment = ares("step", "4", *TINY, *one_fold, "--set", "labels.k_up=2.5",
                            "--json")
    assert code == 0 and experiment["run_id"] != run_id
    code, finished = ares("resume", "--json")
    assert code == 0 and finished["run_id"] == experiment["run_id"]
    assert all(s["status"] in ("ok", "cached") for s in finished["steps"])
    assert store.read_manifest(finished["run_id"]).based_on in (run_id, third["run_id"])
    code, after = ares("signal", "--json")
    wall_clock = {"data_age_minutes"}
    assert code == 0 and {k: v for k, v in after.items() if k not in wall_clock} == {
        k: v for k, v in before.items() if k not in wall_clock}
    assert store.manifest_path(run_id).read_bytes() == champion_manifest
    assert (store.runs / run_id / "report.html").is_file()
    code, out = ares("export", run_id, "--out", str(tmp_path / "champion-export"))
    assert code == 0, out
    code, rows = ares("status", "--json")
    assert rows["rows"][0]["champion"] == run_id
    assert rows["rows"][0]["run"] == finished["run_id"]


def test_analyst_steps_run_and_say_what_they_did(store_copy):
    code, summary = ares("run-all", *TINY, "--to", str(TINY_LAST_STEP), "--json")
    assert code == 0, summary
    steps = {s["number"]: s for s in summary["steps"]}
    assert all(steps[n]["status"] == "cached" for n in range(1, TINY_LAST_STEP + 1))
    train = steps[5]
    fallback = train["metrics"]["data"]["fallback_regimes"]
    assert set(fallback) < {"BULL", "BEAR", "SIDEWAYS", "VOLATILE"}  # some have specialists
    assert ("global model serves" in train["message"]) == bool(fallback)
    for member, scores in train["metrics"]["train_cv"]["per_member"].items():
        assert {"logloss", "auc", "baseline_logloss", "edge"} <= set(scores), member
    assert set(train["outputs"]) == {"analyst_models"}
    enhance = steps[6]["metrics"]
    per_member = enhance["train_cv"]["per_member"]
    assert enhance["data"]["trials_total"] == 2 * len(per_member)
    ensemble = steps[7]["metrics"]
    assert ensemble["validation"]["ensemble"]["rows"] > 0
    edge = ensemble["validation"]["edge"]["log_loss"]
    assert edge["verdict"] in ("edge", "no edge")
    assert edge["ci95"] is not None or "too little data" in edge["reason"]
    assert {"ensemble", "members", "baseline", "edge"} <= set(ensemble["train_cv"])
    assert steps[7]["message"].startswith(("edge on validation", "no edge on validation"))
    assert (edge["verdict"] == "no edge") == any("no edge" in w for w in summary["warnings"])


@pytest.mark.slow
def test_two_runs_give_the_same_digests(env, built_store):
    """A fresh run in a new store makes exactly the objects the session's run made."""
    code, summary = ares("run-all", *TINY, "--to", str(TINY_LAST_STEP), "--json")
    assert code == 0, summary
    assert all(s["status"] == "ok" for s in summary["steps"][:TINY_LAST_STEP])
    reference = Store(built_store).list_runs()[-1]
    for record, fresh in zip(reference.steps[:TINY_LAST_STEP], summary["steps"], strict=False):
        assert fresh["outputs"] == record.outputs, record.name
    assert summary["steps"][6]["outputs"]["analyst_ensemble"]


def test_config_change_reruns_its_step_and_later_ones_only(env):
    assert ares("run-all", *SMALL, "--to", "3", "--json")[0] == 0
    _, regimes_changed = ares("run-all", *SMALL, "--set", "regimes.trend_window=24",
                              "--to", "3", "--json")
    assert [statuses(regimes_changed)[n] for n in (1, 2, 3)] == ["cached", "ok", "ok"]
    # step 2's too-little-data gate reads the split's fractions and gaps, not this key
    _, split_changed = ares("run-all", *SMALL, "--set", "split.min_regime_rows=150",
                            "--to", "3", "--json")
    assert [statuses(split_changed)[n] for n in (1, 2, 3)] == ["cached", "cached", "ok"]
    _, gap_changed = ares("run-all", *SMALL, "--set", "split.purge_bars=30",
                          "--to", "3", "--json")
    assert [statuses(gap_changed)[n] for n in (1, 2, 3)] == ["cached", "ok", "ok"]
    _, seed_changed = ares("run-all", *SMALL, "--set", "data.seed=8", "--to", "3", "--json")
    assert [statuses(seed_changed)[n] for n in (1, 2, 3)] == ["ok", "ok", "ok"]


def test_step_by_name_and_number_and_resume_from(env):
    assert ares("run-all", *QUICK, "--to", "3", "--json")[0] == 0
    code, by_name = ares("step", "regime-classify", *QUICK, "--json")
    assert code == 0 and statuses(by_name)[2] == "cached"
    code, by_number = ares("step", "2", *QUICK, "--force", "--json")
    assert code == 0 and statuses(by_number)[2] == "ok"
    assert statuses(by_number)[3] == "ok"  # same outputs, so step 3's record is still current
    code, resumed = ares("resume", "--from", "2", "--json")
    assert [statuses(resumed)[n] for n in (1, 2, 3)] == ["ok", "ok", "ok"]  # 1 kept, 2-3 redone
    assert resumed["run_id"] == by_number["run_id"]


@pytest.mark.slow  # several processes: the slow tier (CI) runs it
def test_resume_from_beyond_the_runs_last_step_runs_it(env):
    assert ares("run-all", *QUICK, "--to", "2", "--json")[0] == 0
    _, resumed = ares("resume", "--from", "3", "--json")
    assert statuses(resumed)[3] == "ok"
    assert statuses(resumed)[4] == "ok"  # --from N goes on to the end


def test_synthetic_market_in_the_future_is_not_truncated(env):
    code, summary = ares("run-all", *SMALL, "--set", "data.start=2090-01-01", "--to", "1",
                         "--json")
    assert code == 0
    assert summary["steps"][0]["metrics"]["data"]["last"].startswith("2090-01-20")
    assert summary["warnings"] == []


def test_step_refuses_inputs_made_with_other_settings(env):
    assert ares("run-all", *SMALL, "--to", "3", "--json")[0] == 0
    code, output = ares("step", "regime-split", *SMALL, "--set", "split.train=0.5",
                        "--set", "split.validation=0.3")
    assert code == 2
    assert "step 2 regime-classify" in output and "split.train = 0.6 (now 0.5)" in output
    assert "ares run-all --from 2" in output
    code, output = ares("run-all", *SMALL, "--set", "regimes.smoothing=3", "--from", "3",
                        "--to", "3")
    assert code == 2 and "regimes.smoothing = 6 (now 3)" in output


def test_step_marks_later_steps_with_other_settings_not_run(env):
    assert ares("run-all", *SMALL, "--to", "3", "--json")[0] == 0
    code, summary = ares("step", "regime-classify", *SMALL, "--set", "split.purge_bars=30",
                         "--json")
    assert code == 0
    assert statuses(summary)[3] == "not-run"
    assert "split.purge_bars" in summary["steps"][2]["message"]
    code, resumed = ares("resume", "--json")
    assert code == 0 and statuses(resumed)[3] == "ok"


def test_step_without_its_inputs_names_the_missing_step(env):
    code, output = ares("step", "regime-split", *SMALL)
    assert code == 1
    assert "input 'regimes' is missing" in output
    assert "ares step regime-classify" in output


def test_usage_errors_exit_2_before_any_work(env):
    code, output = ares("step", "regime-clasify")
    assert code == 2
    assert "Did you mean 'regime-classify'" in output and f"{LAST} save" in output
    code, output = ares("run-all", "--set", "data.dyas=3")
    assert code == 2 and "did you mean 'data.days'" in output
    assert not (env / "store").exists(), "a config error must not touch the store"
    assert ares("resume")[0] == 2


def test_corrupted_object_found_by_verify_and_repaired_by_force(env):
    code, summary = ares("run-all", *SMALL, "--to", "3", "--json")
    regimes = summary["steps"][1]["outputs"]["regimes"]
    store = Store(env / "store")
    path = store.object_path(regimes)
    path.chmod(0o644)
    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")
    code, output = ares("verify")
    assert code == 1
    assert regimes in output and "output 'regimes' of step regime-classify" in output
    code, failed = ares("step", "regime-split", *SMALL, "--force", "--json")
    message = failed["steps"][2]["message"]
    assert code == 1 and "corrupted" in message and "ares step regime-classify --force" in message
    assert ares("step", "regime-classify", *SMALL, "--force", "--json")[0] == 0
    assert ares("verify")[0] == 0
    assert ares("step", "regime-split", *SMALL, "--force", "--json")[0] == 0


def test_plain_output_has_no_escape_codes_and_status_lists_runs(env):
    code, output = ares("run-all", *SMALL, "--to", "2")
    assert code == 0
    assert "\x1b[" not in output
    assert f"[2/{LAST}] regime-classify: ok" in output
    code, output = ares("status")
    assert code == 0 and "binance\tETHUSDT" in output
    code, output = ares("runs")
    assert code == 0 and "ETHUSDT" in output
    shown = CliRunner().invoke(app, ["show", "regime-classify"])
    assert json.loads(shown.stdout)["status"] == "ok"
    assert "step 2 regime-classify of run" in shown.stderr
    code, output = ares("gc")
    assert code == 0 and "removed" in output


def test_second_run_on_the_same_pair_exits_75(env):
    store = Store(env / "store")
    with store.lock("binance", "ETHUSDT"):
        code, output = ares("run-all", *SMALL, "--to", "1")
    assert code == 75 and f"pid {os.getpid()}" in output


def _ares_process(store: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "ares_cli", *args],
        env={**os.environ, "ARES_STORE": str(store)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


@pytest.mark.slow
def test_kill_9_then_resume_gives_the_same_digests(env):
    big = ["--set", "data.days=240", "--set", "data.trades_per_day=20000", "--to", "3"]
    reference = _ares_process(env / "reference", "run-all", *big, "--json")
    out, err = reference.communicate(timeout=300)
    assert reference.returncode == 0, err
    expected = {s["number"]: s["outputs"] for s in json.loads(out)["steps"]}

    victim = _ares_process(env / "victim", "run-all", *big)
    store = Store(env / "victim")
    deadline = time.time() + 120
    while time.time() < deadline:  # kill while step 2 is in flight
        runs = store.list_runs()
        if runs and runs[-1].step(2).status == "running":
            break
        time.sleep(0.02)
    else:
        pytest.fail("step 2 never started")
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=30)
    killed = store.list_runs()[-1]
    assert killed.step(1).status == "ok"
    assert killed.step(2).status == "running"

    resumed = _ares_process(env / "victim", "resume", "--json")
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    summary = json.loads(out)
    assert summary["run_id"] == killed.run_id
    assert [statuses(summary)[n] for n in (1, 2, 3)] == ["ok", "ok", "ok"]
    assert {n: summary["steps"][n - 1]["outputs"] for n in (1, 2, 3)} == {
        n: expected[n] for n in (1, 2, 3)
    }
    checked, corrupt = store.verify()
    assert checked > 0 and corrupt == []


def test_enhance_study_in_a_journal_continues_instead_of_starting_over(store_copy, tmp_path):
    journal = tmp_path / "optuna.journal"
    args = [*TINY, "--set", f'enhance.storage="journal:{journal}"', "--set", "enhance.n_trials=3"]
    code, first = ares("run-all", *args, "--to", "6", "--json")
    assert code == 0, first
    assert [s["status"] for s in first["steps"][:6]] == ["cached"] * 5 + ["ok"]
    per_member = first["steps"][5]["metrics"]["train_cv"]["per_member"]
    assert all(m["trials"] == 3 and m["new_trials"] == 3 for m in per_member.values())
    assert journal.is_file()
    code, again = ares("step", "analyst-enhance", *args, "--force", "--json")
    assert code == 0, again
    per_member = again["steps"][5]["metrics"]["train_cv"]["per_member"]
    assert all(m["trials"] == 3 and m["new_trials"] == 0 for m in per_member.values())
    assert again["steps"][5]["outputs"] == first["steps"][5]["outputs"]


def _strict_json(text: str) -> dict:
    """Parse as a strict parser would: NaN and Infinity are not JSON."""
    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} in JSON output")

    return json.loads(text, parse_constant=refuse)


def test_too_little_data_is_a_data_error_naming_the_span(env):
    """Two days of 1h bars cannot be split into windows wider than their gaps: exit 3 at step
    2 (before any later step), with the real span, the bars made and needed, and a bars.base
    that passes both the regime fit's and the split's gates when followed."""
    result = CliRunner().invoke(app, ["run-all", "--set", "data.days=2", "--to", "7", "--json"])
    summary = _strict_json(result.stdout)
    assert result.exit_code == 3 and summary["exit_code"] == 3
    message = summary["steps"][1]["message"]
    assert "the data span 48.0 h (2024-01-01" in message and "makes 48 bars of 1h" in message
    assert "the pipeline needs at least 363 (train, validation and test windows" in message
    assert "crashed" not in message and "RuntimeWarning" not in result.output
    hint = message.split("e.g. ")[1].split(" (")[0]  # "--set bars.base=10m"
    args = hint.split()
    followed = CliRunner().invoke(app, ["run-all", "--set", "data.days=2", *args, "--to", "3",
                                        "--json"])
    assert followed.exit_code == 0, followed.stdout


def test_too_little_data_for_any_bar_size_says_so(env, tmp_path):
    """46 s of trades: no bar size makes the 202 bars the regime fit needs, and the message
    says so plainly instead of suggesting a setting that cannot work."""
    from tests.data.binance_files import binance_path, csv_bytes, generate

    gen = generate("spot-trades", n=185)
    path = binance_path(tmp_path / "data", "spot-trades")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(csv_bytes(gen))
    result = CliRunner().invoke(app, ["run-all", "--source", "files", "--path", str(path),
                                      "--to", "3", "--json"])
    summary = _strict_json(result.stdout)
    message = summary["steps"][1]["message"]
    assert result.exit_code == 3 and "the data span 46 s" in message
    assert "no bar size can make that many" in message and "--set" not in message


def test_json_output_is_strict_json(store_copy):
    result = CliRunner().invoke(app, ["run-all", *TINY, "--to", str(TINY_LAST_STEP), "--json"])
    summary = _strict_json(result.stdout)
    assert summary["exit_code"] == 0
    manifest = Store(store_copy).list_runs()[-1]
    _strict_json((store_copy / "runs" / manifest.run_id / "manifest.json").read_text())


def test_a_lost_day_of_trades_is_named_by_verify_kept_by_gc_and_shown(env):
    """The trades are a list of day objects: `show` describes the list, `gc` keeps every day
    a run reaches, and a day gone is damage `verify` names with the step that made it and
    the repair, after which a re-collect restores it."""
    code, summary = ares("run-all", *SMALL, "--to", "2", "--json")
    assert code == 0
    listing = summary["steps"][0]["outputs"]["trades"]
    store = Store(env / "store")
    days = store.parts_of(listing)
    assert len(days) == summary["steps"][0]["metrics"]["data"]["trade_days"] > 1
    shown = CliRunner().invoke(app, ["show", listing[:12]])
    described = json.loads(shown.stdout)
    assert described["kind"] == "chunks" and described["days"] == len(days)
    assert described["parts_missing"] == 0
    assert json.loads(CliRunner().invoke(app, ["show", days[1][:12]]).stdout)["kind"] == "table"
    assert ares("gc")[0] == 0 and all(store.has(d) for d in days)
    path = store.object_path(days[1])
    path.chmod(0o644)
    path.unlink()
    code, output = ares("verify")
    assert code == 1 and f"missing: {days[1]} (output 'trades' of step collect)" in output
    assert "repair with: ares step collect --force" in output
    assert ares("step", "collect", *SMALL, "--force", "--json")[0] == 0
    assert ares("verify")[0] == 0


def test_a_champion_or_completed_run_is_never_edited_step_and_resume_make_a_child(env):
    """`ares step` and `ares resume --from` on the champion (or a completed run) leave its
    manifest byte for byte as it was and carry the experiment in a new run based on it;
    `latest` moves to the new run, the champion stays."""
    assert ares("run-all", *SMALL, "--to", "1", "--json")[0] == 0
    store = Store(env / "store")
    parent = store.list_runs()[-1].run_id
    store.set_ref("binance", "ETHUSDT", "champion", parent)  # as `promote` would, bundle aside
    before = store.manifest_path(parent).read_bytes()
    code, child = ares("step", "collect", *SMALL, "--force", "--json")
    assert code == 0 and child["run_id"] != parent and statuses(child)[1] == "ok"
    assert store.read_manifest(child["run_id"]).based_on == parent
    assert store.manifest_path(parent).read_bytes() == before
    assert store.get_ref("binance", "ETHUSDT", "latest") == child["run_id"]
    assert store.get_ref("binance", "ETHUSDT", "champion") == parent
    # the child is an experiment in progress, not history: a step continues it in place
    code, again = ares("step", "collect", *SMALL, "--force", "--json")
    assert code == 0 and again["run_id"] == child["run_id"]
    # resume --from on the champion itself (made latest again) makes another child (which
    # here fails at once: step 16's inputs were never made)
    store.set_ref("binance", "ETHUSDT", "latest", parent)
    code, other = ares("resume", "--from", "16", "--json")
    assert code == 1 and other["run_id"] not in (parent, child["run_id"])
    assert store.read_manifest(other["run_id"]).based_on == parent
    assert store.manifest_path(parent).read_bytes() == before
    code, out = ares("status", "--json")
    row = out["rows"][0]
    assert row["champion"] == parent and row["run"] == other["run_id"]
