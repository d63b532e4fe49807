"""The analyst (steps 5-7) as pure functions over the analyst dataset: train, enhance, combine.

The analyst predicts the direction of a bar's triple-barrier label (1 = up, 0 = down). Its
members are one XGBoost specialist per regime and a global model; a regime without enough
training rows has no model of its own and is served by the global model. Everything reported is
out-of-fold on the train window or scored on the validation window; the test window is kept for
the one final evaluation. Nothing here reads or writes files (Optuna storage named by the config
aside).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from ares_cli.errors import DataError, InsufficientData
from ares_cli.ml.features.causal import feature_columns
from ares_cli.ml.features.regimes import REGIMES, SCORE_COLUMNS
from ares_cli.ml.models.booster import BoostConfig, PurgedBooster
from ares_cli.ml.models.ensemble import Combined
from ares_cli.ml.models.members import MemberTable, fit_members, member_predictions, members_oof
from ares_cli.ml.models.modelset import ModelSet
from ares_cli.ml.stats.edge_intervals import edge
from ares_cli.util.jsonutil import json_safe

if TYPE_CHECKING:
    from ares_cli.ml.models.ensemble import EnsembleConfig
    from ares_cli.ml.models.tuning import EnhanceConfig

__all__ = ["MEMBERS", "enhance_analyst", "ensemble_analyst", "train_analyst", "training_rows"]

# The analyst's members, in column order: the four regime specialists, then the global model.
MEMBERS: tuple[str, ...] = (*REGIMES, "GLOBAL")
SCORE_FEATURES = [f"f_regime_{c}" for c in SCORE_COLUMNS]
# Fewer labelled training rows per CV fold than this leave nothing to learn or to score.
MIN_ROWS_PER_FOLD = 20


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


def _training_frame(dataset: pl.DataFrame) -> pl.DataFrame:
    return dataset.filter(
        (pl.col("window") == "train") & pl.col("y").is_not_null() & ~pl.col("purged")
    ).sort("bar_index")


def training_rows(dataset: pl.DataFrame) -> TrainingRows:
    """The rows every analyst fit may use: labelled, unpurged, inside the train window."""
    rows = _training_frame(dataset)
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


# -- step 5 -------------------------------------------------------------------------------


def train_analyst(
    dataset: pl.DataFrame, cfg: BoostConfig, *, embargo: int, seed: int, min_rows: int
) -> tuple[ModelSet, dict[str, Any]]:
    """(model set of the baseline specialists, metrics).

    The member table says for each member which features, recipe and rounds serve it, and
    whether it falls back to the global model.
    """
    rows = training_rows(dataset)
    need = MIN_ROWS_PER_FOLD * cfg.n_splits
    if rows.y.size < need:
        from ares_cli.ml.features.regimes import data_span

        window = dataset.filter(pl.col("window") == "train")["timestamp"]
        raise InsufficientData(
            f"the train window covers {data_span(window)} and holds {rows.y.size} labelled "
            f"rows: analyst-train's purged {cfg.n_splits}-fold CV needs at least {need} "
            f"({MIN_ROWS_PER_FOLD} a fold); collect more data, widen split.train or narrow the "
            "label barriers"
        )
    base = PurgedBooster(cfg, embargo=embargo, random_state=seed)
    fitted = fit_members(rows.X, rows.y, rows.t0, rows.t1, rows.regime, base, names=MEMBERS,
                         fallback_to="GLOBAL", min_rows=max(min_rows, cfg.n_splits),
                         feature_names=rows.features, weight=rows.weight)
    table = fitted.table
    metrics = {
        "data": {
            "train_rows": int(rows.y.size),
            "fallback_regimes": {r: table.members[r].reason for r in REGIMES
                                 if table.members[r].fallback},
            "notes": fitted.notes,
        },
        "train": {"up_share": round(float(rows.y.mean()), 4)},
        "train_cv": {"per_member": fitted.metrics},
    }
    return ModelSet(table.to_dict(), fitted.models), json_safe(metrics)


# -- step 6 -------------------------------------------------------------------------------


def enhance_analyst(
    dataset: pl.DataFrame, models: ModelSet, cfg: EnhanceConfig, *, seed: int,
    study_name: str, study_key: str,
    progress: Callable[[float, str], None] = lambda fraction, message: None,
    workers: int = 1, work_dir: Path | None = None,
) -> tuple[ModelSet, dict[str, Any]]:
    """Tune and prune every member that has its own model; keep the baseline unless the
    purged-CV log-loss improves by at least `cfg.margin`."""
    from ares_cli.ml.models.members import Member
    from ares_cli.ml.models.tuning import tune_model

    rows = training_rows(dataset)
    table = MemberTable.from_dict(models.table)
    if rows.features != table.features:
        raise DataError("the dataset's features differ from those the baseline was trained on; "
                        "re-run analyst-train")
    members: dict[str, Member] = {}
    enhanced_models: dict[str, bytes] = {}
    per_member: dict[str, Any] = {}
    total_trials = total_selection = 0
    for position, name in enumerate(MEMBERS):
        member = table.members[name]
        if member.fallback:
            members[name] = member
            continue
        progress(position / len(MEMBERS), f"tuning {name}")
        mask = np.ones(rows.y.size, bool) if name == table.fallback_to else rows.regime == name
        base = member.booster()
        result = tune_model(
            rows.X[mask], rows.y[mask], rows.t0[mask], rows.t1[mask],
            PurgedBooster(base.config, embargo=base.embargo, random_state=base.random_state),
            cfg, seed=seed, study_name=f"{study_name}-{name.lower()}-{study_key}",
            weight=rows.weight[mask], feature_names=rows.features, workers=workers,
            work_dir=work_dir,
        )
        total_trials += result.n_trials
        total_selection += result.n_selection_evals
        if result.accepted:
            tuned = PurgedBooster(result.booster.config, embargo=base.embargo,
                                  random_state=base.random_state, features=result.features)
            tuned.fit_final(rows.X[mask], rows.y[mask], rows.weight[mask],
                            rounds=result.enhanced.rounds)
            enhanced_models[name] = tuned.model_
            schedule = [len(step["dropped"]) for step in result.selection[1:]
                        if step["kept"] and "dropped" in step]
            members[name] = Member(name, False, "", tuned.recipe(), result.feature_names,
                                   result.features, int(result.enhanced.rounds), enhanced=True,
                                   selection=schedule or None)
        else:
            enhanced_models[name] = models.models[name]
            members[name] = Member(name, False, "", member.recipe, member.features,
                                   member.feature_index, member.rounds, enhanced=False)
        per_member[name] = {
            "accepted": bool(result.accepted),
            "rejected_because": result.rejected_because,
            "baseline_logloss": round(float(result.baseline.logloss), 6),
            "enhanced_logloss": round(float(result.enhanced.logloss), 6),
            "class_prior_logloss": round(float(result.enhanced.baseline_logloss), 6),
            "improvement": round(float(result.improvement), 6),
            "baseline_constant": result.baseline.constant,
            "enhanced_constant": result.enhanced.constant,
            "features_kept": len(result.features),
            # The enhanced score is the best of this many configurations scored on the same
            # folds: optimistic by construction (step 14 deflates by the trial count).
            "chosen_among": result.n_trials + result.n_selection_evals,
            "trials": result.n_trials,
            "new_trials": result.n_new_trials,
            "best_values": result.best_values,
            "study": result.study_name,
        }
    enhanced = MemberTable(table.features, members, table.train_rows, table.fallback_to,
                           trials_total=total_trials,
                           configurations_tried=total_trials + total_selection)
    metrics = {
        "data": {
            "trials_total": total_trials,
            "selection_evaluations_total": total_selection,
            "configurations_tried": total_trials + total_selection,
            "margin": cfg.margin,
        },
        "train_cv": {"per_member": per_member},
    }
    return ModelSet(enhanced.to_dict(), enhanced_models), json_safe(metrics)


# -- step 7 -------------------------------------------------------------------------------


def _scores(frame: pl.DataFrame) -> np.ndarray:
    scores = frame.select(SCORE_FEATURES).to_numpy().astype(np.float64)
    return scores / scores.sum(axis=1, keepdims=True)


def ensemble_analyst(
    dataset: pl.DataFrame, models: ModelSet, cfg: EnsembleConfig,
    *, n_splits: int, embargo: int, seed: int, horizon: int, lookback: int = 0,
) -> Combined:
    """Per-bar analyst probabilities, the ensemble model and metrics.

    The verdict is "edge" only when the 95 % block-bootstrap interval of the validation
    log-loss gain over the class prior excludes no gain (step 7 also warns on "no edge").

    Train rows get out-of-fold probabilities (members by purged CV, the ensemble by the same
    purged folds, fitted with the same weights as the shipped stacker); validation and test rows
    get the final models' predictions. Train-window bars without a label (purged, or timed out
    under labels.vertical = "drop") get theirs from a fold none of whose training labels touches
    the `horizon` bars after them (nor starts within the embargo after those); a bar no fold is
    clean for has none (`source` "none"). Only the validation window is scored here.
    """
    from ares_cli.ml.models.ensemble import StackedEnsemble, combine_oof, compare, evaluate, gated

    rows = training_rows(dataset)
    table = MemberTable.from_dict(models.table)
    train_frame = _training_frame(dataset)
    unlabelled = dataset.filter(
        (pl.col("window") == "train") & (pl.col("y").is_null() | pl.col("purged"))
    ).sort("bar_index")
    u_bar = unlabelled["bar_index"].to_numpy().astype(np.int64)
    nested, notes = members_oof(rows.X, rows.y, rows.t0, rows.t1, rows.regime, table,
                                names=MEMBERS, n_splits=n_splits, embargo=embargo,
                                weight=rows.weight,
                                inner_splits=cfg.inner_splits if cfg.method == "stacked" else None,
                                extra=(unlabelled.select(rows.features).to_numpy(),
                                       unlabelled["regime"].to_numpy().astype(str),
                                       u_bar, u_bar + horizon))
    member_oof = nested.outer
    # Rows of an outer fold with no training rows hold placeholders, not predictions.
    predicted = np.ones(rows.y.size, bool)
    for fold_train, fold_test, _ in nested.folds:
        if fold_train.size == 0:
            predicted[fold_test] = False
    train_scores = _scores(train_frame)
    labels = rows.y.astype(int)
    assert nested.extra is not None and nested.extra_fold is not None
    oof = combine_oof(member_oof, train_scores, labels, rows.t0, rows.t1, method=cfg.method,
                      members=MEMBERS, context_names=REGIMES, n_splits=n_splits,
                      embargo=embargo, seed=seed, weight=rows.weight, C=cfg.C,
                      folds=nested.folds,
                      extra=(np.nan_to_num(nested.extra, nan=0.5), _scores(unlabelled),
                             nested.extra_fold))
    u_ok = nested.extra_fold >= 0
    comparison = {"n_splits": n_splits, "embargo": embargo, "seed": seed, "weighted": True,
                  **compare(member_oof, labels, oof, MEMBERS, method=cfg.method)}
    model: dict[str, Any] = {"method": cfg.method, "members": list(MEMBERS)}
    stacker = None
    if cfg.method == "stacked":
        stacker = StackedEnsemble(C=cfg.C, random_state=seed, members=MEMBERS,
                                  context=REGIMES).fit(member_oof[predicted],
                                                       train_scores[predicted],
                                                       labels[predicted],
                                                       weight=rows.weight[predicted])
        model["stacker"] = stacker.to_dict()

    def combine(members: np.ndarray, scores: np.ndarray) -> np.ndarray:
        if stacker is not None:
            return stacker.predict_proba(members, scores)
        return gated(members[:, : len(REGIMES)], scores)

    later = dataset.filter(pl.col("window") != "train").sort("bar_index")
    later_members = member_predictions(
        later.select(rows.features).to_numpy().astype(np.float64), table, models.models, MEMBERS
    )
    later_p = combine(later_members, _scores(later))

    columns = ["bar_index", "timestamp", "window", "regime", "y", "t1", "t1_index", "ret"]
    member_cols = [f"p_{m.lower()}" for m in MEMBERS]
    out = pl.concat([
        train_frame.select(columns).with_columns(
            p_up=pl.Series(oof.ensemble).fill_nan(None), source=pl.lit("oof"),
            **{c: pl.Series(np.where(predicted, member_oof[:, j], np.nan)).fill_nan(None)
               for j, c in enumerate(member_cols)},
        ),
        unlabelled.select(columns).with_columns(
            p_up=pl.Series(np.where(u_ok, oof.extra, np.nan)).fill_nan(None),
            source=pl.Series(np.where(u_ok, "oof", "none")),
            **{c: pl.Series(np.where(u_ok, nested.extra[:, j], np.nan)).fill_nan(None)
               for j, c in enumerate(member_cols)},
        ),
        later.select(columns).with_columns(
            p_up=pl.Series(later_p), source=pl.lit("model"),
            **{c: pl.Series(later_members[:, j]) for j, c in enumerate(member_cols)},
        ),
    ]).sort("bar_index")

    prior = float(np.mean(rows.y))
    validation = out.filter((pl.col("window") == "validation") & pl.col("y").is_not_null())
    y_val = validation["y"].to_numpy().astype(int)
    p_val = validation["p_up"].to_numpy()
    prior_val = np.full(y_val.size, prior)
    v0, v1 = validation["bar_index"].to_numpy(), validation["t1_index"].to_numpy()
    edges = {
        "log_loss": edge(p_val, prior_val, y_val, v0, v1, metric="log_loss", seed=seed,
                         model_name="ensemble"),
        "auc": edge(p_val, prior_val, y_val, v0, v1, metric="auc", seed=seed,
                    min_block=lookback + horizon,
                    model_name="ensemble", n_boot=1000),
    }
    verdict = edges["log_loss"]["verdict"]
    scored = {
        "ensemble": evaluate(p_val, y_val),
        "class_prior": evaluate(prior_val, y_val),
        "members": {m: evaluate(validation[c].to_numpy(), y_val)
                    for m, c in zip(MEMBERS, member_cols, strict=True)},
        "edge": edges,
        "verdict": verdict,
    }
    used = np.isfinite(oof.ensemble)
    comparison["edge"] = edge(oof.ensemble[used], oof.baseline[used], labels[used],
                              rows.t0[used], rows.t1[used], seed=seed, model_name="ensemble")
    metrics = {
        "data": {"method": cfg.method, "notes": notes,
                 "unlabelled_train_bars": int(u_bar.size),
                 "unlabelled_train_bars_with_probability": int(u_ok.sum())},
        "train": {"prior_up": round(prior, 4)},
        "train_cv": comparison,
        "validation": scored,
    }
    return Combined(out, model, json_safe(metrics))
