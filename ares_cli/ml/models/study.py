"""Optuna plumbing shared by the searches: storage, resumable studies, seeded trials, workers.

Step 6 (`ml/models/tuning.py`, single-objective TPE) uses it today and step 12 (multi-objective
NSGA-II) is meant to, so nothing here assumes a sampler or a number of objectives: the caller names
the directions and passes a `sampler_factory(seed) -> sampler`.

What it guarantees (DESIGN.md promises 5 and 6):

* Storage is in memory, an Optuna journal file or an RDB URL (`make_storage`), so a study can
  survive a crash and several worker processes can share it.
* `open_study` loads the study if it exists. Trials left RUNNING by a process that died on this
  host (found by the worker identity every trial carries) are marked FAIL, and with an RDB,
  Optuna's heartbeat fails stale trials of any host; a dead trial would otherwise never complete
  yet still steer the sampler.
* `run_until_complete` runs trials until the study holds N COMPLETE ones. Each trial is drawn
  by a fresh sampler from the factory, seeded from the study's state (`trial_seed`) rather
  than by a generator that lives in this process: trial k of a study resumed after a crash
  draws the same point as trial k of an uninterrupted run, which keeps results and artifact
  digests independent of crashes, and concurrent workers get distinct seeds. Only Optuna's
  public API is used: the `Study.sampler` attribute (Optuna's own `PartialFixedSampler` example
  reassigns it) and the `BaseSampler` interface.

Optuna is a heavy import, so it is imported inside the functions.
"""

from __future__ import annotations

import os
import socket
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna
    from optuna.distributions import BaseDistribution
    from optuna.trial import FrozenTrial, TrialState

__all__ = [
    "WORKER_ATTR",
    "complete_trials",
    "count_complete",
    "fail_dead_local_trials",
    "join_workers",
    "make_storage",
    "open_study",
    "quiet_optuna",
    "run_until_complete",
    "shared_storage",
    "start_workers",
    "trial_seed",
    "worker_identity",
]

WORKER_ATTR = "ares_worker"  # user attribute naming the process that ran a trial
# RDB storages: a RUNNING trial whose heartbeat is older than the grace period is failed.
HEARTBEAT_S = 60
GRACE_S = 180
_SEED_MODULUS = 2**32  # numpy's RandomState (behind Optuna's samplers) takes seeds below 2**32

SamplerFactory = Callable[[int], "optuna.samplers.BaseSampler"]
Objective = Callable[["optuna.Trial"], "float | Sequence[float]"]


def make_storage(spec: str) -> optuna.storages.BaseStorage | None:
    """Optuna storage for a spec: "" -> None (in memory), "journal:PATH", or an RDB URL.

    A journal file is safe for several processes on one file system. An RDB URL
    (sqlite:///..., postgresql://...) gets a heartbeat, so RUNNING trials of a dead worker on
    any host are failed after `GRACE_S` seconds.

    Raises:
        ValueError: for any other spec.
    """
    import optuna

    if spec == "":
        return None
    if spec.startswith("journal:"):
        path = spec.removeprefix("journal:")
        if not path:
            raise ValueError("storage 'journal:PATH' needs a file path")
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        return JournalStorage(JournalFileBackend(path))
    if "://" in spec:
        with warnings.catch_warnings():  # heartbeats are "experimental" since Optuna 2.9
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                spec, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S
            )
    raise ValueError(
        f"storage must be '', 'journal:PATH' or an RDB URL (sqlite:///..., postgresql://...), "
        f"got {spec!r}"
    )


def open_study(
    name: str,
    storage: optuna.storages.BaseStorage | None,
    directions: Sequence[str | optuna.study.StudyDirection] = ("minimize",),
) -> tuple[optuna.Study, int]:
    """Load the study `name` from `storage` (creating it if absent) and fail its dead trials.

    `directions` is one "minimize"/"maximize" per objective. With `storage` None the study is a
    fresh in-memory one. The study's sampler is a placeholder: `run_until_complete` installs one
    that gives every trial its own seeded sampler.

    Returns:
        The study and the number of trials just marked FAIL because the process running them on
        this host is gone (for the caller's notes).

    Raises:
        ValueError: if `directions` is empty or malformed, or an existing study of that name
            optimises in other directions (its trials would be scored against the wrong goal).
    """
    import optuna

    wanted = [_direction(d) for d in directions]
    if not wanted:
        raise ValueError("directions must name at least one objective")
    failed = fail_dead_local_trials(storage, name)
    study = optuna.create_study(
        storage=storage,
        sampler=optuna.samplers.RandomSampler(),
        study_name=name,
        directions=wanted,
        load_if_exists=True,
    )
    if list(study.directions) != wanted:
        raise ValueError(
            f"study {name!r} exists with directions "
            f"{[d.name.lower() for d in study.directions]}, not {[d.name.lower() for d in wanted]}"
        )
    with warnings.catch_warnings():  # "experimental"; a no-op for storages without heartbeat
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    return study, failed


