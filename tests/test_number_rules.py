"""The compiled per-row number rules (fraud_warning.number_rules) against their definition:
every rule that passes the screen and matches fires, in registry order, paging or shadow
by its status, with the reasons its templates render; hits are counted per rule."""

from __future__ import annotations

import bisect
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fraud_warning.number_rules import NOTHING_FIRED, NumberRules, bisect_right, holds
from fraud_warning.risk import Verdict
from fraud_warning.rules import compile_rule
from fraud_warning.scoring import verdict_of
from tests.test_rules import NUMBER, SPEC, any_rule_specs, matrices

NAN = float("nan")


@settings(max_examples=500, deadline=None)
@given(
    st.lists(st.floats(allow_nan=False), max_size=12).map(sorted),
    st.floats(allow_nan=False),
)
def test_bisect_right_is_the_standard_one(bounds: list[float], value: float) -> None:
    assert bisect_right(bounds, value) == bisect.bisect_right(bounds, value)
    for b in bounds:  # on a bound itself, and on each side of it
        assert bisect_right(bounds, b) == bisect.bisect_right(bounds, b)


def test_holds_compares_as_python_does_nan_included() -> None:
    row = [1.0, NAN]
    for op, expect in [("gt", False), ("gte", True), ("lt", False), ("lte", True)]:
        assert holds([(0, op, 1.0)], row) is expect
    assert holds([(0, "eq", 1.0), (0, "ne", 2.0)], row)
    # NaN fails every comparison but `ne`
    assert [holds([(1, op, 0.0)], row) for op in ("gt", "gte", "lt", "lte", "eq", "ne")] == [
        False,
        False,
        False,
        False,
        False,
        True,
    ]


def with_status(spec: dict[str, Any], n: int) -> dict[str, Any]:
    status = ("stable", "shadow", "experimental")[n % 3]
    return {
        **spec,
        "id": f"rule-{n}",
        "status": status,
        "reasons": [f"{{{NUMBER[n % len(NUMBER)]}:.1f}} seen", "fixed text"],
    }


@settings(max_examples=300, deadline=None)
@given(matrices, st.lists(any_rule_specs, min_size=1, max_size=70))
def test_fire_is_screen_then_match_then_verdict_in_registry_order(
    matrix: np.ndarray, specs: list[dict[str, Any]]
) -> None:
    """More rules than a machine word: the screen's masks are Python's long integers."""
    rules = [compile_rule(with_status(s, n), {}, "prop.yaml") for n, s in enumerate(specs)]
    number = NumberRules(rules, Verdict)
    hits = dict.fromkeys(range(len(rules)), 0)
    for row in matrix.tolist():
        fired = number.fire(row)
        expected = [(n, r) for n, r in enumerate(rules) if r.matches(row)]
        pages = [verdict_of(r, row) for _, r in expected if r.pages]
        shadow = [(r.spec.status, verdict_of(r, row)) for _, r in expected if not r.pages]
        assert (fired.pages, fired.shadow) == (pages, shadow)
        if not expected:
            assert fired is NOTHING_FIRED
        for n, _ in expected:
            hits[n] += 1
    assert number.take_hits() == [(rules[n], k) for n, k in hits.items() if k]
    assert number.take_hits() == []  # handed over once


def test_a_verdict_carries_the_rules_fields_and_rendered_reasons() -> None:
    spec = {
        **SPEC,
        "id": "fanout",
        "version": 3,
        "score": 0.75,
        "priority": "P1",
        "when": {"fanout_1h": {"gte": 5}},
        "reasons": ["{fanout_1h:d} callees in an hour"],
    }
    rule = compile_rule(spec, {}, "fanout.yaml")
    row = [0.0] * len(NUMBER)
    row[NUMBER.index("fanout_1h")] = 12.0
    fired = NumberRules([rule], Verdict).fire(row)
    assert fired.pages == [
        Verdict("fanout@3", 3, 0.75, "P1", "fraud_number", ("12 callees in an hour",))
    ]
    assert fired.shadow == []
    row[NUMBER.index("fanout_1h")] = 4.0
    assert NumberRules([rule], Verdict).fire(row) is NOTHING_FIRED
