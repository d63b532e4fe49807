"""The typed run manifest: one record per step, written as JSON under `runs/<run-id>/`.

A run is a manifest of every registered step; each step ends `ok` (executed), `cached` (its
action key was already recorded, no work done), `failed` or `not-run`. Unknown keys in an older
or newer manifest are ignored on read, so `ares status` keeps working across versions.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DONE", "Manifest", "Status", "StepRecord", "utc_now"]

Status = Literal["not-run", "running", "ok", "cached", "failed"]
DONE: tuple[Status, ...] = ("ok", "cached")


def utc_now() -> str:
    """Now in UTC, ISO 8601 with milliseconds and a Z."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class StepRecord(BaseModel):
    """What happened to one step in one run."""

    model_config = ConfigDict(extra="ignore")

    number: int
    name: str
    status: Status = "not-run"
    seconds: float = 0.0
    outputs: dict[str, str] = Field(default_factory=dict)  # output name -> object digest
    kinds: dict[str, str] = Field(default_factory=dict)  # output name -> artifact kind
    metrics: dict[str, Any] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)
    message: str = ""
    exit_code: int | None = None
    # A failure that `ares resume` can get past unchanged (a crash, an external service);
    # other failures need a change first (their message says which).
    resumable: bool = False
    started: str | None = None
    finished: str | None = None
    action_key: str | None = None
    input_digests: dict[str, str] | None = None
    config: dict[str, Any] | None = None  # the config slice the step was made with
    # Python warnings libraries raised while the step ran (worker processes included): in the
    # run log (`log.jsonl`, event `library-warning`), never printed over the progress display
    library_warnings: int = 0

    @property
    def done(self) -> bool:
        return self.status in DONE


class Manifest(BaseModel):
    """One run of one exchange/symbol: config snapshot, versions and every step's record."""

    model_config = ConfigDict(extra="ignore")

    run_id: str
    exchange: str
    symbol: str
    created: str = Field(default_factory=utc_now)
    updated: str = Field(default_factory=utc_now)
    commands: list[list[str]] = Field(default_factory=list)
    status: str = "running"
    config: dict[str, Any] = Field(default_factory=dict)
    versions: dict[str, str] = Field(default_factory=dict)
    steps: list[StepRecord] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    to: int | None = None  # last step of the invocation that started it
    based_on: str | None = None  # run whose done steps this one reused
    # Where the work ran (compute backend, worker counts): resources, in no action key.
    resources: dict[str, Any] = Field(default_factory=dict)

    def step(self, number: int) -> StepRecord:
        """The record of step `number` (1-based)."""
        return self.steps[number - 1]

    def set_step(self, record: StepRecord) -> None:
        self.steps[record.number - 1] = record

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
