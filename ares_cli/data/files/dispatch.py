"""One file: read its bytes, verify its checksum sidecar, and hand it to the reader its content
calls for.

Magic bytes decide first (zip, parquet, Arrow IPC, gzip) and the file name second; JSON is told
from CSV by its first character. A sibling `<name>.CHECKSUM` (Binance's `sha256  <name>`) is
verified when present. The result is checked against the kind the caller asked for.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from pathlib import Path

import polars as pl

from ares_cli.data.files.config import FilesConfig
from ares_cli.data.files.csv_reader import load_csv
from ares_cli.data.files.json_shapes import load_json
from ares_cli.data.files.parsed import Parsed
from ares_cli.data.files.payloads import blank, gzip_payload, plain_payload, zip_payload
from ares_cli.data.files.tables import load_frame, read_binary_table
from ares_cli.errors import DataError

__all__ = ["load_one"]


def load_one(path: Path, options: FilesConfig) -> Parsed:
    """Read one file, verify its checksum, detect its layout and normalise it."""
    raw = _read_bytes(path)
    checksum = _verify_checksum(path, raw, options.verify_checksum)
    parsed = _parse_bytes(path, raw, options)
    _check_kind(parsed, options.kind)
    return replace(parsed, checksum=checksum)


def _read_bytes(path: Path) -> bytes:
    """The whole file; an unreadable or empty file is a DataError."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read file ({exc.strerror or exc})") from exc
    if blank(raw):
        raise DataError(f"{path}: file is empty")
    return raw


def _verify_checksum(path: Path, raw: bytes, verify: bool) -> str:
    """Check `raw` against a sibling `<name>.CHECKSUM` (Binance's `sha256  <name>` format)."""
    if not verify:
        return "skipped"
    sidecar = path.with_name(path.name + ".CHECKSUM")
    if not sidecar.is_file():
        return "absent"
    tokens = sidecar.read_text(encoding="utf-8", errors="replace").split()
    expected = tokens[0].lower() if tokens else ""
    if not re.fullmatch(r"[0-9a-f]{64}", expected):
        raise DataError(f"{sidecar}: not a sha256 checksum file (expected 'sha256  {path.name}')")
    actual = hashlib.sha256(raw).hexdigest()
    if actual != expected:
        raise DataError(
            f"{path}: sha256 checksum mismatch: expected {expected} (from {sidecar.name}), "
            f"actual {actual}"
        )
    return "ok"


def _parse_bytes(path: Path, raw: bytes, options: FilesConfig) -> Parsed:
    """Dispatch on magic bytes first and the file name second."""
    name = path.name.lower()
    if raw.startswith(b"PK\x03\x04") or name.endswith(".zip"):
        return load_csv(zip_payload(path, raw), path, options)
    if raw.startswith(b"PAR1"):
        return load_frame(path, read_binary_table(path, raw, pl.read_parquet), "parquet", options)
    if raw.startswith(b"ARROW1") or name.endswith((".feather", ".arrow", ".ipc")):
        return load_frame(path, read_binary_table(path, raw, pl.read_ipc), "feather", options)
    if raw.startswith(b"\x1f\x8b"):
        payload = gzip_payload(path, raw)
        if ".json" in name or payload.head.lstrip().startswith((b"[", b"{")):
            return load_json(path, payload.plain(), options)
        return load_csv(payload, path, options)
    if name.endswith(".json") or raw[:256].lstrip().startswith((b"[", b"{")):
        return load_json(path, raw, options)
    return load_csv(plain_payload(path, raw), path, options)


def _check_kind(parsed: Parsed, wanted: str) -> None:
    """Fail when the caller asked for trades but the file holds candles, or the reverse."""
    if wanted != "auto" and parsed.kind != wanted:
        raise DataError(f"{parsed.path}: holds {parsed.kind} ({parsed.layout}), not {wanted}")
