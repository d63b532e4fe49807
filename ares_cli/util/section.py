"""The base of every config section: frozen, unknown keys forbidden, types checked strictly.

Each `[section]` of config.toml is a pydantic model defined beside the code it configures and
used by that code directly, so a constraint lives in one place and is checked when the config
loads (exit 2 before any work), never again inside a step. `ares_cli.config` assembles them.
"""

from __future__ import annotations

import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["Field", "Section", "list_field"]


class Section(BaseModel):
    """A config section: immutable, `extra="forbid"`, strict types (no "3" for 3, no 1 for true).

    TOML reads `2024-01-01` as a date; string keys take such values as their ISO text.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _dates_as_text(cls, values: Any) -> Any:
        if not isinstance(values, dict):
            return values
        out = dict(values)
        for name, value in values.items():
            field = cls.model_fields.get(name)
            if (field is not None and field.annotation is str
                    and isinstance(value, datetime.date | datetime.time)):
                out[name] = value.isoformat()
        return out


def list_field(default: tuple[Any, ...], **constraints: Any) -> Any:
    """A tuple-valued key written as a TOML list (strict items, list accepted for the tuple)."""
    return Field(default=default, strict=False, **constraints)
