"""A named set of models as one artifact: a member table plus each model in its native format.

The container is a zip written deterministically (fixed timestamps and permissions, members in
name order, stored uncompressed), so the same models give the same bytes and digest. Inside:
`table.json` (canonical JSON) and `models/<NAME>.ubj` (XGBoost's own UBJSON), readable with
`zipfile` and `xgboost.Booster.load_model` alone; nothing is pickled.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ModelSet"]

_TABLE = "table.json"
_MODEL_DIR = "models/"
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class ModelSet:
    """`table` (JSON-ready metadata, e.g. `MemberTable.to_dict()`) and model bytes by name."""

    table: dict[str, Any]
    models: Mapping[str, bytes] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        """The deterministic zip container."""
        buffer = io.BytesIO()
        entries = {_TABLE: json.dumps(self.table, sort_keys=True, separators=(",", ":"),
                                      ensure_ascii=False).encode()}
        for name, model in self.models.items():
            if not _NAME.fullmatch(name):
                raise ValueError(f"model name {name!r} must be letters, digits, '.', '_', '-'")
            entries[f"{_MODEL_DIR}{name}.ubj"] = bytes(model)
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
            for path in sorted(entries):
                info = zipfile.ZipInfo(path, date_time=_EPOCH)
                info.external_attr = 0o644 << 16
                info.create_system = 3
                archive.writestr(info, entries[path])
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> ModelSet:
        """Read a container written by `to_bytes` (ValueError for anything else)."""
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = archive.namelist()
                if _TABLE not in names:
                    raise ValueError(f"not a model set: no {_TABLE}")
                table = json.loads(archive.read(_TABLE))
                models = {
                    path[len(_MODEL_DIR):-len(".ubj")]: archive.read(path)
                    for path in names
                    if path.startswith(_MODEL_DIR) and path.endswith(".ubj")
                }
        except zipfile.BadZipFile as exc:
            raise ValueError(f"not a model set: {exc}") from None
        return cls(table, models)
