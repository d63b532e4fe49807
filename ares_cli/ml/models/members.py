"""Named model members: a typed member table, per-member purged CV and out-of-fold matrices.

A member is one model of an ensemble: an analyst regime specialist trained on its regime's rows,
the analyst's global model trained on all rows, or (next) a tactician bag member. A member that
lacks the rows to train alone falls back to another member (`fallback_to`), which then serves
its rows. The same code fits the analyst's members (step 5), re-scores tuned recipes (step 6)
and builds the out-of-fold member matrix a stacker trains on (step 7).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ares_cli.ml.models.booster import (
    CVResult,
    PurgedBooster,
    _check_windows,
    _check_xy,
    fit_fold,
    predict_booster,
    predict_model,
    scores,
    select_by_schedule,
)
from ares_cli.ml.models.cv import PurgedKFold
from ares_cli.ml.models.parallel import fit_map
from ares_cli.ml.stats.edge_intervals import edge
from ares_cli.util.jsonutil import json_safe

__all__ = ["Member", "MemberFit", "MemberTable", "NestedOof", "fit_members", "member_fit_predict",
           "member_predictions", "members_oof", "nested_oof"]


@dataclass(frozen=True)
class Member:
    """One member: its recipe and feature columns, or the record that it falls back."""

    name: str
    fallback: bool
    reason: str  # why it falls back ("" when it has its own model)
    recipe: dict[str, Any]  # PurgedBooster.recipe()
    features: list[str] | None  # feature names it sees (None when it falls back)
    feature_index: list[int] | None  # their columns in the dataset's feature list
    rounds: int
    enhanced: bool | None = None  # step 6: whether a tuned recipe replaced the baseline
    # Step 6: features dropped per kept selection round (replayed inside each CV fold).
    selection: list[int] | None = None

    def booster(self) -> PurgedBooster:
        """The estimator this member's recipe describes (its features and rounds included)."""
        return PurgedBooster.from_recipe(self.recipe, features=self.feature_index,
                                         rounds=self.rounds)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "fallback": self.fallback, "reason": self.reason, "params": dict(self.recipe),
            "features": self.features, "feature_index": self.feature_index,
            "rounds": int(self.rounds),
        }
        if self.enhanced is not None:
            out["enhanced"] = self.enhanced
        if self.selection:
            out["selection"] = list(self.selection)
        return out

    @classmethod
    def from_dict(cls, name: str, data: Mapping[str, Any]) -> Member:
        return cls(name=name, fallback=bool(data["fallback"]), reason=str(data["reason"]),
                   recipe=dict(data["params"]), features=data["features"],
                   feature_index=data["feature_index"], rounds=int(data["rounds"]),
                   enhanced=data.get("enhanced"), selection=data.get("selection"))


@dataclass(frozen=True)
class MemberTable:
    """Every member of a set over one list of feature columns.

    `fallback_to` names the member that serves a fallen-back member's rows. The table is stored
    as canonical JSON (keys sorted), so it carries no member order: whoever lays members out as
    columns passes its own order (`names`).
    """

    features: list[str]
    members: dict[str, Member]
    train_rows: int
    fallback_to: str = "GLOBAL"
    trials_total: int | None = None
    configurations_tried: int | None = None

    def serving(self, name: str) -> str:
        """The member whose model serves `name` (itself unless it falls back)."""
        return self.fallback_to if self.members[name].fallback else name

    def own_models(self) -> list[str]:
        """Members that have a model of their own."""
        return [n for n, m in self.members.items() if not m.fallback]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "features": list(self.features),
            "members": {n: m.to_dict() for n, m in self.members.items()},
            "train_rows": int(self.train_rows),
        }
        if self.fallback_to != "GLOBAL":
            out["fallback_to"] = self.fallback_to
        if self.trials_total is not None:
            out["trials_total"] = int(self.trials_total)
        if self.configurations_tried is not None:
            out["configurations_tried"] = int(self.configurations_tried)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MemberTable:
        return cls(
            features=list(data["features"]),
            members={n: Member.from_dict(n, m) for n, m in data["members"].items()},
            train_rows=int(data["train_rows"]),
            fallback_to=str(data.get("fallback_to", "GLOBAL")),
            trials_total=data.get("trials_total"),
            configurations_tried=data.get("configurations_tried"),
        )


