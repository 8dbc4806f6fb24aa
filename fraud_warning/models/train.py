"""Training: LightGBM trees, then calibration and an operating threshold, each on its own rows.

Rows are split three ways. The trees learn on `train`; `valid` stops boosting early,
fits the calibration and picks the threshold; the figures a card reports come from
`report`, rows nothing was fitted or chosen on. A feed is split in time order (train on
the past, report on the future, as the model will be used); a plain table has no time,
so it gets nested stratified K-fold (each outer fold reported, the inner split of the
other folds used for validation).

Training is deterministic: fixed seeds, `deterministic=True`, one thread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from fraud_warning.models.calibrate import Calibration, Method
from fraud_warning.models.metrics import pick_threshold, summary

Array = npt.NDArray[np.float64]
Index = npt.NDArray[np.intp]
MAX_TREES = 200  # shipped models stay small: text format, reviewable, fast to load
EARLY_STOP = 30


@dataclass(frozen=True)
class Settings:
    """What a training run may vary; everything else is fixed for determinism."""

    seed: int = 7
    max_trees: int = MAX_TREES
    learning_rate: float = 0.05
    num_leaves: int = 15
    min_data_in_leaf: int = 20
    feature_fraction: float = 0.8
    lambda_l2: float = 1.0
    calibration: Method = "platt"
    min_precision: float | None = None  # None: the threshold with the best F1
    threshold_rows: str = "the validation rows"  # where calibration and threshold are fitted

    def params(self) -> dict[str, float | int | str | bool]:
        return {
            "objective": "binary",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_data_in_leaf,
            "feature_fraction": self.feature_fraction,
            "bagging_fraction": 0.8,
            "bagging_freq": 1,
            "lambda_l2": self.lambda_l2,
            "seed": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": 1,
            "verbosity": -1,
        }

    def threshold_rule(self) -> str:
        where = f"on {self.threshold_rows}"
        if self.min_precision is None:
            return f"best F1 {where}"
        return f"lowest threshold with precision >= {self.min_precision:g} {where}"


@dataclass(frozen=True)
class Trained:
    model_text: str  # LightGBM text format, cut at the best iteration
    trees: int
    calibration: Calibration
    threshold: float

    def booster(self) -> Any:
        import lightgbm as lgb

        return lgb.Booster(model_str=self.model_text)

    def predict(self, x: Array) -> Array:
        if x.shape[0] == 0:
            return np.zeros(0)
        margin = np.asarray(self.booster().predict(x, raw_score=True, num_threads=1))
        return np.clip(self.calibration.apply(margin), 0.0, 1.0)


def fit(
    x: Array, y: npt.NDArray[np.int8], train: Index, valid: Index, names: list[str], s: Settings
) -> Trained:
    """Trees on `train`; early stopping, calibration and threshold on `valid`."""
    if y[train].sum() == 0 or y[valid].sum() == 0:
        raise ValueError("both the training and the validation rows need positive examples")
    booster, best = early_stopped(x, y, train, valid, names, s)
    text = booster.model_to_string(num_iteration=best)
    margin = np.asarray(booster.predict(x[valid], raw_score=True, num_iteration=best))
    calibration = Calibration.fit(s.calibration, margin, y[valid])
    threshold = pick_threshold(y[valid], calibration.apply(margin), min_precision=s.min_precision)
    return Trained(text, int(best), calibration, threshold)


def early_stopped(
    x: Array, y: npt.NDArray[np.int8], train: Index, valid: Index, names: list[str], s: Settings
) -> tuple[Any, int]:
    """A booster fitted on `train`, early-stopped on `valid`, and its best tree count."""
    import lightgbm as lgb

    params = s.params()
    dtrain = lgb.Dataset(x[train], y[train], feature_name=names, params=params, free_raw_data=True)
    dvalid = lgb.Dataset(x[valid], y[valid], reference=dtrain, params=params)
    booster = lgb.train(
        params,
        dtrain,
        num_boost_round=s.max_trees,
        valid_sets=[dvalid],
        callbacks=[lgb.early_stopping(EARLY_STOP, first_metric_only=True, verbose=False)],
    )
    return booster, int(booster.best_iteration or booster.current_iteration())


def fold_summary(y: npt.NDArray[np.int8], per_fold: list[dict[str, Any]]) -> dict[str, Any]:
    """Rows, positives, and each figure's mean and spread over the outer folds."""
    report: dict[str, Any] = {"rows": int(y.size), "positives": int(y.sum())}
    for key in ("auc", "average_precision", "precision", "recall", "f1"):
        values = np.array([f[key] for f in per_fold], dtype=np.float64)
        report[key] = float(np.nanmean(values))
        report[f"{key}_sd"] = float(np.nanstd(values))
    return report


# -- splits ------------------------------------------------------------------------------


