"""Error types of ares, each tied to the exit code DESIGN §4 promises for it."""

from __future__ import annotations


class AresError(Exception):
    """Base error: a message for the user and the process exit code it maps to."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class StepFailed(AresError):
    """A step could not do its job (exit 1)."""

    exit_code = 1


class NotImplementedStep(StepFailed):
    """The step is registered but has no implementation yet (exit 1, never reported as done)."""


class IntegrityError(AresError):
    """An object in the store does not hash to its name (exit 1)."""

    exit_code = 1


class ConfigError(AresError):
    """Bad configuration or command-line usage (exit 2), raised before any work starts."""

    exit_code = 2


class DataError(AresError):
    """Invalid input data: names the file, row or key at fault (exit 3)."""

    exit_code = 3


class ExternalServiceError(AresError):
    """An external service (exchange API, required MLflow) failed after retries (exit 4)."""

    exit_code = 4


class LockHeld(AresError):
    """Another live process holds the run lock of this exchange/symbol (exit 75, EX_TEMPFAIL)."""

    exit_code = 75


class InsufficientData(DataError, ValueError):
    """Too little data for a computation (exit 3, naming what is short and what is needed).

    Also a ValueError, so library code that falls back on too little data (a regime specialist
    falling back to the global model) can catch it as it catches other value problems.
    """