@dataclass
class MemberFit:
    """What `fit_members` learned: the table, each own model's bytes, CV results and metrics.

    `metrics[name]` holds the out-of-fold scores of the model serving that member's rows (its
    own, or the fallback's on those rows); "COMBINED" scores the column that routes every row
    to the model serving its group.
    """

    table: MemberTable
    models: dict[str, bytes]
    cv: dict[str, CVResult]
    oof: np.ndarray
    metrics: dict[str, dict[str, Any]]
    notes: list[str] = field(default_factory=list)


def fit_members(
    X: np.ndarray,
    y: np.ndarray,
    t0: np.ndarray,
    t1: np.ndarray,
    group: np.ndarray,
    base: PurgedBooster,
    *,
    names: Sequence[str],
    fallback_to: str,
    min_rows: int,
    feature_names: list[str],
    weight: np.ndarray | None = None,
) -> MemberFit:
    """Fit `fallback_to` on every row and each other member on the rows of its `group` value.

    A member with fewer than `min_rows` rows, a single class, or rows too few for a purged CV
    gets no model of its own: the `fallback_to` model serves its rows, and its metrics are that
    model's out-of-fold scores on them. Each member's CV runs on its own rows only, purged by
    their own `[t0, t1]`, with the embargo in bars as for every purged CV.
    """
    Xs, yv, w = _check_xy(X, y, weight, None)
    t0a, t1a = _check_windows(t0, t1, yv.size)
    groups = np.asarray(group, dtype=object)
    if groups.shape != (yv.size,):
        raise ValueError(f"group must have shape ({yv.size},), got {groups.shape}")
    unknown = sorted({str(g) for g in set(groups.tolist())} - set(names))
    if unknown:
        raise ValueError(f"group holds values outside {list(names)}: {unknown}")
    if fallback_to not in names:
        raise ValueError(f"fallback_to {fallback_to!r} is not one of the names {list(names)}")
    if isinstance(min_rows, bool) or int(min_rows) != min_rows or min_rows < base.config.n_splits:
        raise ValueError(
            f"min_rows must be an integer >= n_splits ({base.config.n_splits}), got {min_rows!r}"
        )
    everything = list(range(Xs.shape[1]))
    fallback = PurgedBooster(base.config, embargo=base.embargo,
                             random_state=base.random_state).fit(Xs, yv, t0a, t1a, w)
    oof, prior = fallback.cv_.oof.copy(), fallback.cv_.baseline_oof.copy()
    fold_group = fallback.cv_.fold.copy()
    models = {fallback_to: fallback.model_}
    cvs = {fallback_to: fallback.cv_}
    def scored(rows: np.ndarray, cv_rows: CVResult | None, *, fallen: bool) -> dict[str, Any]:
        """Out-of-fold scores of the model serving `rows`, beside the prior, with an edge."""
        if cv_rows is None:  # served by the fallback model: its values on these rows
            p, b, f = fallback.cv_.oof[rows], fallback.cv_.baseline_oof[rows], \
                fallback.cv_.fold[rows]
        else:
            p, b, f = cv_rows.oof, cv_rows.baseline_oof, cv_rows.fold
        ok = np.isfinite(p) & (f >= 0)
        return {
            **scores(yv[rows], p, b, f)[0],
            "rounds": fallback.rounds_ if cv_rows is None else int(cv_rows.rounds),
            "fallback": fallen,
            "constant": (fallback.cv_ if cv_rows is None else cv_rows).constant,
            "edge": edge(p[ok], b[ok], yv[rows][ok], t0a[rows][ok], t1a[rows][ok],
                         seed=base.random_state, baseline_name="class prior"),
        }

    every_row = np.arange(yv.size)
    metrics = {fallback_to: scored(every_row, fallback.cv_, fallen=False)}
    members: dict[str, Member] = {}
    for k, name in enumerate(names):
        if name == fallback_to:
            members[name] = Member(name, False, "", base.recipe(), list(feature_names),
                                   everything, fallback.rounds_)
            continue
        rows = np.flatnonzero(groups == name)
        reason = ""
        model: PurgedBooster | None = None
        if rows.size < min_rows:
            reason = f"{rows.size} rows < min_rows {int(min_rows)}"
        elif np.unique(yv[rows]).size < 2:
            reason = f"{rows.size} rows but a single class"
        else:
            try:
                model = PurgedBooster(base.config, embargo=base.embargo,
                                      random_state=base.random_state).fit(
                    Xs[rows], yv[rows], t0a[rows], t1a[rows], w[rows])
            except ValueError as exc:  # e.g. labels so long that purging empties every fold
                reason = f"purged CV impossible on its {rows.size} rows: {exc}"
        if model is None:
            metrics[name] = scored(rows, None, fallen=True)
            members[name] = Member(name, True, reason, base.recipe(), None, None,
                                   fallback.rounds_)
            continue
        oof[rows], prior[rows] = model.cv_.oof, model.cv_.baseline_oof
        fold_group[rows] = np.where(model.cv_.fold >= 0,
                                    (k + 1) * base.config.n_splits + model.cv_.fold, -1)
        models[name], cvs[name] = model.model_, model.cv_
        metrics[name] = scored(rows, model.cv_, fallen=False)
        members[name] = Member(name, False, "", base.recipe(), list(feature_names),
                               everything, model.rounds_)
    ok = np.isfinite(oof) & (fold_group >= 0)
    metrics["COMBINED"] = {
        **scores(yv, oof, prior, fold_group, "group")[0], "fallback": False,
        "edge": edge(oof[ok], prior[ok], yv[ok], t0a[ok], t1a[ok], seed=base.random_state),
    }
    table = MemberTable(list(feature_names), {n: members[n] for n in names}, int(yv.size),
                        fallback_to)
    notes = [f"{name}: {note}" for name, cv in cvs.items() for note in cv.notes]
    return MemberFit(table, models, cvs, oof, json_safe(metrics), notes)


