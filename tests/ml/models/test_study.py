"""Optuna plumbing (ml/study.py): storages, resume, dead trials, shared workers, multi-objective."""

from __future__ import annotations

import math
import multiprocessing
import os
import socket
import time
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

from ares_cli.ml.models import study as st


def tpe(seed: int) -> optuna.samplers.BaseSampler:
    """TPE that leaves its random start-up phase after 3 trials, so tests reach the TPE draws."""
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=3)


def nsga2(seed: int) -> optuna.samplers.BaseSampler:
    """NSGA-II with a small population so a few trials span several generations."""
    return optuna.samplers.NSGAIISampler(seed=seed, population_size=4)


def quadratic(trial: optuna.Trial) -> float:
    """A cheap single objective over one float and one int."""
    x = trial.suggest_float("x", -5.0, 5.0)
    n = trial.suggest_int("n", 1, 20)
    return (x - 1.0) ** 2 + n / 10


def two_goals(trial: optuna.Trial) -> tuple[float, float]:
    """A cheap two-objective problem (maximise the first, minimise the second)."""
    x = trial.suggest_float("x", 0.0, 1.0)
    y = trial.suggest_float("y", 0.0, 1.0)
    return x, (1.0 - x) ** 2 + y


def journal(path: Path) -> optuna.storages.BaseStorage:
    storage = st.make_storage(f"journal:{path}")
    assert storage is not None
    return storage


def draws(study: optuna.Study) -> list[dict[str, Any]]:
    """Parameters of the COMPLETE trials, by trial number."""
    return [t.params for t in st.complete_trials(study)]


def run(
    study: optuna.Study, n: int, objective: Any = quadratic, factory: Any = tpe, seed: int = 0
) -> int:
    with st.quiet_optuna():
        return st.run_until_complete(study, objective, n, sampler_factory=factory, seed=seed)


def open_journal(path: Path, directions: tuple[str, ...] = ("minimize",)) -> optuna.Study:
    with st.quiet_optuna():
        study, _ = st.open_study("s", journal(path), directions)
    return study


