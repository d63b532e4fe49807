"""Steps 5-7 as pure functions over the analyst dataset: train, enhance, ensemble.

The runner stores what these return; nothing here reads or writes files (Optuna storage named by
the config aside). A member is one of the four regime specialists or the global model; a
regime without enough training rows has no model of its own and is served by the global model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import polars as pl

from ares_cli.config import AnalystConfig, EnhanceConfig, EnsembleConfig
from ares_cli.ml.analyst import MEMBERS, TrainParams, fit_specialists, members_oof, predict
from ares_cli.ml.features import feature_columns
from ares_cli.ml.regimes import REGIMES, SCORE_COLUMNS

SCORE_FEATURES = [f"f_regime_{c}" for c in SCORE_COLUMNS]


@dataclass(frozen=True)
class TrainingRows:
    """The labelled, unpurged train-window rows as arrays, in time order."""

    X: np.ndarray
    y: np.ndarray
    t0: np.ndarray
    t1: np.ndarray
    regime: np.ndarray
    weight: np.ndarray
    features: list[str]


def training_rows(dataset: pl.DataFrame) -> TrainingRows:
    rows = dataset.filter(
        (pl.col("window") == "train") & pl.col("y").is_not_null() & ~pl.col("purged")
    ).sort("bar_index")
    features = feature_columns(dataset)
    return TrainingRows(
        X=rows.select(features).to_numpy().astype(np.float64),
        y=rows["y"].to_numpy().astype(np.float64),
        t0=rows["bar_index"].to_numpy().astype(np.int64),
        t1=rows["t1_index"].to_numpy().astype(np.int64),
        regime=rows["regime"].to_numpy().astype(str),
        weight=rows["weight"].to_numpy().astype(np.float64),
        features=features,
    )


def train_params(cfg: AnalystConfig, embargo: int, seed: int) -> TrainParams:
    """The training recipe: `[analyst]` keys share TrainParams' names."""
    return TrainParams(**asdict(cfg), embargo=embargo, seed=seed)


# -- step 5 -------------------------------------------------------------------------------


def train_analyst(
    dataset: pl.DataFrame, cfg: AnalystConfig, *, embargo: int, seed: int, min_rows: int
) -> tuple[dict[str, Any], dict[str, bytes], dict[str, Any]]:
    """(member table, models by member, metrics) of the baseline specialists.

    The member table says for each member which features, recipe and rounds serve it, and
    whether it falls back to the global model; models are XGBoost UBJSON bytes.
    """
    rows = training_rows(dataset)
    params = train_params(cfg, embargo, seed)
    fitted = fit_specialists(rows.X, rows.y, rows.t0, rows.t1, rows.regime, params,
                             min_rows=max(min_rows, params.n_splits), weight=rows.weight,
                             members=False)
    all_features = list(range(len(rows.features)))
    members: dict[str, Any] = {}
    for name in MEMBERS:
        if name == "GLOBAL":
            own, rounds, fallback, reason = True, fitted.global_cv.rounds, False, ""
        else:
            spec = fitted.specialists[name]
            own, rounds = not spec.fallback, spec.rounds
            fallback, reason = spec.fallback, spec.reason
        members[name] = {
            "fallback": fallback,
            "reason": reason,
            "params": asdict(params),
            "features": rows.features if own else None,
            "feature_index": all_features if own else None,
            "rounds": int(rounds),
        }
    table = {"features": rows.features, "members": members, "train_rows": int(rows.y.size)}
    metrics = {
        "train_rows": int(rows.y.size),
        "up_share": round(float(rows.y.mean()), 4),
        "per_member": fitted.metrics,
        "fallback_regimes": {r: members[r]["reason"] for r in REGIMES if members[r]["fallback"]},
        "notes": fitted.notes,
    }
    return table, fitted.models(), metrics


# -- step 6 -------------------------------------------------------------------------------


