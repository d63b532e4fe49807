"""Model machinery shared by the analyst and the tactician: purged cross-validation, the XGBoost
booster, member tables and model sets, ensembles, calibration, Optuna studies and tuning.

Public names are re-exported lazily for users (`from ares_cli.ml.models import NAME`); code
inside ares_cli imports each name from the module that defines it."""

from ares_cli.util.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "BoostConfig": "booster", "CVResult": "booster", "CalibrationConfig": "calibration",
    "Calibrator": "calibration", "Combined": "ensemble", "EPS": "booster",
    "EnhanceConfig": "tuning", "EnsembleConfig": "ensemble", "INNER_VALID_FRACTION": "booster",
    "METHODS": "calibration", "Member": "members", "MemberFit": "members",
    "MemberTable": "members", "ModelSet": "modelset", "NestedOof": "members",
    "OofCombination": "ensemble", "PurgedBooster": "booster", "PurgedKFold": "cv",
    "SEARCH_SPACE": "tuning", "StackedEnsemble": "ensemble", "TuneResult": "tuning",
    "WORKER_ATTR": "study", "calibrate": "calibration", "combine_oof": "ensemble",
    "compare": "ensemble", "complete_trials": "study", "count_complete": "study",
    "drop_lowest_gain": "booster", "ece": "calibration", "evaluate": "ensemble",
    "fail_dead_local_trials": "study", "fit_booster": "booster", "fit_fold": "booster",
    "fit_members": "members", "gated": "ensemble", "make_storage": "study",
    "member_fit_predict": "members", "member_predictions": "members", "members_oof": "members",
    "nested_oof": "members", "open_study": "study", "predict_booster": "booster",
    "predict_model": "booster", "purge_overlapping": "cv", "quiet_optuna": "study",
    "reliability": "calibration", "run_until_complete": "study", "scores": "booster",
    "search_space": "tuning", "select_by_schedule": "booster", "total_gain": "booster",
    "trial_seed": "study", "tune_model": "tuning", "worker_identity": "study",
})