def run_until_complete(
    study: optuna.Study,
    objective: Objective,
    n_complete: int,
    *,
    sampler_factory: SamplerFactory,
    seed: int = 0,
    catch: tuple[type[Exception], ...] = (),
) -> int:
    """Run trials of `objective` until `study` holds `n_complete` COMPLETE trials.

    Every trial is drawn by a fresh sampler, `sampler_factory(trial_seed(study, number, seed))`
    (see `trial_seed`): in a lone process that is `seed + (COMPLETE trials so far)`, so a study
    resumed after a crash draws exactly what an uninterrupted one draws, and FAIL trials do not
    shift the sequence. It is installed as `study.sampler` (a public attribute; Optuna's own
    `PartialFixedSampler` example reassigns it) in the form of a thin sampler that builds the
    per-trial sampler in `before_trial`, the first moment the new trial's number is known.

    Every trial carries `WORKER_ATTR` (host, pid, process start time) so a later `open_study`
    can tell a dead worker's trial from a live one. Like Optuna's `MaxTrialsCallback`, the count
    is re-read before each trial, so trials of other workers count; each worker still finishes
    the trial it started, so concurrent workers may leave up to one extra COMPLETE trial each.
    At most `n_complete - (COMPLETE trials at the start)` trials are run by this call, so an
    objective that keeps failing (NaN, a caught exception, pruning) cannot loop forever.

    Returns:
        The number of trials this call ran, whatever their final state.

    Raises:
        ValueError: if `n_complete` is not an integer >= 0; whatever `objective` raises outside
            `catch` (Optuna has then marked the trial FAIL).
    """
    if isinstance(n_complete, bool) or int(n_complete) != n_complete or n_complete < 0:
        raise ValueError(f"n_complete must be an integer >= 0, got {n_complete!r}")
    worker = worker_identity()

    def tagged(trial: optuna.Trial) -> float | Sequence[float]:
        trial.set_user_attr(WORKER_ATTR, worker)
        return objective(trial)

    budget = max(0, int(n_complete) - count_complete(study))
    study.sampler = _seeded_per_trial(study, sampler_factory, seed)
    ran = 0
    while ran < budget and count_complete(study) < n_complete:
        study.optimize(tagged, n_trials=1, catch=catch)
        ran += 1
    return ran


def trial_seed(study: optuna.Study, number: int, seed: int) -> int:
    """Seed of the sampler that draws trial `number`: `seed + k` modulo 2**32.

    k counts the trials numbered below `number` that are COMPLETE or RUNNING. In a lone
    process the only RUNNING trial is the new one (`open_study` failed the dead ones), so k is
    the number of COMPLETE trials: a resumed study draws what an uninterrupted one draws.
    Counting the earlier trials still RUNNING gives concurrent workers distinct seeds: for
    trials a < b, trial b counts trial a (running or done) and everything trial a counted, so
    its seed is larger, unless one of those trials has failed meanwhile. (Counting COMPLETE
    trials alone, two workers that start together would evaluate the same point.)
    """
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING))
    k = sum(1 for t in trials if t.number < number)
    return (seed + k) % _SEED_MODULUS


