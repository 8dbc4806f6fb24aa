"""Ranking and threshold metrics in numpy: AUC, average precision, precision/recall/F1.

Scores are "high = fraud"; a row is flagged when its score is >= the threshold. Ties are
handled the way a desk would see them: rows with the same score are flagged together.

>>> import numpy as np
>>> y = np.array([0, 0, 1, 1]); s = np.array([0.1, 0.4, 0.35, 0.8])
>>> roc_auc(y, s)
0.75
>>> at_threshold(y, s, 0.35).precision
0.6666666666666666
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class AtThreshold:
    threshold: float
    flagged: int
    true_positives: int
    precision: float
    recall: float
    f1: float

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def _check(y: npt.ArrayLike, s: npt.ArrayLike) -> tuple[npt.NDArray[np.int8], Array]:
    labels = np.asarray(y, dtype=np.int8)
    scores = np.asarray(s, dtype=np.float64)
    if labels.shape != scores.shape or labels.ndim != 1:
        raise ValueError(f"labels {labels.shape} and scores {scores.shape} must be 1-d, same size")
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN")
    return labels, scores


def roc_auc(y: npt.ArrayLike, s: npt.ArrayLike) -> float:
    """Area under the ROC curve (Mann-Whitney, ties count one half); NaN with one class."""
    labels, scores = _check(y, s)
    pos = int(labels.sum())
    neg = labels.size - pos
    if pos == 0 or neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(scores.size, dtype=np.float64)
    # average ranks over runs of equal scores
    _, start, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    average = start + (counts + 1) / 2.0
    ranks[order] = np.repeat(average, counts)
    return float((ranks[labels == 1].sum() - pos * (pos + 1) / 2.0) / (pos * neg))


def _curve(labels: npt.NDArray[np.int8], scores: Array) -> tuple[Array, Array, Array]:
    """(distinct thresholds high → low, true positives, flagged) for `score >= threshold`."""
    order = np.argsort(-scores, kind="mergesort")
    s = scores[order]
    tp = np.cumsum(labels[order], dtype=np.float64)
    # the last row of each run of equal scores: flagging is all-or-none within a run
    last = np.r_[np.flatnonzero(np.diff(s) != 0), s.size - 1]
    return s[last], tp[last], (last + 1).astype(np.float64)


def average_precision(y: npt.ArrayLike, s: npt.ArrayLike) -> float:
    """Sum over thresholds of precision x recall gained (the step-wise PR-curve area)."""
    labels, scores = _check(y, s)
    pos = int(labels.sum())
    if pos == 0 or labels.size == 0:
        return float("nan")
    _, tp, flagged = _curve(labels, scores)
    recall_gain = np.diff(np.r_[0.0, tp]) / pos
    return float(np.sum(recall_gain * tp / flagged))


def at_threshold(y: npt.ArrayLike, s: npt.ArrayLike, threshold: float) -> AtThreshold:
    labels, scores = _check(y, s)
    flagged_mask = scores >= threshold
    flagged = int(flagged_mask.sum())
    tp = int(labels[flagged_mask].sum())
    pos = int(labels.sum())
    precision = tp / flagged if flagged else 0.0
    recall = tp / pos if pos else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return AtThreshold(float(threshold), flagged, tp, precision, recall, f1)


def pick_threshold(
    y: npt.ArrayLike, s: npt.ArrayLike, *, min_precision: float | None = None
) -> float:
    """The operating threshold, chosen on data the reported figures never see.

    Without `min_precision`: the threshold with the best F1. With it: the lowest threshold
    (most recall) whose precision reaches `min_precision`, or the most precise one when
    none does. A desk pays for every false alert, so sites usually want the second.
    """
    labels, scores = _check(y, s)
    if int(labels.sum()) == 0:
        raise ValueError("no positive rows: cannot pick a threshold")
    thresholds, tp, flagged = _curve(labels, scores)
    precision = tp / flagged
    recall = tp / labels.sum()
    if min_precision is None:
        f1 = np.where(tp > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0)
        return float(thresholds[int(np.argmax(f1))])
    ok = np.flatnonzero((precision >= min_precision) & (tp > 0))
    if ok.size:
        return float(thresholds[ok[-1]])
    return float(thresholds[int(np.argmax(np.where(tp > 0, precision, -1.0)))])


def summary(y: npt.ArrayLike, s: npt.ArrayLike, threshold: float) -> dict[str, float | int]:
    """The figures a card and `models evaluate --json` report (`auc`, `average_precision`,
    `precision`, `recall`, `f1`, plus counts)."""
    labels, scores = _check(y, s)
    at = at_threshold(labels, scores, threshold)
    return {
        "rows": int(labels.size),
        "positives": int(labels.sum()),
        "auc": roc_auc(labels, scores),
        "average_precision": average_precision(labels, scores),
        "threshold": float(threshold),
        "flagged": at.flagged,
        "precision": at.precision,
        "recall": at.recall,
        "f1": at.f1,
    }


__all__ = [
    "AtThreshold",
    "at_threshold",
    "average_precision",
    "pick_threshold",
    "roc_auc",
    "summary",
]