def enhance_analyst(
    dataset: pl.DataFrame, table: dict[str, Any], models: dict[str, bytes], cfg: EnhanceConfig,
    *, seed: int, study_name: str, study_key: str,
    progress: Callable[[float, str], None] = lambda fraction, message: None,
) -> tuple[dict[str, Any], dict[str, bytes], dict[str, Any]]:
    """Tune and prune every member that has its own model; keep the baseline unless the
    purged-CV log-loss improves by at least `cfg.margin`."""
    from ares_cli.ml.tuning import TuneParams, tune_model

    rows = training_rows(dataset)
    if rows.features != table["features"]:
        raise ValueError("the dataset's features differ from those the baseline was trained on")
    enhanced_table = {"features": table["features"], "members": {},
                      "train_rows": table["train_rows"]}
    enhanced_models: dict[str, bytes] = {}
    per_member: dict[str, Any] = {}
    total_trials = total_selection = 0
    for position, name in enumerate(MEMBERS):
        member = dict(table["members"][name])
        if member["fallback"]:
            enhanced_table["members"][name] = member
            continue
        progress(position / len(MEMBERS), f"tuning {name}")
        mask = np.ones(rows.y.size, bool) if name == "GLOBAL" else rows.regime == name
        base = TrainParams(**member["params"])
        result = tune_model(
            rows.X[mask], rows.y[mask], rows.t0[mask], rows.t1[mask], base,
            TuneParams(n_trials=cfg.n_trials, margin=cfg.margin, seed=seed,
                       storage=cfg.storage, study_name=study_name,
                       min_features=min(cfg.min_features, len(rows.features)),
                       drop_fraction=cfg.drop_fraction),
            weight=rows.weight[mask], feature_names=rows.features,
            study_suffix=f"{name.lower()}-{study_key}",
        )
        total_trials += result.n_trials
        total_selection += result.n_selection_evals
        if result.accepted:
            from ares_cli.ml.analyst import fit_final

            enhanced_models[name] = fit_final(
                rows.X[mask], rows.y[mask], result.params, rounds=result.enhanced.rounds,
                weight=rows.weight[mask], features=result.features,
            )
            member.update(params=asdict(result.params), features=result.feature_names,
                          feature_index=result.features, rounds=int(result.enhanced.rounds))
        else:
            enhanced_models[name] = models[name]
        member["enhanced"] = bool(result.accepted)
        enhanced_table["members"][name] = member
        per_member[name] = {
            "accepted": bool(result.accepted),
            "baseline_logloss": round(float(result.baseline.logloss), 6),
            "enhanced_logloss": round(float(result.enhanced.logloss), 6),
            "improvement": round(float(result.improvement), 6),
            "features_kept": len(result.features),
            "trials": result.n_trials,
            "new_trials": result.n_new_trials,
            "best_values": result.best_values,
            "study": result.study_name,
        }
    metrics = {
        "per_member": per_member,
        "trials_total": total_trials,
        "selection_evaluations_total": total_selection,
        "configurations_tried": total_trials + total_selection,
        "margin": cfg.margin,
    }
    enhanced_table["trials_total"] = total_trials
    enhanced_table["configurations_tried"] = total_trials + total_selection
    return enhanced_table, enhanced_models, metrics


# -- step 7 -------------------------------------------------------------------------------


def _recipes(table: dict[str, Any]) -> dict[str, tuple[TrainParams, list[int]] | None]:
    return {
        name: None if m["fallback"] else (TrainParams(**m["params"]), m["feature_index"])
        for name, m in table["members"].items()
    }


def member_predictions(
    X: np.ndarray, table: dict[str, Any], models: dict[str, bytes]
) -> np.ndarray:
    """(n, 5) P(up) of every final member model; fallback columns repeat GLOBAL."""
    out = np.empty((X.shape[0], len(MEMBERS)))
    for j, name in enumerate(MEMBERS):
        member = table["members"][name]
        source = "GLOBAL" if member["fallback"] else name
        index = table["members"][source]["feature_index"]
        out[:, j] = predict(models[source], X, features=index)
    return out


def _scores(frame: pl.DataFrame) -> np.ndarray:
    scores = frame.select(SCORE_FEATURES).to_numpy().astype(np.float64)
    return scores / scores.sum(axis=1, keepdims=True)


