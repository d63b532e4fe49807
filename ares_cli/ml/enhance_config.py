"""Temporary home of EnhanceConfig (moves into ml/tuning.py)."""

from __future__ import annotations

from pydantic import field_validator

from ares_cli.section import Field, Section


class EnhanceConfig(Section):
    """`[enhance]`: Optuna tuning and feature selection per specialist (step 6)."""

    n_trials: int = Field(8, ge=1)
    margin: float = Field(0.002, ge=0)
    storage: str = ""
    min_features: int = Field(8, ge=1)
    drop_fraction: float = Field(0.2, gt=0, lt=1)

    @field_validator("storage")
    @classmethod
    def _storage_spec(cls, value: str) -> str:
        if value and not (
            (value.startswith("journal:") and len(value) > len("journal:")) or "://" in value
        ):
            raise ValueError(
                f"'{value}' must be empty (in memory), 'journal:PATH' or an RDB URL such as "
                "sqlite:///optuna.db"
            )
        return value
