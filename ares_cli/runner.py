"""Runs steps: resolves inputs, checks the cache, executes, records, and resumes.

The runner is the only place that reads or writes the store on a step's behalf. A run is a
manifest of all 16 steps; each step ends `ok` (executed), `cached` (its action key was already
recorded, no work done), `failed` or `not-run`. Nothing is reported as done that did not run.
"""

from __future__ import annotations

import platform
import time
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

from ares_cli import __version__
from ares_cli.artifacts import decode, encode
from ares_cli.config import Config, build_config
from ares_cli.console import Reporter
from ares_cli.errors import (
    AresError,
    ConfigError,
    IntegrityError,
    NotImplementedStep,
    StepFailed,
)
from ares_cli.steps import BY_NUMBER, PRODUCER, STEPS
from ares_cli.steps.base import RunOptions, Step, StepContext, StepResult
from ares_cli.store import Store, canonical_json, sha256_bytes

DONE = ("ok", "cached")
LIBRARIES = ("polars", "numpy", "xgboost-cpu", "optuna", "scikit-learn", "ccxt", "typer")


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def library_versions() -> dict[str, str]:
    versions = {"ares": __version__, "python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def empty_record(step: Step) -> dict[str, Any]:
    return {
        "number": step.number,
        "name": step.name,
        "status": "not-run",
        "seconds": 0.0,
        "outputs": {},
        "kinds": {},
        "metrics": {},
        "warnings": [],
        "message": "",
    }


def resume_command(options: RunOptions) -> str:
    return f"ares resume --exchange {options.exchange} --symbol {options.symbol}"


@dataclass
class RunOutcome:
    """The end state of one invocation, ready for the summary and the exit code."""

    manifest: dict[str, Any]
    exit_code: int
    failed_step: Step | None = None
    warnings: list[str] = field(default_factory=list)

    def summary(self, options: RunOptions) -> dict[str, Any]:
        steps = [
            {
                "number": r["number"],
                "name": r["name"],
                "status": r["status"],
                "seconds": round(r.get("seconds", 0.0), 3),
                "outputs": r.get("outputs", {}),
                "metrics": r.get("metrics", {}),
                "message": r.get("message", ""),
            }
            for r in self.manifest["steps"]
        ]
        return {
            "status": "ok" if self.exit_code == 0 else "failed",
            "exit_code": self.exit_code,
            "run_id": self.manifest["run_id"],
            "exchange": options.exchange,
            "symbol": options.symbol,
            "steps": steps,
            "warnings": self.warnings,
            "resume_command": resume_command(options) if self.exit_code else None,
        }


class Runner:
    """Executes a range of steps inside one run manifest, holding the pair's lock."""

    def __init__(
        self, store: Store, config: Config, options: RunOptions, reporter: Reporter,
        *, strict: bool = False,
    ) -> None:
        self.store = store
        self.config = config
        self.options = options
        self.reporter = reporter
        self.strict = strict

    # -- manifests -----------------------------------------------------------------------
    def new_manifest(self, command: list[str]) -> dict[str, Any]:
        run_id = self.store.new_run_id()
        return {
            "run_id": run_id,
            "exchange": self.options.exchange,
            "symbol": self.options.symbol,
            "created": utc_now(),
            "updated": utc_now(),
            "commands": [command],
            "status": "running",
            "config": self.config.to_dict(),
            "versions": library_versions(),
            "steps": [empty_record(s) for s in STEPS],
            "warnings": [],
        }

    def latest_manifest(self) -> dict[str, Any] | None:
        run_id = self.store.get_ref(self.options.exchange, self.options.symbol, "latest")
        if run_id is None:
            return None
        try:
            return self.store.read_manifest(run_id)
        except FileNotFoundError:
            return None

    def save(self, manifest: dict[str, Any]) -> None:
        manifest["updated"] = utc_now()
        self.store.write_manifest(manifest["run_id"], manifest)

    def log(self, manifest: dict[str, Any], event: str, **fields: Any) -> None:
        self.store.append_log(manifest["run_id"], {"ts": utc_now(), "event": event, **fields})

    # -- execution -----------------------------------------------------------------------
    def execute(
        self, manifest: dict[str, Any], numbers: list[int], *, force: set[int] | None = None,
        invalidate_after: bool = False,
    ) -> RunOutcome:
        """Run `numbers` in order inside `manifest`; stop at the first failure."""
        force = force or set()
        manifest["status"] = "running"
        self.save(manifest)  # the manifest exists before the ref points at it
        self.store.set_ref(self.options.exchange, self.options.symbol, "latest",
                           manifest["run_id"])
        steps = [BY_NUMBER[n] for n in numbers]
        self.reporter.run_started(manifest["run_id"], steps)
        outcome = RunOutcome(manifest, 0)
        try:
            for step in steps:
                record = self._run_one(manifest, step, step.number in force)
                if invalidate_after and record["status"] in DONE:
                    self._invalidate_dependants(manifest, step)
                self.save(manifest)
                self.reporter.step_finished(step, record)
                if record["status"] == "failed":
                    outcome.exit_code = record.get("exit_code", 1)
                    outcome.failed_step = step
                    break
        except KeyboardInterrupt:
            manifest["status"] = "failed"
            self.save(manifest)
            raise
        finally:
            self.reporter.close()
        outcome.warnings = [w for r in manifest["steps"] for w in r.get("warnings", [])]
        manifest["warnings"] = outcome.warnings
        finished = all(r["status"] in DONE for r in manifest["steps"])
        manifest["status"] = (
            "failed" if outcome.exit_code else ("complete" if finished else "partial")
        )
        self.save(manifest)
        self.log(manifest, "run-finished", status=manifest["status"], exit_code=outcome.exit_code)
        return outcome

    def _input_refs(
        self, manifest: dict[str, Any], step: Step
    ) -> dict[str, tuple[str, str, Step]]:
        """name -> (digest, kind, producer) for every input present in the manifest."""
        refs: dict[str, tuple[str, str, Step]] = {}
        for name in step.inputs + step.optional_inputs:
            producer = PRODUCER[name]
            record = manifest["steps"][producer.number - 1]
            digest = record["outputs"].get(name) if record["status"] in DONE else None
            if digest is None:
                if name in step.optional_inputs and record["status"] in DONE:
                    continue
                raise StepFailed(
                    f"input '{name}' is missing: step {producer.number} {producer.name} has not "
                    f"produced it in run {manifest['run_id']}",
                    hint=f"make it with: ares step {producer.name} "
                    f"--exchange {self.options.exchange} --symbol {self.options.symbol}",
                )
            refs[name] = (digest, record["kinds"][name], producer)
        return refs

    def action_key(self, step: Step, refs: dict[str, tuple[str, str, Step]]) -> str:
        material = {
            "step": step.name,
            "version": step.version,
            "config": self.config.slice(step.config_keys),
            "inputs": {name: ref[0] for name, ref in sorted(refs.items())},
            "extra": step.key_extra(self.config, self.options) if step.key_extra else None,
        }
        return sha256_bytes(canonical_json(material))

    def _run_one(self, manifest: dict[str, Any], step: Step, force: bool) -> dict[str, Any]:
        record = empty_record(step)
        manifest["steps"][step.number - 1] = record
        record["status"] = "running"
        record["started"] = utc_now()
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
            record["input_digests"] = {name: ref[0] for name, ref in refs.items()}
            record["config"] = self.config.slice(step.config_keys)
            key = self.action_key(step, refs)
            record["action_key"] = key
            volatile = step.volatile(self.config) if step.volatile else False
            cached = None if (force or volatile) else self.store.get_action(key)
            if cached is not None:
                self._fill_from_action(record, cached)
                record["status"] = "cached"
            else:
                result = self._call(step, refs, manifest, key)
                self._store_result(step, key, result, record, time.perf_counter() - began)
                record["status"] = "ok"
            if self.strict and record["warnings"]:
                raise StepFailed(
                    "warnings are failures under --strict: " + "; ".join(record["warnings"])
                )
        except AresError as exc:
            record.update(status="failed", message=str(exc), exit_code=exc.exit_code)
        except Exception as exc:  # a bug or library failure: fail loudly with the cause
            record.update(
                status="failed", exit_code=1,
                message=f"step {step.name} crashed: {type(exc).__name__}: {exc}",
            )
            self.log(manifest, "step-traceback", step=step.name,
                     traceback=traceback.format_exc())
        record["seconds"] = time.perf_counter() - began
        record["finished"] = utc_now()
        self.log(manifest, "step-finished", step=step.name, status=record["status"],
                 seconds=record["seconds"], message=record["message"])
        return record

    def _call(
        self, step: Step, refs: dict[str, tuple[str, str, Step]], manifest: dict[str, Any],
        key: str,
    ) -> StepResult:
        def loader(name: str) -> Any:
            if name not in refs:
                raise StepFailed(f"optional input '{name}' is not available to step {step.name}")
            digest, kind, producer = refs[name]
            try:
                data = self.store.get(
                    digest, what=f"'{name}' made by step {producer.number} {producer.name}"
                )
            except IntegrityError as exc:
                raise IntegrityError(
                    exc.message,
                    hint=f"repair it with: ares step {producer.name} --force "
                    f"--exchange {self.options.exchange} --symbol {self.options.symbol}",
                ) from None
            return decode(data, kind)  # type: ignore[arg-type]

        def progress(fraction: float, message: str = "") -> None:
            self.reporter.step_progress(step, max(0.0, min(1.0, fraction)), message)

        def log(message: str) -> None:
            self.log(manifest, "step-log", step=step.name, message=message)

        ctx = StepContext(step, self.config, self.options, loader, progress, log,
                          frozenset(refs), key)
        assert step.run is not None
        result = step.run(ctx)
        self._check_outputs(step, result)
        return result

    @staticmethod
    def _check_outputs(step: Step, result: StepResult) -> None:
        produced = set(result.outputs)
        missing = [o for o in step.outputs if o not in produced]
        undeclared = sorted(produced - set(step.all_outputs))
        if missing:
            raise StepFailed(f"step {step.name} did not produce its output(s) {missing}")
        if undeclared:
            raise StepFailed(f"step {step.name} produced undeclared output(s) {undeclared}")
        for name, artifact in result.outputs.items():
            if artifact.kind == "table" and artifact.value.height == 0:
                raise StepFailed(f"step {step.name} produced an empty table '{name}'")

    def _store_result(
        self, step: Step, key: str, result: StepResult, record: dict[str, Any], seconds: float
    ) -> None:
        outputs: dict[str, dict[str, Any]] = {}
        for name, artifact in sorted(result.outputs.items()):
            data, meta = encode(artifact)
            outputs[name] = {"digest": self.store.put(data), "kind": artifact.kind,
                             "bytes": len(data), **meta}
        action = {
            "step": step.name,
            "version": step.version,
            "action_key": key,
            "outputs": outputs,
            "metrics": result.metrics,
            "warnings": result.warnings,
            "summary": result.summary,
            "seconds": round(seconds, 3),
            "created": utc_now(),
        }
        self.store.put_action(key, action)
        self._fill_from_action(record, action)

    @staticmethod
    def _fill_from_action(record: dict[str, Any], action: dict[str, Any]) -> None:
        record["outputs"] = {n: o["digest"] for n, o in action["outputs"].items()}
        record["kinds"] = {n: o["kind"] for n, o in action["outputs"].items()}
        record["metrics"] = action.get("metrics", {})
        record["warnings"] = action.get("warnings", [])
        record["message"] = action.get("summary", "")

    def config_changes(self, record: dict[str, Any]) -> list[str]:
        """How the current config differs from the one a done step was made with."""
        if record["status"] not in DONE or "config" not in record:
            return []
        step = BY_NUMBER[record["number"]]
        now = _flatten(self.config.slice(step.config_keys))
        then = _flatten(record["config"])
        return [f"{k} = {then.get(k)!r} (now {now.get(k)!r})"
                for k in sorted(set(now) | set(then)) if now.get(k) != then.get(k)]

    def require_current(self, manifest: dict[str, Any], numbers: range) -> None:
        """Fail (exit 2) when a step this invocation builds on was made with other settings.

        Reusing it would mix configurations: e.g. step 3 splitting with one `split.train`
        while step 2's classifier was fitted on another, which leaks evaluation bars.
        """
        for number in numbers:
            record = manifest["steps"][number - 1]
            changes = self.config_changes(record)
            if changes:
                raise ConfigError(
                    f"step {number} {record['name']} of run {manifest['run_id']} was made with "
                    + "; ".join(changes),
                    hint="re-run from that step so every step shares one config: ares run-all "
                    f"--from {number} --exchange {self.options.exchange} "
                    f"--symbol {self.options.symbol} (with the same --set options)",
                )

    def reset_stale(self, manifest: dict[str, Any], numbers: range) -> None:
        """Mark done steps whose settings differ from the current config as not-run."""
        for number in numbers:
            record = manifest["steps"][number - 1]
            changes = self.config_changes(record)
            if changes:
                fresh = empty_record(BY_NUMBER[number])
                fresh["message"] = "config changed (" + "; ".join(changes) + "); run it again"
                manifest["steps"][number - 1] = fresh

    @staticmethod
    def _current_inputs(manifest: dict[str, Any], step: Step) -> dict[str, str]:
        current = {}
        for name in step.inputs + step.optional_inputs:
            record = manifest["steps"][PRODUCER[name].number - 1]
            if record["status"] in DONE and name in record["outputs"]:
                current[name] = record["outputs"][name]
        return current

    def _invalidate_dependants(self, manifest: dict[str, Any], step: Step) -> None:
        """After `ares step N`, later steps built on other inputs are no longer current."""
        for later in STEPS[step.number:]:
            record = manifest["steps"][later.number - 1]
            if record["status"] in DONE and (
                record.get("input_digests") != self._current_inputs(manifest, later)
            ):
                manifest["steps"][later.number - 1] = empty_record(later)
                manifest["steps"][later.number - 1]["message"] = (
                    f"inputs changed by step {step.number} {step.name}; run ares resume"
                )


def _flatten(values: dict[str, Any]) -> dict[str, Any]:
    """A config slice as {'section.key': value} (whole sections are opened one level)."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        items = value.items() if isinstance(value, dict) and "." not in key else [(None, value)]
        for name, item in items:
            path = key if name is None else f"{key}.{name}"
            flat[path] = tuple(item) if isinstance(item, list | tuple) else item
    return flat


def config_of(manifest: dict[str, Any]) -> Config:
    """The configuration a run was started with, rebuilt and re-validated."""
    return build_config(manifest["config"], origin=f"run {manifest['run_id']} manifest")