def leave_a_running_trial(path: str) -> None:
    """Worker process: start a trial and exit without finishing it, like after `kill -9`."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name="s", storage=st.make_storage(f"journal:{path}"))
    trial = study.ask()
    trial.set_user_attr(st.WORKER_ATTR, st.worker_identity())


def shared_worker(path: str, n: int, barrier: Any) -> None:
    """Worker process: join the study on `path` and help it to `n` COMPLETE trials."""
    study = open_journal(Path(path))
    barrier.wait()  # start together: the hardest case for distinct seeds

    def slow(trial: optuna.Trial) -> float:
        time.sleep(0.02)  # long enough for the two workers' trials to overlap
        return quadratic(trial)

    run(study, n, slow)


def test_storage_specs(tmp_path: Path) -> None:
    assert st.make_storage("") is None
    assert isinstance(journal(tmp_path / "j.log"), optuna.storages.JournalStorage)
    rdb = st.make_storage(f"sqlite:///{tmp_path / 'o.db'}")
    assert isinstance(rdb, optuna.storages.RDBStorage)
    assert rdb.get_heartbeat_interval() == st.HEARTBEAT_S
    for bad in ("journal:", "nowhere", "optuna.log"):
        with pytest.raises(ValueError, match="journal:PATH"):
            st.make_storage(bad)


def test_open_study_creates_loads_and_checks_directions(tmp_path: Path) -> None:
    first = open_journal(tmp_path / "j.log")
    assert run(first, 2) == 2
    again = open_journal(tmp_path / "j.log")
    assert st.count_complete(again) == 2 and draws(again) == draws(first)
    assert run(again, 2) == 0  # already there
    with pytest.raises(ValueError, match="directions"):
        open_journal(tmp_path / "j.log", ("maximize",))
    for bad in ((), ("up",)):
        with pytest.raises(ValueError, match="direction"):
            open_journal(tmp_path / "other.log", bad)
    memory, failed = st.open_study("m", None, ["maximize", "minimize"])
    assert failed == 0 and len(memory.directions) == 2


def test_resumed_study_draws_what_an_uninterrupted_one_draws(tmp_path: Path) -> None:
    """3 trials, a crashed one and a dead RUNNING one, then resume to 8 == 8 in one go."""
    whole = open_journal(tmp_path / "whole.log")
    run(whole, 8, seed=11)

    split = open_journal(tmp_path / "split.log")
    run(split, 3, seed=11)

    def crash(trial: optuna.Trial) -> float:
        quadratic(trial)
        raise RuntimeError("worker crashed")

    with pytest.raises(RuntimeError, match="crashed"):
        run(split, 8, crash, seed=11)
    dead = split.ask()  # a trial whose process "died": pid reused by a later process
    dead.set_user_attr(st.WORKER_ATTR, {**st.worker_identity(), "start": -1})
    quadratic(dead)

    with st.quiet_optuna():
        resumed, failed = st.open_study("s", journal(tmp_path / "split.log"))
    assert failed == 1
    assert run(resumed, 8, seed=11) == 5
    assert draws(resumed) == draws(whole)
    states = [t.state for t in resumed.get_trials(deepcopy=False)]
    assert states.count(TrialState.FAIL) == 2 and TrialState.RUNNING not in states
    # Trial k is drawn by a fresh sampler seeded seed + k, as if installed before each trial.
    reference = optuna.create_study()
    for k in range(8):
        reference.sampler = tpe(11 + k)
        with st.quiet_optuna():
            reference.optimize(quadratic, n_trials=1)
    assert draws(reference) == draws(whole)


def test_in_memory_runs_are_deterministic_and_tagged() -> None:
    a, _ = st.open_study("a", None)
    b, _ = st.open_study("b", None)
    assert run(a, 6, seed=3) == 6 and run(b, 6, seed=3) == 6
    assert draws(a) == draws(b)
    c, _ = st.open_study("c", None)
    run(c, 6, seed=4)
    assert draws(c) != draws(a)
    assert all(t.user_attrs[st.WORKER_ATTR] == st.worker_identity() for t in a.trials)


def test_trial_seed_counts_complete_and_earlier_running_trials() -> None:
    study, _ = st.open_study("seeds", None)
    done = study.ask()
    study.tell(done, 1.0)
    study.tell(study.ask(), state=TrialState.FAIL)
    running = study.ask()
    later = study.ask()
    assert st.trial_seed(study, running.number, 10) == 11  # the COMPLETE trial
    assert st.trial_seed(study, later.number, 10) == 12  # ... and the RUNNING one before it
    assert st.trial_seed(study, later.number, 2**32 - 1) == 1  # wraps into numpy's range


def test_trial_of_a_dead_local_process_is_failed_others_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "j.log"
    study = open_journal(path)
    run(study, 1)
    proc = multiprocessing.get_context("spawn").Process(
        target=leave_a_running_trial, args=(str(path),)
    )
    proc.start()
    proc.join(timeout=60)
    assert proc.exitcode == 0
    alive = study.ask()  # ours: this process is alive
    alive.set_user_attr(st.WORKER_ATTR, st.worker_identity())
    remote = study.ask()  # another host: may be alive, left to the heartbeat
    remote.set_user_attr(st.WORKER_ATTR, {"host": socket.gethostname() + "-x", "pid": 1})
    study.ask()  # no identity at all

    with st.quiet_optuna():
        reopened, failed = st.open_study("s", journal(path))
    assert failed == 1
    states = [t.state for t in reopened.get_trials(deepcopy=False)]
    assert states == [TrialState.COMPLETE, TrialState.FAIL] + [TrialState.RUNNING] * 3
    assert st.fail_dead_local_trials(journal(path), "s") == 0  # idempotent
    assert st.fail_dead_local_trials(journal(path), "unknown") == 0
    assert st.fail_dead_local_trials(None, "s") == 0


def test_two_workers_on_one_journal_share_the_trials(tmp_path: Path) -> None:
    """Two processes started together fill one study with distinct draws and then stop."""
    path, n = tmp_path / "shared.log", 10
    open_journal(path)
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    workers = [ctx.Process(target=shared_worker, args=(str(path), n, barrier)) for _ in range(2)]
    for proc in workers:
        proc.start()
    for proc in workers:
        proc.join(timeout=60)
    assert [proc.exitcode for proc in workers] == [0, 0]

    study = open_journal(path)
    trials = study.get_trials(deepcopy=False)
    complete = st.complete_trials(study)
    # Each worker finishes the trial it started, so the last round may add one extra trial.
    assert n <= len(complete) <= n + 1 and len(complete) == len(trials)
    assert [t.number for t in complete] == list(range(len(complete)))
    keys = {(t.params["x"], t.params["n"]) for t in complete}
    assert len(keys) == len(complete)  # no point drawn twice, even at the simultaneous start
    pids = {t.user_attrs[st.WORKER_ATTR]["pid"] for t in complete}
    assert len(pids) == 2 and os.getpid() not in pids


def test_stops_at_n_complete_when_another_worker_adds_trials() -> None:
    storage = optuna.storages.InMemoryStorage()
    study, _ = st.open_study("shared", storage)
    other = optuna.load_study(study_name="shared", storage=storage)

    def objective(trial: optuna.Trial) -> float:
        if trial.number == 0:
            for _ in range(3):  # meanwhile, another worker completes three trials
                other.tell(other.ask(), 1.0)
        return quadratic(trial)

    assert run(study, 5, objective) == 2
    assert st.count_complete(study) == 5


def test_failing_trials_use_up_the_budget_instead_of_looping() -> None:
    study, _ = st.open_study("nan", None)
    assert run(study, 3, lambda trial: math.nan + quadratic(trial)) == 3
    assert st.count_complete(study) == 0 and len(study.trials) == 3

    def boom(trial: optuna.Trial) -> float:
        raise ValueError("bad trial")

    with pytest.raises(ValueError, match="bad trial"):
        run(study, 3, boom)
    caught, _ = st.open_study("caught", None)
    with st.quiet_optuna():
        ran = st.run_until_complete(caught, boom, 2, sampler_factory=tpe, catch=(ValueError,))
    assert ran == 2 and {t.state for t in caught.trials} == {TrialState.FAIL}
    with pytest.raises(ValueError, match="n_complete"):
        run(study, -1)


def test_multi_objective_nsga2_runs_and_resumes(tmp_path: Path) -> None:
    directions = ("maximize", "minimize")
    whole = open_journal(tmp_path / "whole.log", directions)
    assert run(whole, 12, two_goals, nsga2, seed=5) == 12
    assert all(len(t.values) == 2 for t in st.complete_trials(whole))
    split = open_journal(tmp_path / "split.log", directions)
    run(split, 5, two_goals, nsga2, seed=5)
    resumed = open_journal(tmp_path / "split.log", directions)
    assert run(resumed, 12, two_goals, nsga2, seed=5) == 7
    assert draws(resumed) == draws(whole)
    memory, _ = st.open_study("m", None, directions)
    run(memory, 12, two_goals, nsga2, seed=5)
    assert draws(memory) == draws(whole)


def test_quiet_optuna_restores_the_level() -> None:
    before = optuna.logging.get_verbosity()
    with st.quiet_optuna():
        assert optuna.logging.get_verbosity() == optuna.logging.WARNING
    assert optuna.logging.get_verbosity() == before
