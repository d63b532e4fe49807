"""JSON that every strict parser accepts: canonical bytes, and NaN/infinity written as null."""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["canonical_json", "json_safe"]


def json_safe(obj: Any) -> Any:
    """Recursively turn non-finite floats into None, NumPy scalars and tuples into plain JSON."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item) and getattr(obj, "ndim", None) == 0:
        obj = obj.item()  # a NumPy scalar
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    return obj


def canonical_json(value: Any) -> bytes:
    """Deterministic JSON bytes: sorted keys, no whitespace variance, UTF-8, no NaN."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode()
