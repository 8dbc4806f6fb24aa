"""The benchmark's larger registries load: shipped rules plus shadow variants."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.registries import build
from bench.throughput import naive_matches, naive_scores
from fraud_warning.features import CATALOGUE
from fraud_warning.registry import load_registry, rule_files
from fraud_warning.rules import compile_rule
from tests.test_rules import any_rule_specs, matrices

SHIPPED = Path(__file__).resolve().parent.parent / "rules"


def test_a_215_rule_registry_builds_and_loads(tmp_path: Path) -> None:
    registry = load_registry(build(215, tmp_path / "rules-215"))
    assert len(registry) == 215
    shipped = len(rule_files(SHIPPED))
    # every variant is shadow: the bench registry pages no more than the shipped one
    assert sum(1 for r in registry if r.spec.status == "shadow") >= 215 - shipped
    assert len({r.spec.id for r in registry}) == 215


@settings(max_examples=200, deadline=None)
@given(matrices, st.lists(any_rule_specs, min_size=1, max_size=8))
def test_the_naive_baselines_rule_check_is_the_engines(
    matrix: np.ndarray, specs: list[dict[str, Any]]
) -> None:
    """The naive baseline checks rules in plain Python; it must fire where the engine's
    compiled check does, or its rate would not be the same work's."""
    rules = [compile_rule(spec, {}, "prop.yaml") for spec in specs]
    for row in matrix.tolist():
        assert [naive_matches(r, row) for r in rules] == [r.matches(row) for r in rules]


def test_the_naive_baselines_scoring_is_the_engines() -> None:
    """One row at a time, the naive baseline's scorers fire on the rows the engine's
    batched `Scorer.fire` does."""
    registry = load_registry(SHIPPED, SHIPPED.parent / "models")
    scorers = [s for kind in ("call", "transfer") for s in registry.scorers[kind]]
    assert scorers  # the shipped registry streams its scorers
    rng = np.random.default_rng(7)
    for scorer in scorers:
        width = len(CATALOGUE[scorer.card.trigger])
        # wide ranges and some missing values: a good share of rows fire, and some not
        matrix = rng.gamma(0.6, 400.0, size=(400, width))
        matrix[rng.random(matrix.shape) < 0.05] = np.nan
        fired = set(scorer.fire(matrix).rows.tolist())
        naive = {i for i, row in enumerate(matrix.tolist()) if naive_scores(scorer, row)}
        assert naive == fired
        assert 0 < len(fired) < len(matrix), scorer.key
