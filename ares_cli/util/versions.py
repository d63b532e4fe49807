"""The versions of the libraries whose results ares stores, in one list for the run manifest and
the deployable bundle, and how they differ from the repository's lock file when there is one.

A run made with other versions than `requirements.lock` pins is not wrong, but its digests will
not match a run made from the lock: the run's summary says so.
"""

from __future__ import annotations

import platform
from functools import cache
from importlib import metadata
from pathlib import Path

__all__ = ["LIBRARIES", "LOCK_FILE", "library_version", "library_versions", "lock_differences"]

LIBRARIES = ("ares-cli", "numpy", "polars", "pyarrow", "scipy", "xgboost-cpu", "scikit-learn",
             "optuna", "numba", "matplotlib", "ccxt", "typer", "pydantic")
# The lock file of a source checkout (absent from an installed wheel: then nothing is compared).
LOCK_FILE = Path(__file__).resolve().parents[2] / "requirements.lock"


def library_version(name: str) -> str:
    """The installed version of distribution `name`, or "absent"."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


def library_versions() -> dict[str, str]:
    """{"python": …, library: version} for every library in `LIBRARIES`."""
    return {"python": platform.python_version(),
            **{name: library_version(name) for name in LIBRARIES}}


@cache
def _locked(path: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        name, sep, version = line.split("#", 1)[0].strip().partition("==")
        if sep:
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    return pins


def lock_differences(versions: dict[str, str], lock: Path = LOCK_FILE) -> list[str]:
    """'name installed (lock pinned)' for each library whose version differs from the lock;
    [] when they agree or there is no lock file."""
    if not lock.is_file():
        return []
    pins = _locked(lock)
    return [f"{name} {version} (lock {pins[name]})" for name, version in sorted(versions.items())
            if name in pins and pins[name] != version]