def member_predictions(X: np.ndarray, table: MemberTable, models: Mapping[str, bytes],
                       names: Sequence[str]) -> np.ndarray:
    """(n, len(names)) P(y = 1) of the final member models, columns in `names` order; a
    fallen-back member's column repeats its fallback's."""
    out = np.empty((X.shape[0], len(names)))
    for j, name in enumerate(names):
        source = table.serving(name)
        out[:, j] = predict_model(models[source], X,
                                  features=table.members[source].feature_index)
    return out


FitPredict = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass
class NestedOof:
    """Out-of-fold member predictions, and inside each outer fold's training rows their own.

    `outer[i]` comes from members fitted on the purged training rows of the outer fold that
    tests row i. `folds[k]` = (train, test, inner): `inner` (len(train), members) predicts the
    outer training rows by an inner purged CV inside `train` alone (NaN where an inner fold had
    no training rows), so a combiner fitted on `inner` for outer fold k never sees a member
    value that was learned from fold k's own rows (None when not nested).

    Extra rows (bars without a label, each with a window it must not have learned from) get
    `extra[j]` from the first outer fold none of whose training rows overlaps that window or
    starts within the embargo after it; `extra_fold[j]` names the fold (-1: no fold is clean).
    """

    outer: np.ndarray
    folds: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]]
    notes: list[str] = field(default_factory=list)
    extra: np.ndarray | None = None
    extra_fold: np.ndarray | None = None


def clean_for(train_t0: np.ndarray, train_t1: np.ndarray, start: np.ndarray, end: np.ndarray,
              embargo: int) -> np.ndarray:
    """Which windows [start, end] no training row touches: no row with t0 <= end + embargo
    and t1 >= start (training rows sorted by t0)."""
    if train_t0.size == 0:
        return np.ones(start.size, bool)
    reach = np.maximum.accumulate(train_t1)
    idx = np.searchsorted(train_t0, end + embargo, side="right")
    return (idx == 0) | (reach[np.maximum(idx - 1, 0)] < start)


