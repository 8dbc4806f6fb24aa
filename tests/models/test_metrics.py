"""AUC, average precision and threshold choice against brute-force definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fraud_warning.models.calibrate import Calibration
from fraud_warning.models.metrics import (
    at_threshold,
    average_precision,
    pick_threshold,
    roc_auc,
    summary,
)

cases = st.lists(
    st.tuples(st.integers(0, 1), st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0])),
    min_size=2,
    max_size=40,
)


def brute_auc(y: list[int], s: list[float]) -> float:
    pos = [b for a, b in zip(y, s, strict=True) if a]
    neg = [b for a, b in zip(y, s, strict=True) if not a]
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def brute_ap(y: list[int], s: list[float]) -> float:
    total, pos, prev_recall = 0.0, sum(y), 0.0
    for t in sorted(set(s), reverse=True):
        flagged = [a for a, b in zip(y, s, strict=True) if b >= t]
        recall = sum(flagged) / pos
        total += (recall - prev_recall) * sum(flagged) / len(flagged)
        prev_recall = recall
    return total


@settings(max_examples=80, deadline=None)
@given(cases)
def test_auc_and_ap_match_their_definitions(rows: list[tuple[int, float]]) -> None:
    y = [a for a, _ in rows]
    s = [b for _, b in rows]
    if 0 < sum(y) < len(y):
        assert roc_auc(y, s) == pytest.approx(brute_auc(y, s))
    else:
        assert math.isnan(roc_auc(y, s))
    if sum(y):
        assert average_precision(y, s) == pytest.approx(brute_ap(y, s))


@settings(max_examples=80, deadline=None)
@given(cases, st.floats(0.1, 1.0))
def test_threshold_choice_is_a_score_and_honours_the_precision_floor(
    rows: list[tuple[int, float]], floor: float
) -> None:
    y = np.array([a for a, _ in rows])
    s = np.array([b for _, b in rows])
    if y.sum() == 0:
        with pytest.raises(ValueError, match="no positive"):
            pick_threshold(y, s)
        return
    best = pick_threshold(y, s)
    assert best in s
    f1s = [at_threshold(y, s, t).f1 for t in set(s.tolist())]
    assert at_threshold(y, s, best).f1 == pytest.approx(max(f1s))
    t = pick_threshold(y, s, min_precision=floor)
    reachable = [u for u in set(s.tolist()) if at_threshold(y, s, u).precision >= floor]
    reachable = [u for u in reachable if at_threshold(y, s, u).true_positives > 0]
    if reachable:
        assert t == min(reachable)  # the most recall that keeps the floor


def test_summary_keys_and_values() -> None:
    out = summary([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], 0.35)
    assert out["auc"] == 0.75
    assert out["flagged"] == 3 and out["precision"] == pytest.approx(2 / 3)
    assert out["recall"] == 1.0 and out["f1"] == pytest.approx(0.8)
    assert set(out) >= {"auc", "average_precision", "precision", "recall", "f1"}


def test_nan_scores_and_shape_mismatches_are_refused() -> None:
    with pytest.raises(ValueError, match="NaN"):
        roc_auc([0, 1], [0.1, float("nan")])
    with pytest.raises(ValueError, match="same size"):
        roc_auc([0, 1, 1], [0.1, 0.2])


# -- calibration -------------------------------------------------------------------------


def test_platt_is_increasing_and_finite_even_on_separable_rows() -> None:
    margin = np.array([-3.0, -2.0, -1.0, 1.0, 2.0, 3.0])
    c = Calibration.platt(margin, np.array([0, 0, 0, 1, 1, 1]))
    p = c.apply(np.linspace(-5, 5, 11))
    assert np.all(np.diff(p) > 0) and math.isfinite(c.a) and c.a > 0
    assert 0.0 < p[0] < 0.5 < p[-1] < 1.0


def test_platt_recovers_a_known_curve() -> None:
    rng = np.random.default_rng(0)
    margin = rng.normal(0, 2, 20_000)
    y = (rng.random(margin.size) < 1 / (1 + np.exp(-(0.5 * margin - 1.0)))).astype(int)
    c = Calibration.platt(margin, y)
    assert c.a == pytest.approx(0.5, abs=0.05) and c.b == pytest.approx(-1.0, abs=0.08)


def test_isotonic_is_monotone_and_in_range() -> None:
    rng = np.random.default_rng(1)
    margin = rng.normal(0, 1, 500)
    y = (rng.random(500) < 1 / (1 + np.exp(-2 * margin))).astype(int)
    c = Calibration.isotonic(margin, y)
    p = c.apply(np.sort(rng.normal(0, 2, 1000)))
    assert np.all(np.diff(p) >= 0) and p.min() >= 0 and p.max() <= 1
    assert Calibration.model_validate(c.model_dump()) == c


def test_calibration_schema_refuses_a_decreasing_curve() -> None:
    with pytest.raises(ValueError, match="slope"):
        Calibration(method="platt", a=-1.0, b=0.0)
    with pytest.raises(ValueError, match="increasing"):
        Calibration(method="isotonic", x=[1.0, 0.0], y=[0.1, 0.2])
