"""The contract between a step and whoever runs it (kedro-style nodes: the caller owns all I/O).

A step declares its number, name, inputs, outputs and the config keys it reads, and provides
`run(inputs, config, env) -> StepResult`: a pure function of its input values (a mapping from
artifact name to value), the config view of exactly what it declared, and an environment that
carries no data (the pair's names, progress and log callbacks, a key for resumable external
state). It imports nothing from the store, runner or CLI, so the runner (feeding it from the
store) and `ares_cli.pipeline` (feeding it from memory, as walk-forward does per fold) run the
very same code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ares_cli.artifacts import Artifact
from ares_cli.config_view import ConfigView
from ares_cli.errors import StepFailed

if TYPE_CHECKING:
    from ares_cli.config import Config
    from ares_cli.data.chunks import Objects
    from ares_cli.ml.evaluation.walk_forward import ComputeConfig


def _ignore(*_args: Any) -> None:
    return None


@dataclass(frozen=True)
class StepEnv:
    """What a running step may know besides its inputs and config; none of it is data.

    `state_key` is stable for one exact computation (the runner passes the action key), so it
    can name external state that must survive a crash of just that computation (an Optuna
    study). `work_dir` is where a source may keep a download cache; None in memory. `workers`
    is how many local processes a search may use and `compute` where independent work (folds)
    runs: resources, not recipes, so neither is part of the action key (a worker started with
    another count joins the same study; the backends give identical results). `objects` is
    where a step writes an output piece by piece as it makes it (step 1's day chunks of
    trades, so a year never sits in memory): the store, or a dict in memory; content-addressed,
    so a step that then fails leaves only pieces `gc` removes.
    """

    exchange: str = "binance"
    symbol: str = "ETHUSDT"
    work_dir: Path | None = None
    state_key: str = "memory"
    progress: Callable[[float, str], None] = _ignore
    log: Callable[[str], None] = _ignore
    workers: int = 1
    compute: ComputeConfig | None = None  # None: local processes with the default count
    objects: Objects | None = None  # None: a dict in memory (see MemoryObjects)


@dataclass
class StepResult:
    """What a step produced: named artifacts, metrics for the manifest, optional warnings."""

    outputs: dict[str, Artifact]
    metrics: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # One line shown beside the step's status, e.g. which regimes fell back to the global model.
    summary: str = ""


StepFn = Callable[[Mapping[str, Any], "ConfigView", StepEnv], StepResult]
ConfigKeys = tuple[str, ...] | Callable[["Config"], tuple[str, ...]]
KeyFn = Callable[["ConfigView", StepEnv], dict[str, Any]]

# Libraries whose results every step stores (tables): part of every action key.
BASE_LIBRARIES = ("numpy", "polars")


@dataclass(frozen=True)
class Step:
    """One of the pipeline steps."""

    number: int
    name: str
    summary: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    # Config sections ('bars') or keys ('split.train') the step reads; a callable when they
    # depend on the config itself (collect reads only its source's keys).
    config: ConfigKeys = ()
    run: StepFn | None = None
    optional_inputs: tuple[str, ...] = ()
    # Inputs from outside the run, resolved by the runner when they exist (e.g. the pair's
    # promoted champion bundle); their digests enter the action key like any input's.
    external_inputs: tuple[str, ...] = ()
    # Outputs a step may or may not produce (e.g. true regimes exist only for synthetic data).
    optional_outputs: tuple[str, ...] = ()
    # Libraries besides numpy and polars whose results the step stores (xgboost models, ...).
    libraries: tuple[str, ...] = ()
    # Extra action-key material that is not config, e.g. digests of input files.
    key_extra: KeyFn | None = None
    # A step whose result depends on the outside world (an exchange) is never a cache hit.
    volatile: Callable[[ConfigView], bool] | None = None
    # Started in the background once an earlier step of the same run has really executed (so
    # this one will likely execute too): walk-forward's worker processes import their
    # libraries while steps 3-12 run. A resource: it changes no result.
    prepare: Callable[[ComputeConfig], None] | None = None
    # Begun in the background as soon as this step's inputs exist, while the steps between run
    # (walk-forward's folds need only bars and splits); True when it began. The step computes
    # the same when it runs, and takes the work begun under its action key
    # (`StepEnv.state_key`) instead. A resource: it changes no result.
    start_early: Callable[[Mapping[str, Any], ConfigView, StepEnv], bool] | None = None

    @property
    def all_inputs(self) -> tuple[str, ...]:
        return self.inputs + self.optional_inputs

    @property
    def all_outputs(self) -> tuple[str, ...]:
        return self.outputs + self.optional_outputs

    @property
    def implemented(self) -> bool:
        return self.run is not None

    @property
    def label(self) -> str:
        return f"{self.number:>2} {self.name}"

    def config_keys(self, config: Config) -> tuple[str, ...]:
        """The sections and keys this step reads under `config`."""
        return self.config(config) if callable(self.config) else self.config


def tables_with_rows(**frames: Any) -> dict[str, Artifact]:
    """Optional table outputs that hold rows; one that is None or empty is left out (a flat
    outcome has no trades to store), since no stored table may be empty."""
    return {name: Artifact.table(frame) for name, frame in frames.items()
            if frame is not None and frame.height}


def step_view(step: Step, config: Config) -> ConfigView:
    """The config a step may read: exactly its declared sections and keys."""
    return ConfigView(config, step.config_keys(config), owner=f"step {step.name}")


def check_outputs(step: Step, result: StepResult) -> None:
    """A step must produce every declared output, nothing undeclared, and no empty table."""
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