def time_split(ts: Array, fractions: tuple[float, float] = (0.6, 0.8)) -> tuple[Index, ...]:
    """(train, valid, report) by event time: the first 60 %, the next 20 %, the last 20 %."""
    order = np.argsort(ts, kind="mergesort")
    n = order.size
    a, b = int(n * fractions[0]), int(n * fractions[1])
    return order[:a], order[a:b], order[b:]


def stratified_folds(y: npt.NDArray[np.int8], k: int, seed: int) -> list[Index]:
    """K disjoint index sets with the same share of positives each."""
    rng = np.random.default_rng(seed)
    folds: list[list[int]] = [[] for _ in range(k)]
    for cls in (0, 1):
        members = np.flatnonzero(y == cls)
        rng.shuffle(members)
        for i, part in enumerate(np.array_split(members, k)):
            folds[(i + cls) % k].extend(part.tolist())
    return [np.sort(np.asarray(f, dtype=np.intp)) for f in folds]


def stratified_holdout(
    y: npt.NDArray[np.int8], rows: Index, share: float, seed: int
) -> tuple[Index, Index]:
    """Split `rows` into (fit, hold-out) keeping the share of positives."""
    rng = np.random.default_rng(seed)
    keep: list[int] = []
    hold: list[int] = []
    for cls in (0, 1):
        members = rows[y[rows] == cls].copy()
        rng.shuffle(members)
        cut = round(members.size * share)
        hold.extend(members[:cut].tolist())
        keep.extend(members[cut:].tolist())
    return np.sort(np.asarray(keep, dtype=np.intp)), np.sort(np.asarray(hold, dtype=np.intp))


# -- the two regimes ---------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """A trained model plus the honest figures about it."""

    trained: Trained
    method: str
    split: str
    report: dict[str, Any]  # summary() on rows the model never used
    folds: list[dict[str, Any]] = field(default_factory=list)


def train_in_time(
    x: Array, y: npt.NDArray[np.int8], ts: Array, names: list[str], s: Settings
) -> Outcome:
    train, valid, report = time_split(ts)
    trained = fit(x, y, train, valid, names, s)
    figures = summary(y[report], trained.predict(x[report]), trained.threshold)
    split = (
        f"time-ordered: trees on the first 60 % of rows ({train.size}), early stopping, "
        f"calibration and threshold on the next 20 % ({valid.size}), "
        f"figures on the last 20 % ({report.size})"
    )
    return Outcome(trained, "time-ordered hold-out (last 20 % of rows)", split, figures)


Recipe = Callable[[Index, int], tuple[Trained, Settings]]


def nested_folds(
    x: Array, y: npt.NDArray[np.int8], k: int, seed: int, recipe: Recipe,
    record: Sequence[str] = (),
) -> tuple[Trained, Settings, dict[str, Any], list[dict[str, Any]]]:  # fmt: skip
    """Nested K-fold with any recipe: each outer fold is scored by `recipe(other folds'
    rows, seed + fold)` (its settings' `record` fields noted per fold), then the shipped
    model is `recipe(every row, seed)`. Returns it, its settings, the summary, the folds."""
    every = np.arange(y.size, dtype=np.intp)
    per_fold: list[dict[str, Any]] = []
    for i, test in enumerate(stratified_folds(y, k, seed)):
        model, chosen = recipe(np.setdiff1d(every, test), seed + i + 1)
        figures = summary(y[test], model.predict(x[test]), model.threshold)
        picked = {key: getattr(chosen, key) for key in record}
        per_fold.append({"fold": i + 1, "trees": model.trees, **figures, **picked})
    final, chosen = recipe(every, seed)
    return final, chosen, fold_summary(y, per_fold), per_fold


def train_nested_cv(
    x: Array, y: npt.NDArray[np.int8], names: list[str], s: Settings, k: int = 5
) -> Outcome:
    """Outer K folds are reported; inside each, a stratified 25 % of the rest validates.

    The shipped model is then fitted the same way on all rows (a 25 % stratified
    validation split inside them), so its figures are the outer folds' average.
    """

    def recipe(rows: Index, seed: int) -> tuple[Trained, Settings]:
        fit_rows, valid = stratified_holdout(y, rows, 0.25, seed)
        return fit(x, y, fit_rows, valid, names, s), s

    final, _, report, per_fold = nested_folds(x, y, k, s.seed, recipe)
    split = (
        f"nested stratified {k}-fold: each outer fold reported by a model whose trees, "
        "calibration and threshold used only the other folds (75 % fit / 25 % validation); "
        f"the shipped model: the same recipe on all {y.size} rows"
    )
    return Outcome(
        final,
        f"nested stratified {k}-fold cross-validation (mean of outer folds)",
        split,
        report,
        per_fold,
    )


__all__ = [
    "MAX_TREES",
    "Outcome",
    "Settings",
    "Trained",
    "fit",
    "nested_folds",
    "stratified_folds",
    "stratified_holdout",
    "time_split",
    "train_in_time",
    "train_nested_cv",
]
