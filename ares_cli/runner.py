"""Runs steps against the store: resolves inputs, checks the cache, executes, records, resumes.

The runner is the only place that reads or writes the store on a step's behalf: it hands the
step a lazy mapping of verified input values, a view of the config keys the step declared and an
environment, and stores what the step returns. A step's action key is the sha256 of its name,
the digest of the code it runs (`codehash`), the versions of the libraries whose results it
stores, its config slice and its input digests; a recorded key is a cache hit.

The code digests are taken once when a run starts and checked again after each step executes:
a source file edited while a run is in progress (the process may already hold the old module)
fails that step instead of storing old code's result under the new code's key.
"""

from __future__ import annotations

import time
import traceback
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from ares_cli.artifacts import decode, encode
from ares_cli.codehash import code_digest, digest_memo, user_memo_path
from ares_cli.config import Config, build_config, upgrade_snapshot
from ares_cli.errors import (
    AresError,
    ConfigError,
    ExternalServiceError,
    IntegrityError,
    NotImplementedStep,
    StepFailed,
)
from ares_cli.steps import BY_NUMBER, LAST, PRODUCER, STEPS
from ares_cli.steps.base import (
    BASE_LIBRARIES,
    Step,
    StepEnv,
    StepResult,
    check_outputs,
    step_view,
)
from ares_cli.store.looks import LookLedger
from ares_cli.store.manifest import Manifest, StepRecord, utc_now
from ares_cli.store.objects import Store, sha256_bytes
from ares_cli.util import early
from ares_cli.util.command import ares_command
from ares_cli.util.faults import maybe_kill_before, maybe_kill_during
from ares_cli.util.fsutil import DiskFull
from ares_cli.util.jsonutil import canonical_json, json_safe
from ares_cli.util.versions import library_version, library_versions, lock_differences

if TYPE_CHECKING:
    from ares_cli.config_view import ConfigView


class Reporter(Protocol):
    """Receives run events; implementations (`ares_cli.console`) decide how to show them.
    `total` is the number of steps in the pipeline, for "[n/total]" labels."""

    def run_started(self, run_id: str, steps: list[Step], total: int) -> None: ...
    def step_started(self, step: Step) -> None: ...
    def step_progress(self, step: Step, fraction: float, message: str) -> None: ...
    def step_finished(self, step: Step, record: StepRecord) -> None: ...
    def message(self, text: str) -> None: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class RunOptions:
    """Per-invocation choices that are not config: the pair, and the config options the user
    gave (`--set`, `--source`, `--path` as arguments), so every hint is a command to paste."""

    exchange: str = "binance"
    symbol: str = "ETHUSDT"
    config_args: tuple[str, ...] = ()
    workers: int = 1  # local processes a search step may use (`--workers`)

    def command(self, *words: str, with_config: bool = False) -> str:
        """`ares <words> --exchange E --symbol S` (plus this invocation's config options)."""
        return ares_command(*words, exchange=self.exchange, symbol=self.symbol,
                            extra=self.config_args if with_config else ())


def empty_record(step: Step) -> StepRecord:
    return StepRecord(number=step.number, name=step.name)


def resume_command(options: RunOptions) -> str:
    return options.command("resume")


def action_key(step: Step, config: Config, inputs: Mapping[str, str], env: StepEnv,
               code: str | None) -> str:
    """sha256 of everything the step's result depends on (see the module docstring); `code` is
    the step's code digest taken when the run started."""
    material = {
        "step": step.name,
        "code": code,
        "libraries": {n: library_version(n) for n in (*BASE_LIBRARIES, *step.libraries)},
        "config": config.slice(step.config_keys(config)),
        "inputs": dict(sorted(inputs.items())),
        "extra": step.key_extra(step_view(step, config), env) if step.key_extra else None,
    }
    return sha256_bytes(canonical_json(material))


