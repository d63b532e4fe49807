"""How step outputs become bytes in the store and come back: tables, JSON, model sets, pickles.

Encodings are deterministic so that the same values give the same digest: parquet with fixed
settings for tables, canonical JSON, a zip of XGBoost's own UBJSON models for model sets, and
joblib only for scikit-learn-style objects (loaded only after the digest has been verified).
Trades are "chunks": canonical JSON listing day objects the step has already stored (see
`ares_cli.data.chunks`), so the list's digest names the whole history.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ares_cli.util.jsonutil import canonical_json, json_safe

if TYPE_CHECKING:
    from ares_cli.data.chunks import Objects

Kind = Literal["table", "json", "modelset", "joblib", "bytes", "chunks"]


@dataclass(frozen=True)
class Artifact:
    """A step output before it is stored: its value and how to encode it."""

    kind: Kind
    value: Any

    @staticmethod
    def table(frame: Any) -> Artifact:
        return Artifact("table", frame)

    @staticmethod
    def chunks(value: Any) -> Artifact:
        """A `ares_cli.data.chunks.TradeChunks` whose day objects are already stored."""
        return Artifact("chunks", value)

    @staticmethod
    def json(value: Any) -> Artifact:
        return Artifact("json", value)

    @staticmethod
    def joblib(value: Any) -> Artifact:
        return Artifact("joblib", value)

    @staticmethod
    def modelset(value: Any) -> Artifact:
        """A `ares_cli.ml.models.modelset.ModelSet`."""
        return Artifact("modelset", value)


def encode(artifact: Artifact) -> tuple[bytes, dict[str, Any]]:
    """Bytes to store plus descriptive metadata (rows, columns) for the action record."""
    if artifact.kind == "table":
        from ares_cli.util.tables import table_bytes

        frame = artifact.value
        return table_bytes(frame), {"rows": frame.height, "columns": frame.width}
    if artifact.kind == "chunks":
        listing = artifact.value.to_json()
        return canonical_json(listing), {"rows": listing["rows"], "parts": len(listing["parts"])}
    if artifact.kind == "json":
        return canonical_json(json_safe(artifact.value)), {}
    if artifact.kind == "joblib":
        import joblib

        buffer = io.BytesIO()
        joblib.dump(artifact.value, buffer, compress=3)
        return buffer.getvalue(), {}
    if artifact.kind == "modelset":
        return artifact.value.to_bytes(), {"models": sorted(artifact.value.models)}
    if artifact.kind == "bytes":
        return bytes(artifact.value), {}
    raise ValueError(f"unknown artifact kind {artifact.kind!r}")


def decode(data: bytes, kind: Kind, objects: Objects | None = None) -> Any:
    """The value of verified bytes: a polars DataFrame, a JSON value, a model set or bytes;
    for "chunks", trades that read their day objects from `objects` (the store) when used."""
    if kind == "table":
        from ares_cli.util.tables import read_table

        return read_table(data)
    if kind == "chunks":
        import json

        from ares_cli.data.chunks import TradeChunks

        if objects is None:
            raise ValueError("trade chunks need the store that holds their day objects")
        return TradeChunks.from_json(json.loads(data), objects)
    if kind == "json":
        import json

        return json.loads(data)
    if kind == "joblib":
        import joblib

        return joblib.load(io.BytesIO(data))
    if kind == "modelset":
        from ares_cli.ml.models.modelset import ModelSet

        return ModelSet.from_bytes(data)
    if kind == "bytes":
        return data
    raise ValueError(f"unknown artifact kind {kind!r}")
