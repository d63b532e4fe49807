"""Faults a scheduled run meets: kill -9 at every step boundary and inside steps 6, 12 and 13
(then `ares resume`), workers that must die with a killed run, a full disk, two pairs on one
store at once, and a store moved to another path."""

from __future__ import annotations

import errno
import json
import os
import shutil
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
from tests.conftest import SMALL, TINY_LAST_STEP, TINY_SETS

SMALL_SETS = [arg for section, values in SMALL.items() for key, value in values.items()
              for arg in ("--set", f"{section}.{key}={value}")]
TINY = [arg for item in TINY_SETS for arg in ("--set", item)]

# Every step boundary, and three kills inside a step: step 6 after its first tuned member,
# step 12 after its study (before its result is stored), step 13 once its bar passes 30 %
# (folds still computing in worker processes), in the order a run meets them.
KILLS = [f"kill-before:{n}" for n in range(1, 7)] + ["kill-during:6:0.3"] + [
    f"kill-before:{n}" for n in range(7, 13)] + ["kill-during:12:0.5", "kill-before:13",
                                                 "kill-during:13:0.3"] + [
    f"kill-before:{n}" for n in range(14, LAST + 1)]


def _ares(store: Path, *args: str, fault: str | None = None) -> subprocess.Popen:
    env = {**os.environ, "ARES_STORE": str(store)}
    env.pop("ARES_FAULT", None)
    if fault:
        env["ARES_FAULT"] = fault
    return subprocess.Popen([sys.executable, "-m", "ares_cli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # its own process group, to find workers


def _group_gone(pgid: int, within: float) -> bool:
    """Whether every process of the group has exited within `within` seconds."""
    deadline = time.time() + within
    while time.time() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.slow  # one reference run and one run killed 19 times: about 4 min of a worker
def test_kill_9_at_every_boundary_and_inside_6_12_13_then_resume_gives_the_same_digests(
        tmp_path: Path) -> None:
    reference = _ares(tmp_path / "reference", "run-all", *SMALL_SETS, "--json")
    out, err = reference.communicate(timeout=900)
    assert reference.returncode == 0, err[-2000:]
    expected = {s["number"]: s["outputs"] for s in json.loads(out)["steps"]}

    victim = tmp_path / "victim"
    for k, fault in enumerate(KILLS):
        args = ("run-all", *SMALL_SETS) if k == 0 else ("resume",)
        process = _ares(victim, *args, fault=fault)
        _, err = process.communicate(timeout=900)
        assert process.returncode == -signal.SIGKILL, (fault, process.returncode, err[-2000:])
        # no worker outlives the killed run (loky workers, their resource tracker, step 12's)
        assert _group_gone(process.pid, within=10), f"{fault}: processes left behind"
        manifest = Store(victim).list_runs()[-1]
        assert manifest.status == "running"  # as the kill left it: `status` says interrupted
    process = _ares(victim, "resume", "--json")
    out, err = process.communicate(timeout=900)
    assert process.returncode == 0, err[-2000:]
    summary = json.loads(out)
    assert len(Store(victim).list_runs()) == 1 and summary["run_id"]
    assert {s["number"]: s["outputs"] for s in summary["steps"]} == expected
    checked, bad = Store(victim).verify()
    assert checked > 0 and bad == []


def test_a_full_disk_names_the_store_and_the_bytes_leaves_nothing_half_written_and_a_rerun_works(
        store_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ENOSPC injected at the atomic-write layer (this sandbox cannot mount a small tmpfs):
    every write of an object, manifest, ref or record fails as on a full device."""
    from ares_cli.util import fsutil

    def full(handle: object, data: bytes) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def listing() -> list[Path]:
        return sorted(p.relative_to(store_copy) for p in store_copy.rglob("*")
                      if "objects" in p.parts or "actions" in p.parts)

    before = listing()
    manifest_before = Store(store_copy).list_runs()[-1]
    monkeypatch.setattr(fsutil, "_write_all", full)
    result = CliRunner().invoke(app, ["run-all", *TINY, "--to", "4", "--force", "--json"])
    line = json.loads(result.stdout)
    assert result.exit_code == 1 and line["exit_code"] == 1 and line["status"] == "failed"
    message = line["message"]
    assert message.startswith("the store is full: no space left on the device of "), message
    assert str(store_copy) in message and "bytes" in message
    assert "ares resume" in result.stderr
    assert listing() == before  # no object or record half-written
    assert not list(store_copy.rglob(".tmp-*"))
    assert Store(store_copy).list_runs()[-1].run_id == manifest_before.run_id
    monkeypatch.undo()
    monkeypatch.setenv("ARES_STORE", str(store_copy))
    again = CliRunner().invoke(app, ["run-all", *TINY, "--to", "4", "--force", "--json"])
    assert again.exit_code == 0, again.stdout[-2000:]
    assert Store(store_copy).verify()[1] == []


@pytest.mark.slow  # two runs at once: about 1 min
def test_two_pairs_run_at_once_on_one_store(tmp_path: Path) -> None:
    store = tmp_path / "store"
    runs = [_ares(store, "run-all", *TINY, "--symbol", symbol, "--to", str(TINY_LAST_STEP),
                  "--json") for symbol in ("ETHUSDT", "BTCUSDT")]
    for process in runs:
        out, err = process.communicate(timeout=900)
        assert process.returncode == 0, err[-2000:]
        assert json.loads(out)["status"] == "ok"
    assert {m.symbol for m in Store(store).list_runs()} == {"ETHUSDT", "BTCUSDT"}
    assert Store(store).verify()[1] == []


def test_a_store_moved_to_another_path_still_works(store_copy: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    moved = tmp_path / "elsewhere" / "store"
    moved.parent.mkdir()
    shutil.move(str(store_copy), moved)
    monkeypatch.setenv("ARES_STORE", str(moved))
    runner = CliRunner()
    run_id = Store(moved).list_runs()[-1].run_id
    for args in (["status", "--json"], ["runs", "--json"], ["show", "latest", "--json"],
                 ["show", run_id, "--json"], ["verify", "--json"], ["gc", "--json"],
                 ["run-all", *TINY, "--to", str(TINY_LAST_STEP), "--json"],
                 ["step", "2", *TINY, "--json"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, (args, result.stdout[-1000:])
    summary = json.loads(runner.invoke(app, ["run-all", *TINY, "--to", str(TINY_LAST_STEP),
                                             "--json"]).stdout)
    assert all(s["status"] == "cached" for s in summary["steps"][:TINY_LAST_STEP])


@pytest.mark.slow  # several processes: the slow tier (CI) runs it
def test_a_worker_process_exits_when_the_run_that_started_it_dies(tmp_path: Path) -> None:
    """The fold processes (even one that never got a task) and their resource trackers are
    gone soon after their parent is killed with SIGKILL."""
    script = tmp_path / "parent.py"
    script.write_text(
        "import os, sys, time\n"
        "import joblib\n"
        "from ares_cli.folds import _local_processes\n"
        "with _local_processes():\n"
        "    pids = joblib.Parallel(n_jobs=2)(joblib.delayed(os.getpid)() for _ in range(1))\n"
        "print(os.getpid(), flush=True)\n"
        "time.sleep(600)\n")
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                              text=True, start_new_session=True)
    assert parent.stdout is not None
    assert int(parent.stdout.readline()) == parent.pid
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait(timeout=30)
    assert _group_gone(parent.pid, within=10)
