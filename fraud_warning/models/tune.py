"""`--tune` (CSV only): settings, tree count, calibration and threshold from inner K-fold.

The default table recipe (`train.train_nested_cv`) fits each model's trees on 75 % of its
rows and uses the other 25 % for early stopping, calibration and the threshold. With
`--tune`, `tune_fit` sees only the rows it is given (an outer fold's training rows, or
every row for the shipped model) and:

1. splits them into `INNER` stratified folds; for each candidate of a small fixed grid
   (`GRID`, the project defaults first), trains on three folds with early stopping on
   the fourth, so every row gets one out-of-fold margin;
2. keeps the candidate with the best out-of-fold average precision (ties: the earlier);
3. refits it on all its rows, with the inner folds' mean best tree count (no rows are
   held out of the trees);
4. fits the calibration and picks the threshold (best F1, or `--min-precision`) on the
   chosen candidate's out-of-fold margins: scores of rows no tree of theirs saw.

`train_nested_cv_tuned` calls `tune_fit` with an outer fold's training rows only, so
nothing that is reported was tuned on. Deterministic like the rest: fixed seeds, one
thread, the same grid in the same order.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import numpy.typing as npt

from fraud_warning.models.calibrate import Calibration
from fraud_warning.models.metrics import average_precision, pick_threshold
from fraud_warning.models.train import (
    Array,
    Outcome,
    Settings,
    Trained,
    early_stopped,
    nested_folds,
    stratified_folds,
)

INNER = 4
# the project defaults first; then fewer/more leaves, stronger regularisation, slower
# learning (the tree cap still applies) and column subsampling. Fixed before any run.
GRID: tuple[dict[str, float | int], ...] = (
    {},
    {"num_leaves": 7},
    {"num_leaves": 31, "min_data_in_leaf": 40},
    {"num_leaves": 63, "min_data_in_leaf": 40, "feature_fraction": 0.5},
    {"learning_rate": 0.03},
    {"feature_fraction": 0.5},
    {"min_data_in_leaf": 80, "lambda_l2": 10.0},
    {"num_leaves": 31, "learning_rate": 0.03, "feature_fraction": 0.5},
)
TUNED = ("num_leaves", "min_data_in_leaf", "learning_rate", "feature_fraction", "lambda_l2")
INNER_ROWS = f"the inner {INNER}-fold out-of-fold rows"


def _early_stopped(
    x: Array, y: npt.NDArray[np.int8], train: npt.NDArray[np.intp], valid: npt.NDArray[np.intp],
    names: list[str], s: Settings,
) -> tuple[Array, int]:  # fmt: skip
    """Margins on `valid` of trees fitted on `train`, early-stopped on `valid`."""
    booster, best = early_stopped(x, y, train, valid, names, s)
    return np.asarray(booster.predict(x[valid], raw_score=True, num_iteration=best)), best


def out_of_fold(
    x: Array, y: npt.NDArray[np.int8], names: list[str], s: Settings, k: int = INNER
) -> tuple[Array, int]:
    """Every row's margin from the inner model that did not train on it, and the inner
    models' mean best tree count."""
    margins = np.zeros(y.size, dtype=np.float64)
    bests: list[int] = []
    every = np.arange(y.size, dtype=np.intp)
    for fold in stratified_folds(y, k, s.seed):
        train = np.setdiff1d(every, fold)
        if y[train].sum() == 0 or y[fold].sum() == 0:
            raise ValueError("--tune: every inner fold needs positive and negative rows")
        margins[fold], best = _early_stopped(x, y, train, fold, names, s)
        bests.append(best)
    return margins, max(1, round(float(np.mean(bests))))


def tune_fit(
    x: Array, y: npt.NDArray[np.int8], names: list[str], s: Settings
) -> tuple[Trained, Settings]:
    """The tuned model over exactly these rows (see the module docstring)."""
    import lightgbm as lgb

    base = replace(s, threshold_rows=INNER_ROWS)
    best: tuple[float, Settings, Array, int] | None = None
    for candidate in GRID:
        settings = replace(base, **candidate)  # type: ignore[arg-type]
        margins, trees = out_of_fold(x, y, names, settings)
        score = average_precision(y, margins)
        if best is None or score > best[0]:
            best = (score, settings, margins, trees)
    assert best is not None
    _, chosen, margins, trees = best
    params = chosen.params()
    booster = lgb.train(
        params,
        lgb.Dataset(x, y, feature_name=names, params=params),
        num_boost_round=trees,
    )
    calibration = Calibration.fit(chosen.calibration, margins, y)
    threshold = pick_threshold(y, calibration.apply(margins), min_precision=chosen.min_precision)
    return Trained(booster.model_to_string(), trees, calibration, threshold), chosen


def train_nested_cv_tuned(
    x: Array, y: npt.NDArray[np.int8], names: list[str], s: Settings, k: int = 5
) -> tuple[Outcome, Settings]:
    """Nested K-fold as `train_nested_cv`, each outer fold's model from `tune_fit` on the
    other folds' rows alone; then `tune_fit` on every row for the shipped model."""

    def recipe(rows: npt.NDArray[np.intp], seed: int) -> tuple[Trained, Settings]:
        return tune_fit(x[rows], y[rows], names, replace(s, seed=seed))

    final, chosen, report, per_fold = nested_folds(x, y, k, s.seed, recipe, TUNED)
    split = (
        f"nested stratified {k}-fold, tuned inside: each outer fold reported by a model "
        f"whose settings ({len(GRID)} candidates, best out-of-fold average precision), tree "
        f"count, calibration and threshold came from a {INNER}-fold cross-validation of the "
        "other folds alone, its trees refitted on all of them; the shipped model: the same "
        f"recipe on all {y.size} rows"
    )
    outcome = Outcome(
        final,
        f"nested stratified {k}-fold cross-validation, tuned in the inner folds "
        "(mean of outer folds)",
        split,
        report,
        per_fold,
    )
    return outcome, chosen


__all__ = ["GRID", "INNER", "out_of_fold", "train_nested_cv_tuned", "tune_fit"]