def ensemble_analyst(
    dataset: pl.DataFrame, table: dict[str, Any], models: dict[str, bytes], cfg: EnsembleConfig,
    *, n_splits: int, embargo: int, seed: int,
) -> tuple[pl.DataFrame, dict[str, Any], dict[str, Any]]:
    """(per-bar analyst probabilities, ensemble model, metrics).

    Train rows get out-of-fold probabilities (members by purged CV, the ensemble by the same
    purged folds); validation and test rows get the final models' predictions. Only the
    validation window is scored here: the test window is kept for the one final evaluation.
    """
    from ares_cli.ml.ensemble import StackedEnsemble, compare, evaluate, gated

    rows = training_rows(dataset)
    train_frame = dataset.filter(
        (pl.col("window") == "train") & pl.col("y").is_not_null() & ~pl.col("purged")
    ).sort("bar_index")
    member_oof, notes = members_oof(rows.X, rows.y, rows.t0, rows.t1, rows.regime,
                                    _recipes(table), n_splits=n_splits, embargo=embargo,
                                    weight=rows.weight)
    train_scores = _scores(train_frame)
    comparison = compare(member_oof, train_scores, rows.y.astype(int), rows.t0, rows.t1,
                         method=cfg.method, n_splits=n_splits, embargo=embargo, seed=seed,
                         C=cfg.C)
    model: dict[str, Any] = {"method": cfg.method, "members": list(MEMBERS)}
    stacker = None
    if cfg.method == "stacked":
        stacker = StackedEnsemble(C=cfg.C, random_state=seed).fit(
            member_oof, train_scores, rows.y.astype(int), weight=rows.weight
        )
        model["stacker"] = stacker.to_dict()

    def combine(members: np.ndarray, scores: np.ndarray) -> np.ndarray:
        return stacker.predict_proba(members, scores) if stacker else gated(members, scores)

    oof_p = _oof_ensemble(member_oof, train_scores, rows, cfg, n_splits, embargo, seed)
    later = dataset.filter(pl.col("window") != "train").sort("bar_index")
    later_members = member_predictions(
        later.select(rows.features).to_numpy().astype(np.float64), table, models
    )
    later_p = combine(later_members, _scores(later))

    columns = ["bar_index", "timestamp", "window", "regime", "y", "t1", "t1_index", "ret"]
    member_cols = [f"p_{m.lower()}" for m in MEMBERS]
    out = pl.concat([
        train_frame.select(columns).with_columns(
            p_up=pl.Series(oof_p), source=pl.lit("oof"),
            **{c: pl.Series(member_oof[:, j]) for j, c in enumerate(member_cols)},
        ),
        later.select(columns).with_columns(
            p_up=pl.Series(later_p), source=pl.lit("model"),
            **{c: pl.Series(later_members[:, j]) for j, c in enumerate(member_cols)},
        ),
    ]).sort("bar_index")

    prior = float(np.average(rows.y, weights=None))
    validation = out.filter((pl.col("window") == "validation") & pl.col("y").is_not_null())
    y_val = validation["y"].to_numpy().astype(int)
    scored = {
        "ensemble": evaluate(validation["p_up"].to_numpy(), y_val),
        "class_prior": evaluate(np.full(y_val.size, prior), y_val),
        "members": {m: evaluate(validation[c].to_numpy(), y_val)
                    for m, c in zip(MEMBERS, member_cols, strict=True)},
    }
    ens, base = scored["ensemble"], scored["class_prior"]
    metrics = {
        "method": cfg.method,
        "train_cv": comparison,
        "validation": scored,
        "validation_beats_prior": {
            "log_loss": bool(ens["log_loss"] < base["log_loss"]),
            "auc": bool(ens["auc"] is not None and ens["auc"] > 0.5),
        },
        "train_prior_up": round(prior, 4),
        "notes": notes,
    }
    return out, model, metrics


def _oof_ensemble(member_oof: np.ndarray, scores: np.ndarray, rows: TrainingRows,
                  cfg: EnsembleConfig, n_splits: int, embargo: int, seed: int) -> np.ndarray:
    """Out-of-fold ensemble probability on train rows (the stacker refit per purged fold)."""
    from ares_cli.ml.cv import PurgedKFold
    from ares_cli.ml.ensemble import StackedEnsemble, gated

    if cfg.method == "gated":
        return gated(member_oof, scores)
    out = np.full(rows.y.size, np.nan)
    for train, test in PurgedKFold(n_splits, embargo).split(rows.t0, rows.t1):
        if train.size == 0:
            continue
        stacker = StackedEnsemble(C=cfg.C, random_state=seed).fit(
            member_oof[train], scores[train], rows.y[train].astype(int),
            weight=rows.weight[train],
        )
        out[test] = stacker.predict_proba(member_oof[test], scores[test])
    return out
