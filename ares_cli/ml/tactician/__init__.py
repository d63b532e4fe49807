"""The tactician (steps 8-10): meta-labels on the fine path, its dataset, models and ensemble.

Public names are re-exported lazily for users (`from ares_cli.ml.tactician import NAME`); code
inside ares_cli imports each name from the module that defines it."""

from ares_cli.util.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "LinearModel": "models", "MetaLabels": "meta_labels", "OUTCOME_COLUMNS": "dataset",
    "REASONS": "meta_labels", "TacticianConfig": "dataset", "TacticianModelConfig": "models",
    "build_tactician_dataset": "dataset", "combine_tactician": "ensemble",
    "flow_features": "dataset", "gain_weights": "ensemble", "predict_members": "models",
    "proposal_thresholds": "dataset", "tactician_features": "dataset", "tactician_rows": "models",
    "train_tactician": "models",
})