def nested_oof(
    fit_predict: FitPredict, t0: np.ndarray, t1: np.ndarray, width: int, *, n_splits: int,
    embargo: int, inner_splits: int | None, extra_rows: np.ndarray | None = None,
    extra_window: tuple[np.ndarray, np.ndarray] | None = None,
) -> NestedOof:
    """Purged out-of-fold predictions of `fit_predict(fit_rows, predict_rows) -> (rows, width)`,
    optionally with inner folds inside each outer training set, and for `extra_rows` (row ids
    `fit_predict` can predict but never fits on) with their `extra_window` (see `NestedOof`)."""
    t0a, t1a = np.asarray(t0), np.asarray(t1)
    outer = np.full((t0a.size, width), np.nan)
    folds: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = []
    notes: list[str] = []
    n_extra = 0 if extra_rows is None else len(extra_rows)
    extra = np.full((n_extra, width), np.nan)
    extra_fold = np.full(n_extra, -1, dtype=np.int64)
    # Every fit_predict call (outer folds and the inner folds inside each) is independent:
    # planned first, run on threads (ares_cli.ml.models.parallel), then placed by position.
    jobs: list[tuple[np.ndarray, np.ndarray]] = []
    plans: list[tuple[np.ndarray, np.ndarray, np.ndarray, int, list[tuple[np.ndarray, int]]]
                | None] = []
    for k, (train, test) in enumerate(PurgedKFold(n_splits, embargo).split(t0a, t1a)):
        if train.size == 0:
            outer[test] = 0.5
            notes.append(f"fold {k}: no training rows after purge and embargo; predicted 0.5")
            folds.append((train, test, None))
            plans.append(None)
            continue
        mine = np.zeros(0, dtype=np.int64)
        if n_extra and extra_window is not None and extra_rows is not None:
            free = (extra_fold < 0) & clean_for(t0a[train], t1a[train], extra_window[0],
                                               extra_window[1], embargo)
            mine = np.flatnonzero(free)
            extra_fold[mine] = k
        jobs.append((train, np.concatenate([test, np.asarray(extra_rows)[mine]])
                     if mine.size else test))
        outer_job = len(jobs) - 1
        inner_jobs: list[tuple[np.ndarray, int]] = []
        if inner_splits:
            if train.size < inner_splits:
                notes.append(f"fold {k}: {train.size} training rows, too few for "
                             f"{inner_splits} inner folds")
            else:
                for fit_rows, predict_rows in PurgedKFold(inner_splits, embargo).split(
                        t0a[train], t1a[train]):
                    if fit_rows.size:
                        jobs.append((train[fit_rows], train[predict_rows]))
                        inner_jobs.append((predict_rows, len(jobs) - 1))
        plans.append((train, test, mine, outer_job, inner_jobs))
        folds.append((train, test, None))
    results = fit_map(lambda job: fit_predict(*job), jobs)
    for k, plan in enumerate(plans):
        if plan is None:
            continue
        train, test, mine, outer_job, inner_jobs = plan
        predicted = results[outer_job]
        outer[test] = predicted[: test.size]
        extra[mine] = predicted[test.size:]
        inner = None
        if inner_splits:
            inner = np.full((train.size, width), np.nan)
            for predict_rows, job in inner_jobs:
                inner[predict_rows] = results[job]
        folds[k] = (train, test, inner)
    asked = extra_rows is not None
    return NestedOof(outer, folds, notes, extra if asked else None,
                     extra_fold if asked else None)