@dataclass
class RunOutcome:
    """The end state of one invocation, ready for the summary and the exit code."""

    manifest: Manifest
    exit_code: int
    failed_step: Step | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def resumable(self) -> bool:
        """Whether `ares resume` can get past the failure unchanged."""
        return bool(self.exit_code and self.failed_step is not None
                    and self.manifest.step(self.failed_step.number).resumable)

    def summary(self, options: RunOptions) -> dict[str, Any]:
        steps = [
            {
                "number": r.number,
                "name": r.name,
                "status": r.status,
                "seconds": round(r.seconds, 3),
                "outputs": r.outputs,
                "metrics": r.metrics,
                "message": r.message,
                "library_warnings": r.library_warnings,
            }
            for r in self.manifest.steps
        ]
        return json_safe({
            "status": "ok" if self.exit_code == 0 else "failed",
            "exit_code": self.exit_code,
            "run_id": self.manifest.run_id,
            "exchange": options.exchange,
            "symbol": options.symbol,
            "steps": steps,
            "warnings": self.warnings,
            "resume_command": resume_command(options) if self.resumable else None,
            "message": (self.manifest.step(self.failed_step.number).message
                        if self.failed_step is not None else None),
            # libraries at other versions than requirements.lock pins: digests will differ
            "versions_not_locked": lock_differences(self.manifest.versions),
        })


class StoredInputs(Mapping[str, Any]):
    """A step's inputs, read from the store (verified against their digests) on first use."""

    def __init__(self, store: Store, refs: dict[str, tuple[str, str, Step]],
                 options: RunOptions) -> None:
        self._store, self._refs, self._options = store, refs, options
        self._values: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._values:
            digest, kind, producer = self._refs[name]
            try:
                data = self._store.get(
                    digest, what=f"'{name}' made by step {producer.number} {producer.name}"
                )
            except IntegrityError as exc:
                raise IntegrityError(
                    exc.message,
                    hint="repair it with: "
                    + self._options.command("step", producer.name, "--force"),
                ) from None
            self._values[name] = decode(data, kind, self._store)  # type: ignore[arg-type]
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._refs)

    def __len__(self) -> int:
        return len(self._refs)


