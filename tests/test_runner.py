"""The runner: action keys that see code and config, exact re-execution, and the step contract
as the runner enforces it. Each test works on its own copy of the session's tiny store."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import ares_cli.codehash as codehash
from ares_cli.cli import app
from ares_cli.errors import StepFailed
from ares_cli.runner import check_outputs
from ares_cli.steps import STEPS
from ares_cli.steps.base import StepResult
from tests.conftest import TINY_LAST_STEP, TINY_SETS

SETS = [arg for item in TINY_SETS for arg in ("--set", item)]


def run_all(*extra: str) -> dict:
    result = CliRunner().invoke(app, ["run-all", *SETS, "--to", str(TINY_LAST_STEP), "--json",
                                      *extra])
    summary = json.loads(result.stdout)
    assert result.exit_code == summary["exit_code"]
    return summary


def statuses(summary: dict) -> list[str]:
    return [s["status"] for s in summary["steps"][:TINY_LAST_STEP]]


def test_unchanged_code_and_config_are_all_cached(store_copy):
    summary = run_all()
    assert summary["exit_code"] == 0
    assert statuses(summary) == ["cached"] * TINY_LAST_STEP


def test_editing_an_ml_module_reruns_exactly_the_steps_that_import_it(store_copy, monkeypatch):
    """ml/dataset.py is imported by step 4 (analyst-features) and step 8 (for the causal
    sigma), not by steps 5-7.

    Those two re-execute; their outputs are byte-identical (the edit adds an unused function),
    so every other step's inputs are unchanged and it stays cached.
    """
    original = codehash.read_source

    def edited(module: str) -> str | None:
        source = original(module)
        if module == "ares_cli.ml.features.dataset" and source is not None:
            source += "\n\ndef _added_by_a_test() -> int:\n    return 42\n"
        return source

    monkeypatch.setattr(codehash, "read_source", edited)
    importers = {s.number for s in STEPS[:TINY_LAST_STEP]
                 if "ares_cli.ml.features.dataset" in codehash.module_closure(s.run.__module__)}
    assert 4 in importers and not importers & {1, 2, 3, 5, 6, 7}
    summary = run_all()
    assert summary["exit_code"] == 0
    expected = ["ok" if n in importers else "cached" for n in range(1, TINY_LAST_STEP + 1)]
    assert statuses(summary) == expected


def test_source_edited_during_a_run_fails_the_step_instead_of_storing_it(store_copy,
                                                                        monkeypatch):
    """The process holds the code it imported when the run began; a result keyed by the digest
    of a file edited since then would claim code that never ran."""
    from ares_cli.runner import Runner

    split = STEPS[2]
    module = split.run.__module__
    original_read, original_snapshot = codehash.read_source, Runner.snapshot_code
    edited = {"now": False}

    def read(name: str) -> str | None:
        source = original_read(name)
        if edited["now"] and name == module and source is not None:
            source += "\n\ndef _added_by_a_test() -> int:\n    return 42\n"
        return source

    def snapshot_then_edit(self: Runner, steps: list) -> None:
        original_snapshot(self, steps)
        edited["now"] = True

    monkeypatch.setattr(codehash, "read_source", read)
    monkeypatch.setattr(Runner, "snapshot_code", snapshot_then_edit)
    result = CliRunner().invoke(app, ["step", split.name, "--force", "--json"])
    summary = json.loads(result.stdout)
    assert result.exit_code == 1 == summary["exit_code"]
    assert "changed on disk while this run was in progress" in result.stdout


def test_a_changed_config_key_reruns_its_step_and_those_after_it(store_copy):
    """A step-8 key (late, so the test stays quick): steps 1-7 stay cached, 8 onwards re-run."""
    summary = run_all("--set", "costs.slippage_bps=5.0")
    assert summary["exit_code"] == 0
    assert statuses(summary) == ["cached"] * 7 + ["ok"] * (TINY_LAST_STEP - 7)
    # The same change again is a cache hit all the way.
    assert statuses(run_all("--set", "costs.slippage_bps=5.0")) == ["cached"] * TINY_LAST_STEP


def test_check_outputs_rejects_missing_undeclared_and_empty_outputs():
    import polars as pl

    from ares_cli.artifacts import Artifact

    split = STEPS[2]
    good = {"splits": Artifact.table(pl.DataFrame({"a": [1]})), "split_summary": Artifact.json({})}
    check_outputs(split, StepResult(good))
    with pytest.raises(StepFailed, match="did not produce"):
        check_outputs(split, StepResult({"splits": good["splits"]}))
    with pytest.raises(StepFailed, match="undeclared"):
        check_outputs(split, StepResult({**good, "extra": Artifact.json(1)}))
    with pytest.raises(StepFailed, match="empty table"):
        check_outputs(split, StepResult({**good, "splits": Artifact.table(pl.DataFrame())}))


@pytest.mark.slow  # several processes: the slow tier (CI) runs it
def test_warm_workers_are_the_processes_the_folds_then_use(monkeypatch):
    """The warm-up starts joblib's reusable local processes; the folds run in those same
    processes (no second start-up), and one job or a Dask backend starts nothing."""
    import os

    import joblib
    from joblib.externals.loky import get_reusable_executor

    from ares_cli import folds
    from ares_cli.ml.evaluation.walk_forward import ComputeConfig

    get_reusable_executor().shutdown(wait=True)  # fresh processes, as at the start of a run
    monkeypatch.setattr(folds, "_WARMING", [])
    monkeypatch.setattr(folds, "_WARMED", [])
    folds.warm_workers(ComputeConfig(n_jobs=1))
    folds.warm_workers(ComputeConfig(backend="dask", n_jobs=2, scheduler="tcp://127.0.0.1:1"))
    assert folds._WARMING == []
    folds.warm_workers(ComputeConfig(n_jobs=2))
    assert len(folds._WARMING) == 1
    folds._WARMING[0].join(timeout=120)
    warmed = set(folds._WARMED)
    assert len(warmed) == 2 and os.getpid() not in warmed  # each process took one warm-up
    with folds._local_processes():  # the settings run_folds asks for
        used = set(joblib.Parallel(n_jobs=2)(joblib.delayed(os.getpid)() for _ in range(8)))
    assert used <= warmed


def test_later_steps_are_prepared_and_begun_early_only_when_they_will_run(store_copy,
                                                                          monkeypatch):
    """Walk-forward's workers are warmed in the background once a step before it executes
    (not on an all-cached run, where they would only cost CPU and exit time), and once.

    A step that can start early (walk-forward) is begun as soon as every maker of its inputs
    has run and none is still to run, under the action key the step itself then runs with (so
    it takes exactly that work); never for a cached step; and work nobody took is cancelled
    when the run ends (mutations: another key, or not cancelling, each fail this)."""
    import dataclasses

    import ares_cli.runner as runner_module
    from ares_cli.util import early

    begun: list[dict] = []
    cancelled: list[str] = []
    last = runner_module.BY_NUMBER[TINY_LAST_STEP]

    def start_early(inputs, _view, env) -> bool:
        begun.append({"inputs": sorted(inputs), "key": env.state_key})
        return early.start(env.state_key, lambda _progress: None,
                           cancel=lambda: cancelled.append(env.state_key))

    prepared: list[object] = []
    patched = dict(runner_module.BY_NUMBER)
    patched[TINY_LAST_STEP] = dataclasses.replace(last, start_early=start_early,
                                                  prepare=prepared.append)
    monkeypatch.setattr(runner_module, "BY_NUMBER", patched)

    assert statuses(run_all()) == ["cached"] * TINY_LAST_STEP
    assert begun == [] and prepared == []  # cached: nothing to prepare or begin
    summary = run_all("--set", "costs.slippage_bps=5.0")
    assert statuses(summary)[7:] == ["ok"] * (TINY_LAST_STEP - 7)
    assert len(prepared) == 1 and prepared[0].n_jobs >= 1  # the run's compute config
    assert len(begun) == 1 and begun[0]["inputs"] == sorted(last.all_inputs)
    record = json.loads((store_copy / "runs" / summary["run_id"] / "manifest.json")
                        .read_text())["steps"][TINY_LAST_STEP - 1]
    assert begun[0]["key"] == record["action_key"]
    events = [json.loads(line) for line in
              (store_copy / "runs" / summary["run_id"] / "log.jsonl").read_text().splitlines()]
    order = [(e["event"], e.get("step")) for e in events
             if e["event"] in ("step-finished", "step-started", "step-begun-early")]
    makers = {runner_module.PRODUCER[name].name for name in last.all_inputs}
    at = order.index(("step-begun-early", last.name))
    assert {name for event, name in order[:at] if event == "step-finished"} >= makers
    assert order[at + 1] == ("step-started", last.name)
    # the step did not take it (only walk-forward takes its work): cancelled at the run's end
    assert cancelled == [record["action_key"]] and early.pending() == []

    def broken(*_args) -> bool:
        raise OSError("cannot read the bars")

    patched[TINY_LAST_STEP] = dataclasses.replace(last, start_early=broken)
    summary = run_all("--set", "costs.slippage_bps=6.0")  # a failed early start costs time only
    assert summary["exit_code"] == 0 and statuses(summary)[7:] == ["ok"] * (TINY_LAST_STEP - 7)
    log = (store_copy / "runs" / summary["run_id"] / "log.jsonl").read_text()
    assert '"step-not-begun-early"' in log and "cannot read the bars" in log
