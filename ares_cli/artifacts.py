"""How step outputs become bytes in the store and come back: tables, JSON, models, pickles.

Encodings are deterministic so that the same values give the same digest: parquet with fixed
settings for tables, canonical JSON, XGBoost's own UBJSON format for boosters, and joblib only
for scikit-learn-style objects (loaded only after the digest has been verified).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any, Literal

from ares_cli.store import canonical_json

Kind = Literal["table", "json", "xgboost", "joblib", "bytes"]


@dataclass(frozen=True)
class Artifact:
    """A step output before it is stored: its value and how to encode it."""

    kind: Kind
    value: Any

    @staticmethod
    def table(frame: Any) -> Artifact:
        return Artifact("table", frame)

    @staticmethod
    def json(value: Any) -> Artifact:
        return Artifact("json", value)

    @staticmethod
    def joblib(value: Any) -> Artifact:
        return Artifact("joblib", value)

    @staticmethod
    def xgboost(raw: bytes) -> Artifact:
        return Artifact("xgboost", bytes(raw))


def encode(artifact: Artifact) -> tuple[bytes, dict[str, Any]]:
    """Bytes to store plus descriptive metadata (rows, columns) for the action record."""
    if artifact.kind == "table":
        frame = artifact.value
        buffer = io.BytesIO()
        frame.write_parquet(buffer, compression="zstd", compression_level=3, statistics=False)
        return buffer.getvalue(), {"rows": frame.height, "columns": frame.width}
    if artifact.kind == "json":
        return canonical_json(artifact.value), {}
    if artifact.kind == "joblib":
        import joblib

        buffer = io.BytesIO()
        joblib.dump(artifact.value, buffer, compress=3)
        return buffer.getvalue(), {}
    if artifact.kind in ("xgboost", "bytes"):
        return bytes(artifact.value), {}
    raise ValueError(f"unknown artifact kind {artifact.kind!r}")


def decode(data: bytes, kind: Kind) -> Any:
    """The value of verified bytes: a polars DataFrame, a JSON value, a model or raw bytes."""
    if kind == "table":
        import polars as pl

        return pl.read_parquet(io.BytesIO(data))
    if kind == "json":
        import json

        return json.loads(data)
    if kind == "joblib":
        import joblib

        return joblib.load(io.BytesIO(data))
    if kind in ("xgboost", "bytes"):
        return data
    raise ValueError(f"unknown artifact kind {kind!r}")
