"""The content-addressed store (DESIGN §3): immutable objects, action records, runs, refs, locks.

Objects are named by the sha256 of their bytes and fanned out by the first two hex characters.
An output of kind "chunks" is a JSON list of other objects (its "parts", e.g. one per day of
trades): whatever keeps, checks or names the list keeps, checks or names its parts too.
Every write goes to a temporary file in the destination folder, is fsynced, then renamed into
place, so a crash never leaves a half-written file under a real name. Every read re-hashes.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ares_cli.errors import IntegrityError, LockHeld
from ares_cli.store.manifest import Manifest
from ares_cli.util.fsutil import TMP_PREFIX, DiskFull, atomic_write, safe_name, sha256_file
from ares_cli.util.jsonutil import canonical_json, json_safe

__all__ = ["CorruptObject", "Store", "atomic_write", "canonical_json", "safe_name", "sha256_bytes",
           "sha256_file"]


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of `data`."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class CorruptObject:
    """An object whose bytes no longer hash to its name."""

    digest: str
    actual: str
    path: Path


class Store:
    """One store folder; safe for concurrent readers and for one writer per exchange/symbol."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.objects = self.root / "objects"
        self.actions = self.root / "actions"
        self.runs = self.root / "runs"
        self.refs = self.root / "refs"
        self.locks = self.root / "locks"

    # -- objects -------------------------------------------------------------------------
    def object_path(self, digest: str) -> Path:
        return self.objects / digest[:2] / digest[2:]

    def has(self, digest: str) -> bool:
        return self.object_path(digest).is_file()

    def put(self, data: bytes) -> str:
        """Store bytes and return their digest; an existing intact copy is kept as it is."""
        digest = sha256_bytes(data)
        path = self.object_path(digest)
        if path.is_file() and sha256_file(path) == digest:
            return digest
        atomic_write(path, data, read_only=True)  # also repairs a corrupted copy
        return digest

    def get(self, digest: str, *, what: str = "") -> bytes:
        """Bytes of an object, verified against its name before anyone may use them."""
        path = self.object_path(digest)
        label = f"object {digest[:16]}" + (f" ({what})" if what else "")
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise IntegrityError(f"{label} is missing from the store at {path}") from None
        actual = sha256_bytes(data)
        if actual != digest:
            raise IntegrityError(
                f"{label} is corrupted: its bytes hash to {actual[:16]}, not to its name"
            )
        return data

    def iter_objects(self) -> Iterator[tuple[str, Path]]:
        if not self.objects.is_dir():
            return
        for fan in sorted(self.objects.iterdir()):
            if not fan.is_dir():
                continue
            for path in sorted(fan.iterdir()):
                if not path.name.startswith(TMP_PREFIX):
                    yield fan.name + path.name, path

    def verify(self) -> tuple[int, list[CorruptObject]]:
        """Re-hash every object; return how many were checked and those that do not match."""
        checked, bad = 0, []
        for digest, path in self.iter_objects():
            checked += 1
            actual = sha256_file(path)
            if actual != digest:
                bad.append(CorruptObject(digest, actual, path))
        for digest in sorted(self.chunk_lists()):  # a list whose part is gone is damaged too
            for part in self.parts_of(digest):
                if not self.has(part):
                    bad.append(CorruptObject(part, "missing", self.object_path(part)))
        return checked, bad

    def chunk_lists(self) -> set[str]:
        """Digests of every "chunks" output any action record or run names."""
        found = {o["digest"] for _key, record in self.iter_actions()
                 for o in record.get("outputs", {}).values() if o.get("kind") == "chunks"}
        for manifest in self.list_runs():
            for step in manifest.steps:
                found.update(d for n, d in step.outputs.items()
                             if step.kinds.get(n) == "chunks")
        return found

    # -- action records ------------------------------------------------------------------
    def action_path(self, key: str) -> Path:
        return self.actions / f"{key}.json"

    def get_action(self, key: str) -> dict[str, Any] | None:
        """The record for an action key if it exists and every output object is present."""
        path = self.action_path(key)
        try:
            record = json.loads(path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        if not self._outputs_present(record):
            return None
        return record

    def _outputs_present(self, record: dict[str, Any]) -> bool:
        for output in record.get("outputs", {}).values():
            if not self.has(output["digest"]):
                return False
            if output.get("kind") == "chunks" and not all(
                    self.has(p) for p in self.parts_of(output["digest"])):
                return False
        return True

    def parts_of(self, digest: str) -> list[str]:
        """The objects a "chunks" object lists, read without re-hashing it (gc and verify must
        see the parts of a list even when the list itself is damaged: then none are named,
        and verify reports the list)."""
        try:
            listing = json.loads(self.object_path(digest).read_bytes())
            return [part["digest"] for part in listing["parts"]]
        except (OSError, ValueError, KeyError, TypeError):
            return []

    def put_action(self, key: str, record: dict[str, Any]) -> None:
        atomic_write(self.action_path(key), canonical_json(record))

    def iter_actions(self) -> Iterator[tuple[str, dict[str, Any]]]:
        if not self.actions.is_dir():
            return
        for path in sorted(self.actions.glob("*.json")):
            with contextlib.suppress(json.JSONDecodeError):
                yield path.stem, json.loads(path.read_text())

    # -- runs ----------------------------------------------------------------------------
    @staticmethod
    def new_run_id() -> str:
        return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)

    def manifest_path(self, run_id: str) -> Path:
        return self.runs / run_id / "manifest.json"

    def write_manifest(self, manifest: Manifest) -> None:
        # compact: written after every step, it grows to half a megabyte, and indented JSON
        # goes through the pure-Python encoder (3x slower); `ares show RUN` prints it indented
        data = json.dumps(json_safe(manifest.to_json()), separators=(",", ":"), sort_keys=True,
                          allow_nan=False).encode()
        atomic_write(self.manifest_path(manifest.run_id), data)

    def read_manifest(self, run_id: str) -> Manifest:
        return Manifest.model_validate(json.loads(self.manifest_path(run_id).read_text()))

    def append_log(self, run_id: str, event: dict[str, Any]) -> None:
        """Append one JSON line to the run's log (a torn last line is tolerated by readers)."""
        path = self.runs / run_id / "log.jsonl"
        line = json.dumps(event, sort_keys=True) + "\n"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as handle:
                handle.write(line)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise DiskFull(path, len(line.encode())) from exc
            raise

    def list_runs(self) -> list[Manifest]:
        """Every readable run manifest, oldest first."""
        if not self.runs.is_dir():
            return []
        manifests = []
        for folder in sorted(self.runs.iterdir()):
            with contextlib.suppress(FileNotFoundError, json.JSONDecodeError,
                                     ValidationError):
                manifests.append(self.read_manifest(folder.name))
        return sorted(manifests, key=lambda m: (m.created, m.run_id))  # ids share a second

    # -- refs ----------------------------------------------------------------------------
    def ref_path(self, exchange: str, symbol: str, name: str) -> Path:
        return self.refs / safe_name(exchange) / safe_name(symbol) / name

    def set_ref(self, exchange: str, symbol: str, name: str, value: str) -> None:
        atomic_write(self.ref_path(exchange, symbol, name), value.encode())

    def get_ref(self, exchange: str, symbol: str, name: str) -> str | None:
        try:
            return self.ref_path(exchange, symbol, name).read_text().strip() or None
        except FileNotFoundError:
            return None

    def iter_refs(self) -> Iterator[tuple[str, str, str, str]]:
        """(exchange, symbol, ref name, value) for every ref."""
        if not self.refs.is_dir():
            return
        for path in sorted(self.refs.glob("*/*/*")):
            if path.is_file() and not path.name.startswith(TMP_PREFIX):
                exchange, symbol = path.parent.parent.name, path.parent.name
                yield exchange, symbol, path.name, path.read_text().strip()

    # -- locks ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self, exchange: str, symbol: str) -> Iterator[Path]:
        """Hold the exclusive run lock of one pair; a lock left by a dead process is taken over.

        An OS-level `flock` is released by the kernel when its holder dies (even by kill -9),
        so a stale lock file never blocks; the pid written inside only names the holder. A run
        also holds the store-wide lock shared, so `gc` cannot delete objects under it.
        """
        self.locks.mkdir(parents=True, exist_ok=True)
        with self._flock(self.locks / "store.lock", fcntl.LOCK_SH, "a garbage collection"):
            name = f"{safe_name(exchange)}__{safe_name(symbol)}.lock"
            with self._flock(self.locks / name, fcntl.LOCK_EX, f"{exchange}/{symbol}") as path:
                yield path

    def is_locked(self, exchange: str, symbol: str) -> bool:
        """Whether a live process holds the pair's run lock right now (probes, never waits)."""
        path = self.locks / f"{safe_name(exchange)}__{safe_name(symbol)}.lock"
        if not path.is_file():
            return False
        fd = os.open(path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return True
        finally:
            os.close(fd)  # closing releases the probe's lock
        return False

    def run_state(self, manifest: Manifest) -> str:
        """The run's status, with `running` told apart from `interrupted`: a run still marked
        running whose pair lock is free was killed (kill -9, a power cut) and can be resumed."""
        if manifest.status == "running" and not self.is_locked(manifest.exchange,
                                                               manifest.symbol):
            return "interrupted"
        return manifest.status

    def failed_runs(self) -> list[str]:
        """Runs `gc --failed` deletes: failed or interrupted, and named by no ref (a pair's
        latest run and its champion are kept)."""
        kept = {value for _, _, _name, value in self.iter_refs()}
        return [m.run_id for m in self.list_runs()
                if self.run_state(m) in ("failed", "interrupted") and m.run_id not in kept]

    def delete_run(self, run_id: str) -> None:
        """Remove one run's folder (manifest and log); its objects go with the next `gc`."""
        folder = self.runs / run_id
        for path in sorted(folder.glob("*")):
            path.unlink()
        folder.rmdir()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[Path]:
        """Hold the whole store alone (for gc): fails at once while any run is in flight."""
        self.locks.mkdir(parents=True, exist_ok=True)
        with self._flock(self.locks / "store.lock", fcntl.LOCK_EX, "the store") as path:
            yield path

    @staticmethod
    @contextlib.contextmanager
    def _flock(path: Path, mode: int, what: str) -> Iterator[Path]:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
                raise LockHeld(
                    f"another ares process holds the lock for {what} (pid {holder}); "
                    f"lock file {path}",
                    hint="wait for it to finish, or stop that process",
                ) from None
            if mode == fcntl.LOCK_EX:
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
                os.fsync(fd)
            yield path
        finally:
            os.close(fd)  # closing releases the flock

    # -- garbage collection --------------------------------------------------------------
    def reachable(self) -> set[str]:
        """Digests reachable from any run manifest or ref."""
        keep: set[str] = set()
        for manifest in self.list_runs():
            for step in manifest.steps:
                keep.update(step.outputs.values())
                for name, digest in step.outputs.items():
                    if step.kinds.get(name) == "chunks":
                        parts = self.parts_of(digest)
                        if not parts and self.has(digest):
                            raise IntegrityError(
                                f"the trade chunk list {digest[:16]} of run {manifest.run_id} "
                                "cannot be read, so gc cannot tell which day objects it "
                                "keeps; nothing was deleted", hint="run: ares verify")
                        keep.update(parts)
        for _exchange, _symbol, _name, value in self.iter_refs():
            if len(value) == 64:
                keep.add(value)
        return keep

    def gc(self) -> tuple[int, int, int]:
        """Delete unreachable objects, action records that lost an object, and stray temp files.

        Returns (objects removed, bytes freed, action records removed).
        """
        keep = self.reachable()
        removed = freed = 0
        for digest, path in list(self.iter_objects()):
            if digest not in keep:
                freed += path.stat().st_size
                path.unlink()
                removed += 1
        for tmp in self.root.rglob(f"{TMP_PREFIX}*"):
            tmp.unlink(missing_ok=True)
        dropped = 0
        for key, record in list(self.iter_actions()):
            if not self._outputs_present(record):
                self.action_path(key).unlink(missing_ok=True)
                dropped += 1
        return removed, freed, dropped
