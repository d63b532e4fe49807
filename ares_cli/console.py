"""How a run talks to people: rich progress on a terminal, plain timestamped lines otherwise.
Both implement the runner's `Reporter` protocol.

With `--json` the human-readable stream goes to stderr and stdout carries exactly one JSON
summary, so cron jobs and scripts can parse it.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from ares_cli.runner import Reporter
    from ares_cli.steps.base import Step
    from ares_cli.store.manifest import StepRecord


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class PlainReporter:
    """Timestamped lines without escape codes, for cron, pipes and --json's stderr."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._last_progress: dict[int, int] = {}
        self._total = 0

    def _line(self, text: str) -> None:
        self.stream.write(f"{_now()} {text}\n")
        self.stream.flush()

    def run_started(self, run_id: str, steps: list[Step], total: int) -> None:
        self._total = total
        span = f"{steps[0].number}..{steps[-1].number}" if steps else "none"
        self._line(f"run {run_id}: steps {span}")

    def step_started(self, step: Step) -> None:
        self._line(f"[{step.number}/{self._total}] {step.name}: started")

    def step_progress(self, step: Step, fraction: float, message: str) -> None:
        decile = int(fraction * 10)
        if self._last_progress.get(step.number) != decile:  # at most ~10 lines per step
            self._last_progress[step.number] = decile
            self._line(f"[{step.number}/{self._total}] {step.name}: {fraction:4.0%} {message}")

    def step_finished(self, step: Step, record: StepRecord) -> None:
        text = f"[{step.number}/{self._total}] {step.name}: {record.status} ({record.seconds:.2f}s)"
        if record.message:
            text += f" - {record.message}"
        self._line(text)

    def message(self, text: str) -> None:
        self._line(text)

    def close(self) -> None:
        self.stream.flush()


class RichReporter:
    """A live progress display: one bar for the run, one for the step in flight."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self.console = Console(stderr=False)
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        self._run_task: Any = None
        self._step_task: Any = None

    def run_started(self, run_id: str, steps: list[Step], total: int) -> None:
        self.progress.start()
        self.console.print(f"[bold]run[/bold] {run_id}")
        self._run_task = self.progress.add_task("pipeline", total=len(steps))

    def step_started(self, step: Step) -> None:
        self._step_task = self.progress.add_task(f"[cyan]{step.label}", total=100)

    def step_progress(self, step: Step, fraction: float, message: str) -> None:
        if self._step_task is not None:
            self.progress.update(
                self._step_task,
                completed=int(fraction * 100),
                description=f"[cyan]{step.label}[/cyan] {message}",
            )

    def step_finished(self, step: Step, record: StepRecord) -> None:
        colour = {"ok": "green", "cached": "blue", "failed": "red"}.get(record.status, "white")
        if self._step_task is not None:
            self.progress.remove_task(self._step_task)
            self._step_task = None
        line = (
            f"[{colour}]{record.status:>7}[/{colour}] {step.label}"
            f" [dim]{record.seconds:.2f}s[/dim]"
        )
        if record.message:
            line += f"  {record.message}"
        self.progress.console.print(line)
        if self._run_task is not None:
            self.progress.advance(self._run_task)

    def message(self, text: str) -> None:
        self.progress.console.print(text)

    def close(self) -> None:
        self.progress.stop()


def make_reporter(json_mode: bool) -> Reporter:
    """Rich on an interactive terminal, plain lines elsewhere; stderr when stdout carries JSON."""
    if json_mode:
        return PlainReporter(sys.stderr)
    if sys.stdout.isatty():
        return RichReporter()
    return PlainReporter(sys.stdout)
