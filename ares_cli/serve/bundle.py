"""The deployable bundle (step 16): everything needed to decide on new data, as one model set.

`table.json` holds the feature specification (the config sections the features, labels, bars,
regimes and tactician were built with, and the feature names), the analyst member table and
stacker, the tactician member table and ensemble weights, the calibrators, the chosen trading
rules, library versions, and the digests of the parts it was assembled from. `models/` holds
every XGBoost model in XGBoost's own UBJSON format: `analyst-<MEMBER>` and `tactician-<MEMBER>`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ares_cli.ml.models.modelset import ModelSet
from ares_cli.util.versions import library_versions

__all__ = ["BUNDLE_FORMAT", "build_bundle"]

BUNDLE_FORMAT = "ares-bundle/1"


def build_bundle(*, exchange: str, symbol: str, spec: Mapping[str, Any],
                 analyst: ModelSet, analyst_ensemble: Mapping[str, Any],
                 tactician: ModelSet, tactician_ensemble: Mapping[str, Any],
                 calibrators: Mapping[str, Any], params: Mapping[str, Any],
                 regime_model: Mapping[str, Any], parts: Mapping[str, str]) -> ModelSet:
    """The bundle of one run (see the module docstring); `parts` names the digests of the
    artifacts it was assembled from."""
    models = {f"analyst-{name}": model for name, model in analyst.models.items()}
    models.update({f"tactician-{name}": model for name, model in tactician.models.items()})
    table = {
        "format": BUNDLE_FORMAT,
        "exchange": exchange,
        "symbol": symbol,
        "spec": dict(spec),
        "analyst": {"members": analyst.table, "ensemble": dict(analyst_ensemble)},
        "tactician": {"members": tactician.table, "ensemble": dict(tactician_ensemble)},
        "calibrators": dict(calibrators),
        "params": dict(params),
        "regime_model": dict(regime_model),
        "library_versions": library_versions(),
        "parts": dict(parts),
        "models": sorted(models),
    }
    return ModelSet(table, models)