def complete_trials(study: optuna.Study) -> list[FrozenTrial]:
    """The study's COMPLETE trials in trial-number order (not copied: do not modify them)."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return sorted(trials, key=lambda t: t.number)


def count_complete(study: optuna.Study) -> int:
    """How many COMPLETE trials the study holds (all workers, all runs)."""
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))


def fail_dead_local_trials(storage: optuna.storages.BaseStorage | None, name: str) -> int:
    """Mark FAIL the RUNNING trials of study `name` whose worker process on this host is gone.

    A `kill -9` leaves its trial RUNNING forever; it would never count as complete but would
    still steer the sampler (TPE's constant liar treats it as pending) and shift the seeds of
    `run_until_complete`. Trials of other hosts, and trials without a worker identity, are left
    alone (they may be alive); RDB storages fail those by heartbeat.

    Returns:
        How many trials were failed (0 for in-memory storage or an unknown study).
    """
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    if storage is None:
        return 0
    try:
        study_id = storage.get_study_id_from_name(name)
    except KeyError:
        return 0
    failed = 0
    for trial in storage.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,)):
        worker = trial.user_attrs.get(WORKER_ATTR)
        if not isinstance(worker, dict) or not _is_dead_local(worker):
            continue
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
        try:
            if storage.set_trial_state_values(trial_id, state=TrialState.FAIL):
                failed += 1
        except UpdateFinishedTrialError:
            pass  # finished meanwhile
    return failed


def worker_identity() -> dict[str, Any]:
    """Who runs a trial: host, pid and the process start time (guards against pid reuse)."""
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "start": _process_start(pid)}


@contextmanager
def quiet_optuna() -> Iterator[None]:
    """Silence Optuna's per-trial INFO logging for the duration, then restore the level."""
    import optuna

    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(previous)


def _seeded_per_trial(
    study: optuna.Study, factory: SamplerFactory, seed: int
) -> optuna.samplers.BaseSampler:
    """A sampler that hands each trial of `study` to a fresh `factory(trial_seed(...))`.

    The class is built here because subclassing `BaseSampler` needs optuna imported. The
    per-trial samplers are kept by trial number until `after_trial`, so trials that overlap in
    one process (`n_jobs > 1`) do not share one; `reseed_rng` (Optuna's remedy for shared
    generators under `n_jobs > 1`) is a no-op because no generator outlives its trial. Trials
    are counted on `study` itself, not on the study view Optuna passes to the hooks (a
    Hyperband pruner passes one bracket of it).
    """
    from optuna.samplers import BaseSampler

    by_trial: dict[int, BaseSampler] = {}  # trial number -> its sampler, until after_trial

    def sampler_for(trial: FrozenTrial) -> BaseSampler:
        inner = by_trial.get(trial.number)
        if inner is None:  # before_trial was not called for it (not expected)
            inner = by_trial[trial.number] = factory(trial_seed(study, trial.number, seed))
        return inner

    class SeededPerTrial(BaseSampler):
        """Delegates every call about a trial to the sampler built for that trial."""

        def __str__(self) -> str:
            return f"SeededPerTrial(seed={seed})"

        def before_trial(self, s: optuna.Study, trial: FrozenTrial) -> None:
            inner = by_trial[trial.number] = factory(trial_seed(study, trial.number, seed))
            inner.before_trial(s, trial)

        def infer_relative_search_space(
            self, s: optuna.Study, trial: FrozenTrial
        ) -> dict[str, BaseDistribution]:
            return sampler_for(trial).infer_relative_search_space(s, trial)

        def sample_relative(
            self, s: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
        ) -> dict[str, Any]:
            return sampler_for(trial).sample_relative(s, trial, search_space)

        def sample_independent(
            self,
            s: optuna.Study,
            trial: FrozenTrial,
            param_name: str,
            param_distribution: BaseDistribution,
        ) -> Any:
            return sampler_for(trial).sample_independent(
                s, trial, param_name, param_distribution
            )

        def after_trial(
            self,
            s: optuna.Study,
            trial: FrozenTrial,
            state: TrialState,
            values: Sequence[float] | None,
        ) -> None:
            inner = sampler_for(trial)
            by_trial.pop(trial.number, None)
            inner.after_trial(s, trial, state, values)

        def reseed_rng(self) -> None:
            pass

    return SeededPerTrial()


def _direction(direction: Any) -> optuna.study.StudyDirection:
    """"minimize"/"maximize" (any case) or a StudyDirection -> StudyDirection."""
    from optuna.study import StudyDirection

    if isinstance(direction, StudyDirection) and direction != StudyDirection.NOT_SET:
        return direction
    if isinstance(direction, str) and direction.lower() in ("minimize", "maximize"):
        return StudyDirection[direction.upper()]
    raise ValueError(f"direction must be 'minimize' or 'maximize', got {direction!r}")


def _is_dead_local(worker: dict[str, Any]) -> bool:
    """True when `worker` ran on this host and its process is gone (or the pid was reused)."""
    if worker.get("host") != socket.gethostname() or os.name != "posix":
        return False
    pid = worker.get("pid")
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # exists, owned by someone else
    start = worker.get("start")
    now = _process_start(pid)
    return start is not None and now is not None and now != start


def _process_start(pid: int) -> int | None:
    """Start time of `pid` in clock ticks since boot (Linux /proc), None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            stat = fh.read()
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


@contextmanager
def shared_storage(storage: str, workers: int, work_dir: Path | None,
                   key: str) -> Iterator[tuple[str, str | None]]:
    """`(storage, note)`: the configured storage, or, for several workers on in-memory storage
    (`key` = "" in the config), a journal file in a temporary folder of `work_dir` that the
    processes share for the block's duration, with the note saying so."""
    import tempfile

    if workers <= 1 or storage:
        yield storage, None
        return
    with tempfile.TemporaryDirectory(dir=work_dir) as folder:
        journal = os.path.join(folder, f"{key.split('.')[0]}.journal")
        yield f"journal:{journal}", (
            f"{workers} workers shared a temporary journal file ({key} is in memory, so the "
            "study does not outlive the step)")


def _child(parent: int, target: Callable[..., None], args: tuple[Any, ...]) -> None:
    """A worker process's body: it exits if the run that started it dies, then `target`."""
    from ares_cli.util.orphan import exit_with_parent

    exit_with_parent(parent)
    target(*args)


def start_workers(count: int, target: Callable[..., None], *args: Any) -> list[Any]:
    """`count` spawned processes running `target(*args)` (spawn: no fork of a threaded
    process); each exits when this process dies."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    others = [context.Process(target=_child, args=(os.getpid(), target, args), daemon=True)
              for _ in range(count)]
    for process in others:
        process.start()
    return others


def join_workers(others: list[Any], what: str) -> None:
    """Wait for the worker processes; RuntimeError naming `what` if any failed."""
    for process in others:
        process.join()
    failed = [p.exitcode for p in others if p.exitcode != 0]
    if failed:
        raise RuntimeError(f"{len(failed)} {what} worker process(es) failed "
                           f"(exit codes {failed})")
