"""Runs a range of steps on an in-memory catalog, with no store: the same step functions the
runner calls, fed from a dict instead of the store.

Walk-forward (step 13) calls this on every fold with that fold's own data; tests use it to build
a store's worth of outputs in memory. Each output goes through the same encoding as the store
(so its digest is the one the runner would record) and the catalog holds the decoded value, so
a step sees exactly what it would see when run from the store.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ares_cli.artifacts import decode, encode
from ares_cli.errors import StepFailed
from ares_cli.steps.base import Step, StepEnv, check_outputs, step_view

if TYPE_CHECKING:
    from ares_cli.config import Config
    from ares_cli.ml.evaluation.walk_forward import ComputeConfig

__all__ = ["PipelineResult", "run_steps"]


@dataclass
class StepOutcome:
    """What one step produced in memory: output digests and kinds, metrics, warnings."""

    digests: dict[str, str]
    kinds: dict[str, str]
    metrics: dict[str, Any]
    warnings: list[str]
    summary: str


@dataclass
class PipelineResult:
    """The catalog after the run (inputs plus every output value) and each step's outcome."""

    catalog: dict[str, Any]
    steps: dict[int, StepOutcome] = field(default_factory=dict)

    @property
    def warnings(self) -> list[str]:
        return [w for outcome in self.steps.values() for w in outcome.warnings]


def run_steps(
    which: Iterable[Step],
    catalog: Mapping[str, Any],
    config: Config,
    *,
    exchange: str = "binance",
    symbol: str = "ETHUSDT",
    work_dir: Path | None = None,
    state_key: str = "memory",
    compute: ComputeConfig | None = None,
    on_step: Callable[[Step, float], None] | None = None,
) -> PipelineResult:
    """Run the steps `which` in number order on `catalog` (artifact name -> value); return the
    new catalog. The caller passes Step objects (the registry or a step's own imports), so this
    executor depends on the step contract alone, not on the registry of all steps.

    Inputs a step needs and no earlier step produced must be in `catalog`; optional inputs are
    passed when present. A step that cannot do its job raises, as under the runner.
    `on_step(step, fraction)` is told as each step starts (0) and as it reports progress
    (walk-forward's progress from its workers).
    """
    from ares_cli.data.chunks import MemoryObjects

    result = PipelineResult(dict(catalog))
    objects = MemoryObjects()  # what a step writes piece by piece (trade chunks) lives here
    for step in sorted(which, key=lambda s: s.number):
        if step.run is None:
            raise StepFailed(f"step {step.number} {step.name} is not implemented yet")
        missing = [n for n in step.inputs if n not in result.catalog]
        if missing:
            raise StepFailed(f"step {step.name} needs {missing}, which the catalog lacks")
        inputs = {n: result.catalog[n] for n in (*step.all_inputs, *step.external_inputs)
                  if n in result.catalog}
        shown = {} if on_step is None else {"progress": _forward(on_step, step)}
        if on_step is not None:
            on_step(step, 0.0)
        env = StepEnv(exchange=exchange, symbol=symbol, work_dir=work_dir,
                      state_key=f"{state_key}-{step.number}", compute=compute,
                      objects=objects, **shown)
        produced = step.run(inputs, step_view(step, config), env)
        check_outputs(step, produced)
        outcome = StepOutcome({}, {}, produced.metrics, produced.warnings, produced.summary)
        for name, artifact in sorted(produced.outputs.items()):
            data, _ = encode(artifact)
            outcome.digests[name] = hashlib.sha256(data).hexdigest()  # as the store names it
            outcome.kinds[name] = artifact.kind
            result.catalog[name] = decode(data, artifact.kind, objects)
        result.steps[step.number] = outcome
    return result


def _forward(on_step: Callable[[Step, float], None], step: Step) -> Callable[[float, str], None]:
    def progress(fraction: float, message: str = "") -> None:
        on_step(step, fraction)

    return progress
