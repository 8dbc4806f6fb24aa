"""Risk: combining the models that fired on one trigger."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fraud_warning.risk import Verdict, combined_score, strongest

scores = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


def verdict(model_id: str, score: float, priority: str = "P2", typology: str = "t") -> Verdict:
    return Verdict(model_id, 1, score, priority, typology, ("why",))


def test_known_values() -> None:
    assert combined_score([]) == 0.0
    assert combined_score([0.8]) == 0.8
    # 1 - (1 - 0.8) * (1 - 0.6 / 2)
    assert combined_score([0.8, 0.6]) == 0.86
    assert combined_score([0.6, 0.8]) == 0.86
    assert combined_score([0.5, 0.5, 0.5]) == pytest.approx(1 - 0.5 * 0.75 * 0.75, abs=1e-4)
    assert combined_score([1.0, 0.3]) == 1.0


def test_support_is_damped_below_an_independent_noisy_or() -> None:
    noisy_or = 1 - (1 - 0.7) * (1 - 0.7)
    assert 0.7 < combined_score([0.7, 0.7]) < noisy_or


@settings(max_examples=50)
@given(st.lists(scores, max_size=8))
def test_in_unit_interval_and_at_least_the_top(values: list[float]) -> None:
    combined = combined_score(values)
    assert 0.0 <= combined <= 1.0
    if values:
        assert combined >= round(max(values), 4) - 1e-12


@settings(max_examples=50)
@given(st.lists(scores, min_size=1, max_size=8), st.randoms(use_true_random=False))
def test_order_independent(values: list[float], rnd: object) -> None:
    shuffled = list(values)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert combined_score(shuffled) == combined_score(values)


@settings(max_examples=50)
@given(st.lists(scores, max_size=6), scores)
def test_another_model_never_lowers_the_score(values: list[float], extra: float) -> None:
    assert combined_score([*values, extra]) >= combined_score(values)


@settings(max_examples=50)
@given(st.lists(scores, min_size=1, max_size=6), st.data())
def test_monotone_in_each_score(values: list[float], data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(values) - 1))
    higher = data.draw(st.floats(min_value=values[i], max_value=1.0))
    raised = [*values[:i], higher, *values[i + 1 :]]
    assert combined_score(raised) >= combined_score(values)


def test_strongest_by_score_then_priority_then_id() -> None:
    a = verdict("b-rule", 0.9, "P2")
    b = verdict("a-rule", 0.8, "P1")
    assert strongest([b, a]) is a
    c = verdict("z-rule", 0.9, "P1")
    assert strongest([a, b, c]) is c
    d = verdict("a-rule", 0.9, "P1")
    assert strongest([c, d]) is d
    assert strongest([d, c]) is d


@settings(max_examples=50)
@given(
    st.lists(
        st.builds(
            verdict,
            st.sampled_from(["m1", "m2", "m3", "m4"]),
            st.sampled_from([0.5, 0.7, 0.9]),
            st.sampled_from(["P1", "P2", "P3"]),
        ),
        min_size=1,
        max_size=6,
        unique_by=lambda v: v.model_id,
    ),
    st.randoms(use_true_random=False),
)
def test_strongest_is_deterministic(verdicts: list[Verdict], rnd: object) -> None:
    shuffled = list(verdicts)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    top = strongest(verdicts)
    assert strongest(shuffled) == top
    assert top.score == max(v.score for v in verdicts)