def member_fit_predict(
    X: np.ndarray, y: np.ndarray, t0: np.ndarray, t1: np.ndarray, group: np.ndarray,
    table: MemberTable, *, names: Sequence[str], weight: np.ndarray | None = None,
    notes: list[str] | None = None,
) -> FitPredict:
    """`fit_predict(fit_rows, predict_rows)` for a member table: each member trained by its own
    recipe (inner early stopping, as in its CV) on the fit rows of its group (all fit rows for
    the fallback member), predicting every predict row; a fallen-back member repeats its
    fallback's column. A member with too few fit rows of its group, or one class, predicts the
    class rate of those rows (of all fit rows when it has none); noted in `notes`.
    """
    Xall, yv, w = _check_xy(X, y, weight, None)
    t0a, t1a = _check_windows(t0, t1, yv.size)
    groups = np.asarray(group, dtype=object)
    if sorted(names) != sorted(table.members):
        raise ValueError(f"names {list(names)} are not the table's members {list(table.members)}")
    log = notes if notes is not None else []
    served = list(names).index(table.fallback_to)

    def fit_predict(fit_rows: np.ndarray, predict_rows: np.ndarray) -> np.ndarray:
        out = np.empty((predict_rows.size, len(names)))
        for j, name in enumerate(names):
            member = table.members[name]
            if member.fallback:
                continue
            tr = fit_rows if name == table.fallback_to else fit_rows[groups[fit_rows] == name]
            if tr.size < 2 or np.unique(yv[tr]).size < 2:
                out[:, j] = float(yv[tr].mean()) if tr.size else float(yv[fit_rows].mean())
                log.append(f"member {name}: {tr.size} fit rows of one class or none; "
                           "predicted the class rate")
                continue
            booster = member.booster()
            columns = member.feature_index
            if member.selection:  # choose the subset on these fit rows, as step 6 did on all
                columns = select_by_schedule(Xall, yv, w, tr, booster.config,
                                             booster.random_state, member.rounds,
                                             member.selection)
            Xs = Xall[:, columns]
            fitted, _, note = fit_fold(Xs, yv, w, t0a, t1a, tr, booster.config,
                                       booster.random_state)
            if note:
                log.append(f"member {name}: {note}")
            out[:, j] = predict_booster(fitted, Xs[predict_rows])
        for j, name in enumerate(names):
            if table.members[name].fallback:
                out[:, j] = out[:, served]
        return out

    return fit_predict


def members_oof(
    X: np.ndarray,
    y: np.ndarray,
    t0: np.ndarray,
    t1: np.ndarray,
    group: np.ndarray,
    table: MemberTable,
    *,
    names: Sequence[str],
    n_splits: int,
    embargo: int,
    weight: np.ndarray | None = None,
    inner_splits: int | None = None,
    extra: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> tuple[NestedOof, list[str]]:
    """Out-of-fold P(y = 1) of every member on every row (`names` order), nested when
    `inner_splits` is given (see `NestedOof`; `member_fit_predict` for how members are fitted).

    `extra` = (X, group, window start, window end) of rows without a label to predict out of
    fold as well: each from a fold none of whose training labels touches its window.
    """
    notes: list[str] = []
    n = np.asarray(y).size
    if extra is not None:
        X_all = np.vstack([np.asarray(X, dtype=np.float64), np.asarray(extra[0], np.float64)])
        m = X_all.shape[0] - n
        y_all = np.concatenate([np.asarray(y, dtype=np.float64), np.zeros(m)])
        w_all = np.concatenate([np.ones(n) if weight is None else np.asarray(weight), np.ones(m)])
        g_all = np.concatenate([np.asarray(group, dtype=object), np.asarray(extra[1], object)])
        t0_all = np.concatenate([np.asarray(t0), np.asarray(extra[2])])
        t1_all = np.concatenate([np.asarray(t1), np.asarray(extra[3])])
        fit_predict = member_fit_predict(X_all, y_all, t0_all, t1_all, g_all, table,
                                         names=names, weight=w_all, notes=notes)
        rows, window = np.arange(n, n + m), (np.asarray(extra[2]), np.asarray(extra[3]))
    else:
        fit_predict = member_fit_predict(X, y, t0, t1, group, table, names=names,
                                         weight=weight, notes=notes)
        rows, window = None, None
    nested = nested_oof(fit_predict, t0, t1, len(names), n_splits=n_splits, embargo=embargo,
                        inner_splits=inner_splits, extra_rows=rows, extra_window=window)
    counted = Counter(nested.notes + notes)
    return nested, [note if times == 1 else f"{note} ({times} times)"
                    for note, times in sorted(counted.items())]