class Runner:
    """Executes a range of steps inside one run manifest, holding the pair's lock."""

    def __init__(
        self, store: Store, config: Config, options: RunOptions, reporter: Reporter,
        *, strict: bool = False,
    ) -> None:
        self.store = store
        self.config = config
        from ares_cli.ml.models.parallel import set_fit_threads

        set_fit_threads(config.compute.fit_threads)  # a resource: results are the same
        self.options = options
        self.reporter = reporter
        self.strict = strict
        self._code: dict[str, str] = {}
        self._decoded: dict[str, Any] = {}  # digest -> decoded output (bars, splits, ...)
        self._fingerprints: dict[str, dict[str, Any]] = {}  # bars digest -> fingerprint
        self._begun_early: set[int] = set()  # steps begun in the background (`_start_early`)

    def snapshot_code(self, steps: list[Step]) -> None:
        """Record the code digest of each step about to run (see the module docstring)."""
        with digest_memo(self.store.root / "cache" / "code-digests.json", user_memo_path()):
            for step in steps:
                if step.run is not None and step.run.__module__ not in self._code:
                    self._code[step.run.__module__] = code_digest(step.run.__module__)

    def _check_code_unchanged(self, step: Step) -> None:
        assert step.run is not None
        module = step.run.__module__
        if code_digest(module) != self._code[module]:
            raise StepFailed(
                f"the source of step {step.number} {step.name} (or a module it imports) changed "
                "on disk while this run was in progress; its result was not stored",
                hint="run the same command again",
            )

    # -- manifests -----------------------------------------------------------------------
    def new_manifest(self, command: list[str]) -> Manifest:
        return Manifest(
            run_id=self.store.new_run_id(),
            exchange=self.options.exchange,
            symbol=self.options.symbol,
            commands=[command],
            config=self.config.to_dict(),
            versions=library_versions(),
            steps=[empty_record(s) for s in STEPS],
        )

    def latest_manifest(self) -> Manifest | None:
        run_id = self.store.get_ref(self.options.exchange, self.options.symbol, "latest")
        if run_id is None:
            return None
        try:
            return self.store.read_manifest(run_id)
        except FileNotFoundError:
            return None

    def _plan(self, manifest: Manifest, steps: list[Step]) -> str:
        """What this invocation will run and, from the pair's history, how long it took last."""
        from datetime import datetime

        span = f"steps {steps[0].number}-{steps[-1].number}" if steps else "no step"
        text = f"{manifest.exchange}/{manifest.symbol}: {span} (cached steps do no work)"
        last = [m for m in self.store.list_runs()
                if (m.exchange, m.symbol) == (manifest.exchange, manifest.symbol)
                and m.run_id != manifest.run_id and m.status == "complete"]
        if last:
            try:
                took = (datetime.fromisoformat(last[-1].updated)
                        - datetime.fromisoformat(last[-1].created)).total_seconds()
            except ValueError:
                return text
            text += f"; the last complete run ({last[-1].run_id}) took about {took:.0f} s"
        return text

    def save(self, manifest: Manifest) -> None:
        manifest.updated = utc_now()
        self.store.write_manifest(manifest)

    def log(self, manifest: Manifest, event: str, **fields: Any) -> None:
        self.store.append_log(manifest.run_id, {"ts": utc_now(), "event": event, **fields})

    def env(self, step: Step, manifest: Manifest, key: str) -> StepEnv:
        def progress(fraction: float, message: str = "") -> None:
            maybe_kill_during(step.number, fraction)
            self.reporter.step_progress(step, max(0.0, min(1.0, fraction)), message)

        def log(message: str) -> None:
            self.log(manifest, "step-log", step=step.name, message=message)

        return StepEnv(exchange=self.options.exchange, symbol=self.options.symbol,
                       work_dir=self.store.root, state_key=key, progress=progress, log=log,
                       workers=self.options.workers, compute=self.config.compute,
                       objects=self.store)

    # -- what a command runs --------------------------------------------------------------
    def run_range(self, first: int, last: int, *, force: bool,
                  command: list[str]) -> RunOutcome:
        """`run-all --from first --to last`: a new run; the steps before `first` are taken from
        the pair's latest run, which must have made them with the config in force."""
        check_range(first, last)
        manifest = self.new_manifest(command)
        manifest.to = last
        if first > 1:
            base = self.latest_manifest()
            if base is None:
                raise ConfigError(
                    f"--from {first}: {self.options.exchange}/{self.options.symbol} has no "
                    f"earlier run to take steps 1-{first - 1} from",
                    hint=self.options.command("run-all", with_config=True))
            manifest.steps[: first - 1] = [r.model_copy(deep=True)
                                           for r in base.steps[: first - 1]]
            manifest.based_on = base.run_id
            self.require_current(manifest, range(1, first))
        numbers = list(range(first, last + 1))
        return self.execute(manifest, numbers, force=set(numbers) if force else None)

    def frozen(self, manifest: Manifest) -> bool:
        """A completed run, or the pair's champion, is history: no command edits it."""
        from ares_cli.store.champion import CHAMPION

        return manifest.status == "complete" or manifest.run_id == self.store.get_ref(
            manifest.exchange, manifest.symbol, CHAMPION)

    def child_of(self, parent: Manifest, command: list[str]) -> Manifest:
        """A new run that starts from `parent`'s step records (reused from the cache, not
        re-executed) and records `parent` as `based_on`; `latest` moves to it once it runs."""
        manifest = self.new_manifest(command)
        manifest.commands = [c for c in manifest.commands if c]  # the caller appends its own
        manifest.steps = [record.model_copy(deep=True) for record in parent.steps]
        manifest.based_on = parent.run_id
        manifest.to = parent.to
        return manifest

    def run_step(self, step: Step, *, force: bool, command: list[str]) -> RunOutcome:
        """`ares step N` inside the pair's latest run (a new run when there is none, or when
        the latest is complete or the champion: then a child run of it): the steps before it
        must be current; later ones made with other settings are reset."""
        manifest = self.latest_manifest()
        if manifest is None:
            manifest = self.new_manifest(command)
        else:
            if self.frozen(manifest):
                manifest = self.child_of(manifest, [])
            self.require_current(manifest, range(1, step.number))
            self.reset_stale(manifest, range(step.number + 1, LAST + 1))
            manifest.commands.append(command)
            manifest.config = self.config.to_dict()
        return self.execute(manifest, [step.number], force={step.number} if force else None,
                            invalidate_after=True)

    @staticmethod
    def resume_steps(manifest: Manifest, first: int | None) -> list[int]:
        """The steps `ares resume [--from first]` runs: from `first` (re-executed) or the first
        step not done, up to the run's `--to` (the last step with `--from`); [] when done."""
        if first is not None:
            check_range(first, LAST)
        pending = [r.number for r in manifest.steps if not r.done]
        last = LAST if first is not None else (manifest.to or LAST)
        start = first if first is not None else (pending[0] if pending else LAST + 1)
        return list(range(start, last + 1))

    def resume(self, manifest: Manifest, numbers: list[int], *, rerun: bool,
               command: list[str]) -> RunOutcome:
        """Continue `manifest` with `numbers` (from `resume_steps`); `rerun` forces them. A
        completed run or the champion is not edited: `--from N` on it makes a child run."""
        if self.frozen(manifest):
            manifest = self.child_of(manifest, [])
        manifest.commands.append(command)
        return self.execute(manifest, numbers, force=set(numbers) if rerun else None)

    # -- execution -----------------------------------------------------------------------
    def execute(
        self, manifest: Manifest, numbers: list[int], *, force: set[int] | None = None,
        invalidate_after: bool = False,
    ) -> RunOutcome:
        """Run `numbers` in order inside `manifest`; stop at the first failure."""
        force = force or set()
        manifest.status = "running"
        self.save(manifest)  # the manifest exists before the ref points at it
        self.store.set_ref(self.options.exchange, self.options.symbol, "latest",
                           manifest.run_id)
        steps = [BY_NUMBER[n] for n in numbers]
        manifest.resources = {"compute": self.config.compute.model_dump(mode="json"),
                              "workers": self.options.workers}
        manifest.versions = library_versions()  # what this invocation computes with
        self.snapshot_code(steps)
        self.reporter.run_started(manifest.run_id, steps, LAST)
        self.reporter.message(self._plan(manifest, steps))
        outcome = RunOutcome(manifest, 0)
        self._begun_early = set()
        try:
            prepared = False
            for k, step in enumerate(steps):
                maybe_kill_before(step.number)
                record = self._run_one(manifest, step, step.number in force)
                if not prepared and record.status == "ok" and step.number >= 2:
                    # an earlier step really ran: later ones will likely run too
                    prepared = True
                    for later in steps:
                        if later.number > step.number and later.prepare is not None:
                            later.prepare(self.config.compute)
                if record.done:
                    self._start_early(manifest, steps[k + 1:], force)
                if invalidate_after and record.done:
                    self._invalidate_dependants(manifest, step)
                self.save(manifest)
                self.reporter.step_finished(step, record)
                if record.status == "failed":
                    outcome.exit_code = record.exit_code or 1
                    outcome.failed_step = step
                    break
        except KeyboardInterrupt:
            manifest.status = "failed"
            self.save(manifest)
            raise
        finally:
            early.cancel_all()  # work begun for a step this run never reached
            self.reporter.close()
        outcome.warnings = [w for r in manifest.steps for w in r.warnings]
        manifest.warnings = outcome.warnings
        finished = all(r.done for r in manifest.steps)
        manifest.status = "failed" if outcome.exit_code else ("complete" if finished else "partial")
        self.save(manifest)
        self.log(manifest, "run-finished", status=manifest.status, exit_code=outcome.exit_code)
        return outcome

    def _action_key(self, step: Step, input_digests: dict[str, str]) -> str:
        """The key `step` runs under with these inputs, this config and the code snapshot."""
        probe = StepEnv(exchange=self.options.exchange, symbol=self.options.symbol)
        return action_key(step, self.config, input_digests, probe,
                          code=self._code.get(step.run.__module__) if step.run else None)

    @staticmethod
    def _volatile(step: Step, view: ConfigView) -> bool:
        """Whether the step's result depends on the outside world (never a cache hit)."""
        return bool(step.volatile and step.volatile(view))

    def _start_early(self, manifest: Manifest, later: list[Step], force: set[int]) -> None:
        """Begin in the background each later step that can start early, once every input it
        needs is made and none of their makers is still to run in this invocation; not when
        its result is cached. It begins under the action key it will run with."""
        to_run = {s.number for s in later}
        for step in later:
            if (step.start_early is None or step.run is None
                    or step.number in self._begun_early
                    or any(PRODUCER[name].number in to_run for name in step.all_inputs)):
                continue
            try:
                refs = self._input_refs(manifest, step)
            except AresError:
                continue
            key = self._action_key(step, {name: ref[0] for name, ref in refs.items()})
            view = step_view(step, self.config)
            if (step.number not in force and not self._volatile(step, view)
                    and self.store.get_action(key) is not None):
                continue  # it will be a cache hit
            self._begun_early.add(step.number)
            env = replace(self.env(step, manifest, key), progress=lambda *_: None)
            try:
                begun = step.start_early(StoredInputs(self.store, refs, self.options), view,
                                         env)
            except Exception as exc:  # only time is lost: the step meets it when it runs
                self.log(manifest, "step-not-begun-early", step=step.name,
                         message=f"{type(exc).__name__}: {exc}")
                continue
            if begun:
                self.log(manifest, "step-begun-early", step=step.name)
                self.reporter.message(
                    f"{step.number} {step.name} began in the background: it needs only "
                    f"{', '.join(sorted(refs))}, which exist")

    def _input_refs(self, manifest: Manifest, step: Step) -> dict[str, tuple[str, str, Step]]:
        """name -> (digest, kind, producer) for every input present in the manifest."""
        refs: dict[str, tuple[str, str, Step]] = {}
        for name in step.all_inputs:
            producer = PRODUCER[name]
            record = manifest.step(producer.number)
            digest = record.outputs.get(name) if record.done else None
            if digest is None:
                if name in step.optional_inputs and record.done:
                    continue
                raise StepFailed(
                    f"input '{name}' is missing: step {producer.number} {producer.name} has not "
                    f"produced it in run {manifest.run_id}",
                    hint=f"make it with: {self.options.command('step', producer.name)}",
                )
            refs[name] = (digest, record.kinds[name], producer)
        for name in step.external_inputs:
            found = self._external_input(manifest, name)
            if found is not None:
                refs[name] = found
        return refs

    # -- the look ledger ---------------------------------------------------------------------
    def _output(self, manifest: Manifest, name: str) -> Any:
        """An output of this run, decoded (kept for the invocation: bars, splits, spans)."""
        record = manifest.step(PRODUCER[name].number)
        digest = record.outputs[name]
        if digest not in self._decoded:
            self._decoded[digest] = decode(self.store.get(digest, what=f"'{name}'"),
                                           record.kinds[name],  # type: ignore[arg-type]
                                           self.store)
        return self._decoded[digest]

    def look_setting(self) -> tuple[str, dict[str, Any]]:
        """(digest, values) of the setting a look is made with: the config slices of the steps
        from the bars to the walk-forward (resources such as [compute] are in none)."""
        first, last = PRODUCER["bars"].number, PRODUCER["walk_forward"].number
        keys = sorted({k for s in STEPS[first - 1:last] for k in s.config_keys(self.config)})
        values = self.config.slice(keys)
        # the digest covers what differs from the defaults, so a key added to ares later (at
        # its default) does not make every earlier look look new
        defaults = _flatten(type(self.config)().slice(keys))
        differs = {k: v for k, v in _flatten(values).items() if defaults.get(k) != v}
        return sha256_bytes(canonical_json(differs)), values

    def _spans(self, manifest: Manifest, step: Step) -> list[list[str]]:
        """The bars a step scored, as [first, last] timestamps: each fold's test span for the
        walk-forward, the train (CV) and validation windows for steps 5 to 12."""
        import polars as pl

        if "walk_forward" in step.outputs:
            wf = self._output(manifest, "walk_forward")
            spans = wf.group_by("fold").agg(pl.col("timestamp").min().alias("a"),
                                            pl.col("timestamp").max().alias("b")).sort("fold")
            return [[str(a), str(b)] for a, b in zip(spans["a"], spans["b"], strict=True)]
        splits, bars = self._output(manifest, "splits"), self._output(manifest, "bars")
        out = []
        for window in ("train", "validation"):
            index = splits.filter(pl.col("window") == window)["bar_index"]
            if index.len():
                out.append([str(bars["timestamp"][int(index.min())]),
                            str(bars["timestamp"][int(index.max())])])
        return out

    def _fingerprint(self, manifest: Manifest) -> dict[str, Any]:
        from ares_cli.ml.evaluation.looks import bar_fingerprint

        digest = manifest.step(PRODUCER["bars"].number).outputs["bars"]
        if digest not in self._fingerprints:
            self._fingerprints[digest] = bar_fingerprint(self._output(manifest, "bars"))
        return self._fingerprints[digest]

    def _record_look(self, manifest: Manifest, step: Step, record: StepRecord) -> None:
        """A step from 5 on that scored bars appends one look to the ledger (once per setting,
        code, data and spans: a re-run of the same look adds nothing)."""
        if not (PRODUCER["analyst_models"].number <= step.number
                <= PRODUCER["walk_forward"].number):
            return
        setting, values = self.look_setting()
        sharpe = (record.metrics.get("walk_forward", {}).get("sharpe")
                  if "walk_forward" in step.outputs else None)
        entry = {"setting": setting, "config": values, "step": step.number,
                 "fingerprint": self._fingerprint(manifest), "spans": self._spans(manifest, step),
                 "sharpe": sharpe, "run_id": manifest.run_id,
                 "code": self._code.get(step.run.__module__) if step.run else None,
                 "exchange": manifest.exchange, "symbol": manifest.symbol}
        LookLedger(self.store.root).append(
            entry, same=("setting", "step", "code", "spans", "fingerprint"))

    def looks_now(self, manifest: Manifest) -> dict[str, Any] | None:
        """The other looks at this run's walk-forward test bars, counted now; None before its
        walk-forward is done."""
        from ares_cli.ml.evaluation.looks import other_looks

        wf = PRODUCER["walk_forward"]
        if not manifest.step(wf.number).done:
            return None
        setting, values = self.look_setting()
        mine = {"setting": setting, "config": values, "fingerprint": self._fingerprint(manifest),
                "spans": self._spans(manifest, wf)}
        return other_looks(LookLedger(self.store.root).entries(), mine)

    def rejudge(self, manifest: Manifest) -> tuple[str, str, int]:
        """(verdict, why, K): the run's walk-forward verdict judged again with the looks at its
        test bars counted now (another setting tried since then raises K)."""
        from ares_cli.ml.evaluation.monte_carlo import judge_record

        record = manifest.step(PRODUCER["monte_carlo"].number)
        looks = self.looks_now(manifest)
        if not record.done or looks is None:
            return "not tested", "its walk-forward and Monte Carlo steps are not done", 0
        mc = record.metrics["walk_forward"]
        if "min_trades" not in mc or "alpha" not in mc:
            return ("not tested", "its step 14 was made before the three-way verdict; re-run it: "
                    + self.options.command("run-all", "--from", str(record.number)), 0)
        verdict, why = judge_record(mc, looks["looks"])
        return verdict, why, looks["looks"]

    def _external_input(self, manifest: Manifest, name: str) -> tuple[str, str, Step] | None:
        """`champion_bundle`: the bundle of the pair's promoted run (not this run itself);
        `looks`: the other settings seen on this run's walk-forward test bars (the ledger)."""
        if name == "looks":
            looks = self.looks_now(manifest)
            if looks is None:
                return None
            digest = self.store.put(canonical_json(looks))
            return digest, "json", PRODUCER["walk_forward"]
        if name != "champion_bundle":
            raise StepFailed(f"unknown external input '{name}'")
        from ares_cli.store.champion import CHAMPION

        run_id = self.store.get_ref(manifest.exchange, manifest.symbol, CHAMPION)
        if run_id is None or run_id == manifest.run_id:
            return None
        try:
            champion = self.store.read_manifest(run_id)
        except FileNotFoundError:
            return None
        save = PRODUCER["bundle"]
        record = champion.step(save.number)
        digest = record.outputs.get("bundle") if record.done else None
        return None if digest is None else (digest, "modelset", save)

    def _run_one(self, manifest: Manifest, step: Step, force: bool) -> StepRecord:
        record = empty_record(step)
        manifest.set_step(record)
        record.status = "running"
        record.started = utc_now()
        self.save(manifest)
        self.reporter.step_started(step)
        self.log(manifest, "step-started", step=step.name)
        began = time.perf_counter()
        try:
            if not step.implemented:
                raise NotImplementedStep(
                    f"step {step.number} {step.name} is not implemented yet; "
                    "ares cannot run past it"
                )
            refs = self._input_refs(manifest, step)
            record.input_digests = {name: ref[0] for name, ref in refs.items()}
            record.config = self.config.slice(step.config_keys(self.config))
            view = step_view(step, self.config)
            key = record.action_key = self._action_key(step, record.input_digests)
            recompute = force or self._volatile(step, view)
            cached = None if recompute else self.store.get_action(key)
            if cached is not None:
                self._fill_from_action(record, cached)
                record.status = "cached"
            else:
                assert step.run is not None
                inputs = StoredInputs(self.store, refs, self.options)
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    result = step.run(inputs, view, self.env(step, manifest, key))
                for warning in caught:  # library chatter goes to the run log, not the user
                    self.log(manifest, "library-warning", step=step.name,
                             message=f"{warning.category.__name__}: {warning.message}")
                record.library_warnings = len(caught)
                check_outputs(step, result)
                self._check_code_unchanged(step)
                self._store_result(step, key, result, record, time.perf_counter() - began)
                record.status = "ok"
            self._record_look(manifest, step, record)  # seen, even if --strict fails it below
            if self.strict and record.warnings:
                raise StepFailed(
                    "warnings are failures under --strict: " + "; ".join(record.warnings)
                )
            self._auto_promote(step, record, manifest)
        except AresError as exc:
            record.status, record.message, record.exit_code = "failed", str(exc), exc.exit_code
            record.resumable = isinstance(exc, ExternalServiceError)
        except Exception as exc:  # a bug or library failure: fail loudly with the cause
            # only a failure of the machine (memory, disk, an interrupted system call) can
            # pass on a plain resume; any other crash repeats with the same data and config
            record.status, record.exit_code = "failed", 1
            record.resumable = isinstance(exc, MemoryError | OSError)
            record.message = (f"the store is full: {exc}; free space, then resume"
                              if isinstance(exc, DiskFull) else
                              f"step {step.name} crashed: {type(exc).__name__}: {exc}")
            self.log(manifest, "step-traceback", step=step.name,
                     traceback=traceback.format_exc())
        record.seconds = time.perf_counter() - began
        record.finished = utc_now()
        self.log(manifest, "step-finished", step=step.name, status=record.status,
                 seconds=record.seconds, message=record.message)
        return record

    def _auto_promote(self, step: Step, record: StepRecord, manifest: Manifest) -> None:
        """With `ab_test.auto_promote`, a `promote` decision of step 15 makes this run the
        pair's champion once step 16 has saved its bundle (a champion without a bundle could
        neither be scored by later runs nor trade); the runner already holds the pair's lock."""
        if step.name != "save" or not self.config.ab_test.auto_promote:
            return
        decision = manifest.step(PRODUCER["ab_test"].number).metrics.get("test", {}).get(
            "decision")
        if decision != "promote":
            return
        from ares_cli.store.champion import CHAMPION

        self.store.set_ref(manifest.exchange, manifest.symbol, CHAMPION, manifest.run_id)
        self.log(manifest, "promoted", step=step.name, run=manifest.run_id)

    def _store_result(
        self, step: Step, key: str, result: StepResult, record: StepRecord, seconds: float
    ) -> None:
        outputs: dict[str, dict[str, Any]] = {}
        for name, artifact in sorted(result.outputs.items()):
            data, meta = encode(artifact)
            outputs[name] = {"digest": self.store.put(data), "kind": artifact.kind,
                             "bytes": len(data), **meta}
        action = json_safe({
            "step": step.name,
            "action_key": key,
            "outputs": outputs,
            "metrics": result.metrics,
            "warnings": result.warnings,
            "summary": result.summary,
            "seconds": round(seconds, 3),
            "created": utc_now(),
        })
        self.store.put_action(key, action)
        self._fill_from_action(record, action)

    @staticmethod
    def _fill_from_action(record: StepRecord, action: dict[str, Any]) -> None:
        record.outputs = {n: o["digest"] for n, o in action["outputs"].items()}
        record.kinds = {n: o["kind"] for n, o in action["outputs"].items()}
        record.metrics = action.get("metrics", {})
        record.warnings = action.get("warnings", [])
        record.message = action.get("summary", "")

    def config_changes(self, record: StepRecord) -> list[str]:
        """How the current config differs from the one a done step was made with."""
        if not record.done or record.config is None:
            return []
        step = BY_NUMBER[record.number]
        now = _flatten(self.config.slice(step.config_keys(self.config)))
        then = _flatten(record.config)
        return [f"{k} = {then.get(k)!r} (now {now.get(k)!r})"
                for k in sorted(set(now) | set(then)) if now.get(k) != then.get(k)]

    def require_current(self, manifest: Manifest, numbers: range) -> None:
        """Fail (exit 2) when a step this invocation builds on was made with other settings.

        Reusing it would mix configurations: e.g. step 3 splitting with one `split.train`
        while step 2's classifier was fitted on another, which leaks evaluation bars.
        """
        for number in numbers:
            record = manifest.step(number)
            changes = self.config_changes(record)
            if changes:
                raise ConfigError(
                    f"step {number} {record.name} of run {manifest.run_id} was made with "
                    + "; ".join(changes),
                    hint="re-run from that step so every step shares one config: "
                    + self.options.command("run-all", "--from", str(number), with_config=True),
                )

    def reset_stale(self, manifest: Manifest, numbers: range) -> None:
        """Mark done steps whose settings differ from the current config as not-run."""
        for number in numbers:
            record = manifest.step(number)
            changes = self.config_changes(record)
            if changes:
                fresh = empty_record(BY_NUMBER[number])
                fresh.message = "config changed (" + "; ".join(changes) + "); run it again"
                manifest.set_step(fresh)

    def _current_inputs(self, manifest: Manifest, step: Step) -> dict[str, str]:
        """The digests a step would read now, its external inputs (the champion) included."""
        current = {}
        for name in step.all_inputs:
            record = manifest.step(PRODUCER[name].number)
            if record.done and name in record.outputs:
                current[name] = record.outputs[name]
        for name in step.external_inputs:
            found = self._external_input(manifest, name)
            if found is not None:
                current[name] = found[0]
        return current

    def _invalidate_dependants(self, manifest: Manifest, step: Step) -> None:
        """After `ares step N`, later steps built on other inputs are no longer current."""
        for later in STEPS[step.number:]:
            record = manifest.step(later.number)
            if record.done and record.input_digests != self._current_inputs(manifest, later):
                fresh = empty_record(later)
                fresh.message = (f"inputs changed by step {step.number} {step.name}; run "
                                 f"{self.options.command('resume')}")
                manifest.set_step(fresh)


def check_range(first: int, last: int) -> None:
    """`--from first --to last` must name steps that exist, in order (exit 2)."""
    if first > LAST or last > LAST:
        raise ConfigError(f"steps are numbered 1 to {LAST}; got --from {first} --to {last}")
    if first > last:
        raise ConfigError(f"--from {first} is after --to {last}")


def _flatten(values: dict[str, Any]) -> dict[str, Any]:
    """A config slice as {'section.key': value} (whole sections are opened one level)."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        items = value.items() if isinstance(value, dict) and "." not in key else [(None, value)]
        for name, item in items:
            path = key if name is None else f"{key}.{name}"
            flat[path] = tuple(item) if isinstance(item, list | tuple) else item
    return flat


def config_of(manifest: Manifest) -> Config:
    """The configuration a run was started with, rebuilt and re-validated."""
    origin = f"run {manifest.run_id} manifest"
    return build_config(upgrade_snapshot(manifest.config, origin), origin=origin)


__all__ = ["Reporter", "RunOptions", "RunOutcome", "Runner", "action_key", "check_range",
           "config_of"]
