"""The contract between a step and the runner (kedro-style nodes: the runner owns all I/O).

A step declares its number, name, inputs, outputs, the config keys it depends on and a version,
and provides `run(ctx) -> StepResult`. It never touches the store: `ctx.load(name)` gives it the
verified value of an input and the runner stores what it returns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ares_cli.artifacts import Artifact
    from ares_cli.config import Config


@dataclass(frozen=True)
class RunOptions:
    """Per-invocation choices that are not config: the pair and where the store lives."""

    exchange: str = "binance"
    symbol: str = "ETHUSDT"
    store_root: Path = Path("artifacts")


@dataclass
class StepResult:
    """What a step produced: named artifacts, metrics for the manifest, optional warnings."""

    outputs: dict[str, Artifact]
    metrics: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # One line shown beside the step's status, e.g. which regimes fell back to the global model.
    summary: str = ""


@dataclass
class StepContext:
    """Everything a running step may use; loading goes through the runner's verified reads."""

    step: Step
    config: Config
    options: RunOptions
    loader: Callable[[str], Any]
    progress: Callable[[float, str], None]
    log: Callable[[str], None]
    available: frozenset[str] = frozenset()
    # The step's action key: stable across resumes, so it can name resumable external state
    # (an Optuna study) that belongs to exactly this computation.
    action_key: str = ""

    def load(self, name: str) -> Any:
        """The value of input artifact `name`, verified against its digest."""
        if name not in self.step.inputs and name not in self.step.optional_inputs:
            raise KeyError(f"step {self.step.name} did not declare input '{name}'")
        return self.loader(name)

    @property
    def seed(self) -> int:
        """The run's base seed; steps derive their own generators from it."""
        return self.config.data.seed


StepFn = Callable[[StepContext], StepResult]
KeyFn = Callable[["Config", RunOptions], dict[str, Any]]


@dataclass(frozen=True)
class Step:
    """One of the 16 pipeline steps."""

    number: int
    name: str
    summary: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    config_keys: tuple[str, ...] = ()
    version: int = 1
    run: StepFn | None = None
    optional_inputs: tuple[str, ...] = ()
    # Outputs a step may or may not produce (e.g. true regimes exist only for synthetic data).
    optional_outputs: tuple[str, ...] = ()
    # Extra action-key material that is not config, e.g. digests of input files.
    key_extra: KeyFn | None = None
    # A step whose result depends on the outside world (an exchange) is never a cache hit.
    volatile: Callable[[Config], bool] | None = None

    @property
    def all_outputs(self) -> tuple[str, ...]:
        return self.outputs + self.optional_outputs

    @property
    def implemented(self) -> bool:
        return self.run is not None

    @property
    def label(self) -> str:
        return f"{self.number:>2} {self.name}"
