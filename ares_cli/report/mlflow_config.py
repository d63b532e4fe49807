"""`[mlflow]`: the section model alone, apart from the logger, so loading the config imports no
MLflow code."""

from __future__ import annotations

from ares_cli.util.section import Field, Section

__all__ = ["MlflowConfig"]


class MlflowConfig(Section):
    """`[mlflow]`: whether and where to log each run to MLflow, and what a failure means."""

    enabled: bool = False
    tracking_uri: str = Field(default="sqlite:///mlruns.db", min_length=1)
    experiment: str = Field(default="ares", min_length=1, max_length=500)
    required: bool = False
    timeout_s: float = Field(default=10.0, gt=0, le=600)
