"""Rule conditions: the project's own grammar, column-wise == scalar, hostile input refused."""

from __future__ import annotations

import math
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fraud_warning.expr as expr_module
from fraud_warning.expr import (
    MAX_DEPTH,
    MAX_LENGTH,
    And,
    Compare,
    ExprError,
    Node,
    Not,
    Or,
    parse,
)
from fraud_warning.features import CATALOGUE
from fraud_warning.registry import Registry, load_registry
from fraud_warning.rules import _OPS as RULE_OPS
from fraud_warning.rules import RuleError, RuleMatrix, compile_rule, load_rule_file

TRANSFER = CATALOGUE["transfer"]
RULES = Path(__file__).resolve().parent.parent / "rules"


def idx(name: str) -> int:
    return TRANSFER.index(name)


def cmp(name: str, op: str, value: float) -> Compare:
    return Compare(idx(name), name, op, value)


def tree(text: str) -> Node:
    return parse(text, TRANSFER, "transfer").root


def refused(text: str) -> str:
    started = time.perf_counter()
    with pytest.raises(ExprError) as info:
        parse(text, TRANSFER, "transfer")
    assert time.perf_counter() - started < 1.0, "refusing must be cheap"
    return str(info.value)


# -- parsing and precedence ------------------------------------------------------------


def test_the_example_parses() -> None:
    root = tree(
        "risky_call_s_2h >= 900 and payee_is_new == 1 "
        "and (amount_cny >= 3000 or flagged_contact_24h > 0)"
    )
    assert root == And(
        (
            cmp("risky_call_s_2h", "gte", 900),
            cmp("payee_is_new", "eq", 1),
            Or((cmp("amount_cny", "gte", 3000), cmp("flagged_contact_24h", "gt", 0))),
        )
    )


@pytest.mark.parametrize(
    ("symbol", "op"),
    [("<", "lt"), ("<=", "lte"), (">", "gt"), (">=", "gte"), ("==", "eq"), ("!=", "ne")],
)
def test_every_comparison(symbol: str, op: str) -> None:
    assert tree(f"amount_cny {symbol} 5") == cmp("amount_cny", op, 5)


def test_and_binds_tighter_than_or_and_not_tighter_than_and() -> None:
    a, b, c = (cmp(n, "gt", 0) for n in ("elderly", "risk_context", "payee_is_new"))
    assert tree("elderly > 0 or risk_context > 0 and payee_is_new > 0") == Or((a, And((b, c))))
    assert tree("elderly > 0 and risk_context > 0 or payee_is_new > 0") == Or((And((a, b)), c))
    assert tree("(elderly > 0 or risk_context > 0) and payee_is_new > 0") == And((Or((a, b)), c))
    assert tree("not elderly > 0 and risk_context > 0") == And((Not(a), b))
    assert tree("not (elderly > 0 and risk_context > 0)") == Not(And((a, b)))
    assert tree("not not elderly > 0") == Not(Not(a))
    assert tree("((elderly > 0))") == a


def test_chains_flatten() -> None:
    a, b, c = (cmp(n, "gt", 0) for n in ("elderly", "risk_context", "payee_is_new"))
    assert tree("elderly > 0 and (risk_context > 0 and payee_is_new > 0)") == And((a, b, c))
    assert tree("elderly > 0 or risk_context > 0 or payee_is_new > 0") == Or((a, b, c))


def test_membership_and_number_forms() -> None:
    eq = [cmp("new_payee_transfers_2h", "eq", v) for v in (1, 2)]
    assert tree("new_payee_transfers_2h in [1, 2]") == Or(tuple(eq))
    assert tree("new_payee_transfers_2h not in [1, 2]") == Not(Or(tuple(eq)))
    assert tree("new_payee_transfers_2h in [3]") == cmp("new_payee_transfers_2h", "eq", 3)
    assert tree("3000 <= amount_cny") == cmp("amount_cny", "gte", 3000)
    assert tree("3000 > amount_cny") == cmp("amount_cny", "lt", 3000)
    assert tree("amount_cny >= 10_000") == cmp("amount_cny", "gte", 10_000)
    assert tree("amount_cny >= 1e4") == cmp("amount_cny", "gte", 10_000)
    assert tree("amount_cny > -0.5") == cmp("amount_cny", "gt", -0.5)
    assert tree("amount_cny > .5") == cmp("amount_cny", "gt", 0.5)
    assert tree("amount_cny > +2") == cmp("amount_cny", "gt", 2)
    assert tree("amount_cny >= 1e15") == cmp("amount_cny", "gte", 1e15)
    assert tree("amount_cny\n  >= 1\n") == cmp("amount_cny", "gte", 1)


def test_printing_round_trips() -> None:
    text = "(elderly == 1 or amount_cny >= 5000) and not payee_is_new != 1"
    condition = parse(text, TRANSFER)
    assert tree(str(condition)) == condition.root


# -- errors say where and why ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("amout_cny >= 1", "unknown feature 'amout_cny' (did you mean 'amount_cny'?) at column 1"),
        ("fanout_1h > 3", "it is a feature of 'number' rules, not of 'transfer' rules"),
        ("zzzz > 1", "unknown feature 'zzzz' (expected one of: noncontact_call_s_2h,"),
        (
            "risky_call_s_2h >= 900 and (amount_cny >= 3000",
            "expected ')' at column 47 (found end of condition)",
        ),
        ("amount_cny > 1)", "unmatched ')' at column 15"),
        ("amount_cny > 1 > 2", "expected 'and', 'or' or the end of the condition at column 16"),
        ("payee_is_new and amount_cny > 1", "expected a comparison after 'payee_is_new'"),
        ("amount_cny > elderly", "expected a number after '>'"),
        ("amount_cny = 1", "'=' is not a comparison: use '=='"),
        ("amount_cny > 1 && elderly == 1", "use 'and', not '&'"),
        ("amount_cny > 1 || elderly == 1", "use 'or', not '|'"),
        ("!elderly == 1", "use 'not', not '!'"),
        ("amount_cny > 1 AND elderly == 1", "write 'and' in lower case at column 16"),
        ("amount_cny > 1 and", "expected a comparison such as"),
        ("", "empty condition"),
        ("   ", "empty condition"),
        ("amount_cny in []", "expected a number in the list"),
        ("amount_cny in [1 2]", "expected ',' or ']'"),
        ("amount_cny in 1", "expected '[' after 'in'"),
        ("amount_cny >= 5e", "malformed number at column 15"),
        ("amount_cny >= 0x10", "malformed number"),
        ("amount_cny - 5 > 1", "arithmetic is not allowed"),
        ("amount_cny * 2 > 1", "arithmetic is not allowed"),
        ("amount_cny >\n  5 and\n  (elderly > ", "at line 3, column 14"),
    ],
)
def test_errors_say_where_and_why(text: str, needle: str) -> None:
    message = refused(text)
    assert needle in message, message


# -- hostile expressions ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("__import__('os').system('id')", "names starting with '__' are not allowed"),
        ("amount_cny.__class__ > 1", "attribute access ('.') is not allowed at column 11"),
        ("amount_cny.real > 1", "attribute access"),
        ("().__class__.__bases__[0]", "attribute access"),
        ("__builtins__ > 1", "names starting with '__'"),
        ("eval('1') > 0", "function calls are not allowed at column 5"),
        ("abs(amount_cny) > 1", "function calls are not allowed"),
        ("amount_cny > 1 and exec('x') > 0", "function calls are not allowed"),
        ("1 < open(amount_cny)", "function calls are not allowed"),
        ("amount_cny > 'x'", "strings are not allowed"),
        ('amount_cny > "x"', "strings are not allowed"),
        ("lambda: 1", "unexpected character ':'"),
        ("amount_cny > 1; import os", "unexpected character ';'"),
        ("amount_cny > 1 if elderly else 0", "expected 'and', 'or' or the end"),
        ("[x for x in amount_cny]", "expected a comparison such as"),
        ("amount_cny > 1e999", "out of range (a finite number at most 1e15 in magnitude)"),
        ("amount_cny > -1e999", "out of range"),
        ("amount_cny > 1e16", "out of range"),
        ("amount_cny > " + "9" * 61, "number too long"),
        ("amount_cny > inf", "expected a number after '>'"),
        ("amount_cny > nan", "expected a number after '>'"),
        ("amount_cny > 1 and\x00 elderly == 1", "unexpected character '\\x00'"),
        ("金额 > 1", "unexpected character '金'"),
        ("amount_cny（> 1", "unexpected character '（'"),
        ("{amount_cny} > 1", "braces are not allowed"),
        ("amount_cny > 1 @ 2", "unexpected character '@'"),
        ("amount_cny > $x", "unexpected character '$'"),
        ("amount_cny > `id`", "unexpected character '`'"),
        ("amount_cny in [" + ", ".join(["1"] * 600) + "]", "condition too large"),
    ],
)
def test_hostile_expressions_refused(text: str, needle: str) -> None:
    message = refused(text)
    assert needle in message, message


def test_ten_thousand_nested_parentheses_refused() -> None:
    message = refused("(" * 10_000 + "amount_cny > 1" + ")" * 10_000)
    assert f"condition longer than {MAX_LENGTH} characters" in message


def test_nesting_beyond_the_limit_refused_within_the_length() -> None:
    depth = MAX_DEPTH + 1
    message = refused("(" * depth + "amount_cny > 1" + ")" * depth)
    assert f"nested too deeply at column {depth}" in message
    assert "nested too deeply" in refused("not " * depth + "amount_cny > 1")
    ok = "(" * MAX_DEPTH + "amount_cny > 1" + ")" * MAX_DEPTH
    assert parse(ok, TRANSFER).root == cmp("amount_cny", "gt", 1)


def test_very_long_input_refused() -> None:
    text = " or ".join(["amount_cny > 1"] * 1_000)
    assert len(text) > MAX_LENGTH
    assert "condition longer than 2000 characters (17,996)" in refused(text)
    assert "condition longer than" in refused("x" * 1_000_000)


def test_the_module_never_evaluates_code() -> None:
    source = Path(expr_module.__file__).read_text(encoding="utf-8")
    code = source.split('"""', 2)[2]  # after the module docstring
    for banned in (
        r"\beval\(",
        r"\bexec\(",
        r"(?<!re\.)\bcompile\(",
        "literal_eval",
        r"\bast\b",
        r"__import__\(",
        r"\bgetattr\(",
        r"\bimportlib\b",
    ):
        assert not re.search(banned, code), banned


# -- column-wise equals scalar equals a reference evaluation ---------------------------

FEATURES = ("amount_cny", "payee_is_new", "elderly", "payee_risky_share_24h")
CELLS = [0.0, 1.0, 2.5, -1.0, 3000.0]
SYMBOL_FN: dict[str, Any] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}

# A reference tree: ("cmp", feature, symbol, value) | ("in", feature, values)
# | ("not", t) | ("and", t, u) | ("or", t, u)
leaf = st.one_of(
    st.tuples(
        st.just("cmp"),
        st.sampled_from(FEATURES),
        st.sampled_from(list(SYMBOL_FN)),
        st.sampled_from(CELLS),
    ),
    st.tuples(
        st.just("in"),
        st.sampled_from(FEATURES),
        st.lists(st.sampled_from(CELLS), min_size=1, max_size=3),
    ),
)
trees = st.recursive(
    leaf,
    lambda inner: st.one_of(
        st.tuples(st.just("not"), inner),
        st.tuples(st.sampled_from(["and", "or"]), inner, inner),
    ),
    max_leaves=12,
)


def reference(t: tuple[Any, ...], row: list[float]) -> bool:
    kind = t[0]
    if kind == "cmp":
        return bool(SYMBOL_FN[t[2]](row[idx(t[1])], t[3]))
    if kind == "in":
        return any(row[idx(t[1])] == v for v in t[2])
    if kind == "not":
        return not reference(t[1], row)
    left, right = reference(t[1], row), reference(t[2], row)
    return (left and right) if kind == "and" else (left or right)


def render(t: tuple[Any, ...]) -> str:
    """Fully parenthesised."""
    kind = t[0]
    if kind == "cmp":
        return f"{t[1]} {t[2]} {t[3]!r}"
    if kind == "in":
        return f"{t[1]} in [{', '.join(repr(v) for v in t[2])}]"
    if kind == "not":
        return f"not ({render(t[1])})"
    return f"({render(t[1])}) {kind} ({render(t[2])})"


LEVEL = {"or": 1, "and": 2, "not": 3, "cmp": 4, "in": 4}


def render_min(t: tuple[Any, ...]) -> str:
    """Parentheses only where precedence needs them."""
    kind = t[0]
    if kind in ("cmp", "in"):
        return render(t)

    def part(child: tuple[Any, ...], level: int) -> str:
        text = render_min(child)
        return f"({text})" if LEVEL[child[0]] < level else text

    if kind == "not":
        return f"not {part(t[1], LEVEL['not'])}"
    # and/or are associative: the same kind beside needs no parentheses
    return f"{part(t[1], LEVEL[kind])} {kind} {part(t[2], LEVEL[kind])}"


matrices = st.lists(
    st.sampled_from([*CELLS, float("nan")]), min_size=0, max_size=10 * len(TRANSFER)
).map(
    lambda cells: np.array(
        cells[: len(cells) // len(TRANSFER) * len(TRANSFER)], dtype=np.float64
    ).reshape(-1, len(TRANSFER))
)


class ClauseMasks:
    """Clause masks over a matrix, each computed once and shared, as RuleMatrix hands
    them to a condition."""

    def __init__(self, matrix: np.ndarray) -> None:
        self.matrix = matrix
        self.masks: dict[tuple[int, str, float], np.ndarray] = {}

    def clause(self, key: tuple[int, str, float]) -> np.ndarray:
        if key not in self.masks:
            index, op, value = key
            self.masks[key] = RULE_OPS[op](self.matrix[:, index], value)
        return self.masks[key]


@settings(max_examples=200, deadline=None)
@given(trees, matrices)
def test_column_wise_equals_scalar_equals_reference(t: tuple[Any, ...], matrix: Any) -> None:
    rows = matrix.tolist()
    expected = [reference(t, row) for row in rows]
    for text in (render(t), render_min(t)):
        condition = parse(text, TRANSFER)
        cache = ClauseMasks(matrix)
        before = {k: m.copy() for k, m in cache.masks.items()}
        mask = condition.mask(cache.clause)
        assert mask.dtype == bool and mask.shape == (len(rows),)
        assert mask.tolist() == expected, text
        assert [condition.holds(row) for row in rows] == expected, text
        for key, m in before.items():  # shared clause masks are never changed
            assert (cache.masks[key] == m).all()
        again = condition.mask(cache.clause)
        assert again.tolist() == expected


SPEC: dict[str, Any] = {
    "id": "cond-rule",
    "version": 1,
    "title": "condition rule",
    "typology": "impersonating_police",
    "status": "stable",
    "priority": "P1",
    "owner": "tests",
    "on": "transfer",
    "score": 0.5,
    "reasons": ["r"],
}
whens = st.dictionaries(
    st.sampled_from(FEATURES),
    st.dictionaries(
        st.sampled_from(["gt", "gte", "lt", "lte", "eq", "ne"]),
        st.sampled_from(CELLS),
        min_size=1,
        max_size=2,
    ),
    max_size=2,
)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(whens, trees), min_size=1, max_size=3), matrices)
def test_rules_with_when_and_condition_column_wise_equal_matches(
    parts: list[tuple[dict[str, Any], tuple[Any, ...]]], matrix: Any
) -> None:
    rules = [
        compile_rule(
            {**SPEC, "when": when, "condition": render_min(t)}
            if when
            else {**SPEC, "condition": render_min(t)},
            {},
            "prop.yaml",
        )
        for when, t in parts
    ]
    rows = matrix.tolist()
    masks = RuleMatrix(rules).masks(matrix)
    for _ in range(2):
        for mask, rule, (when, t) in zip(masks, rules, parts, strict=True):
            expected = [
                reference(t, row)
                and all(
                    SYMBOL_FN[
                        {"gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "eq": "==", "ne": "!="}[op]
                    ](row[idx(f)], v)
                    for f, ops in when.items()
                    for op, v in ops.items()
                )
                for row in rows
            ]
            assert mask.tolist() == expected
            assert [rule.matches(row) for row in rows] == expected


def test_condition_leaves_share_the_clause_cache_with_when() -> None:
    a = compile_rule({**SPEC, "when": {"amount_cny": {"gte": 3000}}}, {}, "a.yaml")
    b = compile_rule(
        {**SPEC, "condition": "amount_cny >= 3000 and (elderly == 1 or payee_is_new == 1)"},
        {},
        "b.yaml",
    )
    c = compile_rule({**SPEC, "condition": "elderly == 1 or amount_cny >= 3000"}, {}, "c.yaml")
    matrix = np.zeros((3, len(TRANSFER)))
    matrix[:, idx("amount_cny")] = [5000, 5000, 10]
    matrix[:, idx("elderly")] = [1, 0, 1]
    rules = RuleMatrix([a, b, c])
    assert rules.masks(matrix).tolist() == [
        [True, True, False],
        [True, False, False],
        [True, True, True],
    ]
    assert len(rules._position) == 3  # amount_cny >= 3000, elderly == 1, payee_is_new == 1


# -- gates -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "gates"),
    [
        ("amount_cny >= 3000", {"amount_cny": 3000}),
        ("amount_cny > 3000 and elderly == 1", {"amount_cny": 3000}),
        ("amount_cny >= 3000 and amount_cny >= 5000", {"amount_cny": 5000}),
        (
            "3000 <= amount_cny and (risky_call_s_2h >= 900)",
            {"amount_cny": 3000, "risky_call_s_2h": 900},
        ),
        (
            "amount_cny >= 3000 and (risky_call_s_2h >= 900 or elderly == 1)",
            {"amount_cny": 3000},
        ),
        ("amount_cny >= 3000 or elderly == 1", {}),
        ("not amount_cny < 3000", {}),
        ("amount_cny in [3000, 4000]", {}),
        ("amount_cny <= 3000", {}),
    ],
)
def test_condition_gates(condition: str, gates: dict[str, float]) -> None:
    rule = compile_rule({**SPEC, "condition": condition}, {}, "g.yaml")
    assert rule.gates == {idx(k): v for k, v in gates.items()}


def test_registry_gate_combines_when_and_condition() -> None:
    a = compile_rule(
        {
            **SPEC,
            "id": "rule-a",
            "when": {"amount_cny": {"gte": 500}},
            "condition": "risky_call_s_2h >= 600 and amount_cny >= 1000",
        },
        {},
        "a.yaml",
    )
    b = compile_rule(
        {**SPEC, "id": "rule-b", "condition": "amount_cny >= 200 and risky_call_s_2h > 100"},
        {},
        "b.yaml",
    )
    c = compile_rule(
        {**SPEC, "id": "rule-c", "condition": "amount_cny >= 1 or elderly == 1"}, {}, "c.yaml"
    )
    assert a.gates == {idx("amount_cny"): 1000, idx("risky_call_s_2h"): 600}
    gate = Registry.of([a, b]).gate("transfer")
    assert gate == tuple(sorted({idx("amount_cny"): 200, idx("risky_call_s_2h"): 100}.items()))
    assert Registry.of([a, b, c]).gate("transfer") == ()


def test_gates_never_drop_a_row_that_fires() -> None:
    rng = np.random.default_rng(5)
    rule = compile_rule(
        {
            **SPEC,
            "condition": "amount_cny >= 2 and risky_call_s_2h > 1 and "
            "(elderly == 1 or payee_is_new >= 1) and not amount_cny == 3",
        },
        {},
        "g.yaml",
    )
    matrix = rng.integers(0, 5, size=(5_000, len(TRANSFER))).astype(float)
    fires = RuleMatrix([rule]).masks(matrix)[0]
    for index, bound in rule.gates.items():
        assert not (fires & (matrix[:, index] < bound)).any()


# -- in rule files ---------------------------------------------------------------------

CONDITION = (
    "risky_call_s_2h >= 900 and payee_is_new == 1 and "
    "(amount_cny >= 3000 or flagged_contact_24h > 0)"
)
RULE = f"""\
id: cond-file-rule
version: 1
title: A condition rule
typology: impersonating_police
status: stable
priority: P1
owner: desk
on: transfer
condition: {CONDITION}
score: 0.9
reasons:
  - "{{risky_call_s_2h/60:.0f}} min on risky calls"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rule.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def rule_error(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(RuleError) as info:
        load_rule_file(path)
    message = str(info.value)
    assert message.startswith(f"{path}:"), message
    return message[len(str(path)) + 1 :]


def test_a_condition_rule_loads_and_matches(tmp_path: Path) -> None:
    (rule,) = load_rule_file(write(tmp_path, RULE))
    assert rule.all_of == () and rule.condition is not None
    row = [0.0] * len(TRANSFER)
    row[idx("risky_call_s_2h")], row[idx("payee_is_new")] = 1000, 1
    assert not rule.matches(row)
    row[idx("flagged_contact_24h")] = 1
    assert rule.matches(row)
    assert rule.gates == {idx("risky_call_s_2h"): 900}


def test_when_and_condition_are_anded(tmp_path: Path) -> None:
    text = RULE.replace("score:", "when:\n  elderly: {eq: 1}\nscore:")
    (rule,) = load_rule_file(write(tmp_path, text))
    row = [0.0] * len(TRANSFER)
    row[idx("risky_call_s_2h")], row[idx("payee_is_new")], row[idx("amount_cny")] = 1000, 1, 5000
    assert not rule.matches(row)
    row[idx("elderly")] = 1
    assert rule.matches(row)


def test_a_block_scalar_condition_loads(tmp_path: Path) -> None:
    text = RULE.replace(
        "condition: risky_call_s_2h >= 900 and",
        "condition: >-\n  risky_call_s_2h >= 900\n  and",
    )
    (rule,) = load_rule_file(write(tmp_path, text))
    assert rule.condition is not None and len(rule.condition.leaves()) == 4


@pytest.mark.parametrize(
    ("old", "new", "line", "needle"),
    [
        (
            "amount_cny >= 3000",
            "amout_cny >= 3000",
            9,
            "condition: unknown feature 'amout_cny' (did you mean 'amount_cny'?) at column 51",
        ),
        (
            "flagged_contact_24h > 0)",
            "flagged_contact_24h > 0",
            9,
            "condition: expected ')' at column 96 (found end of condition)",
        ),
        ("amount_cny >= 3000", "amount_cny >= 1e999", 9, "condition: number 1e999"),
        ("amount_cny >= 3000", "amount_cny.__class__", 9, "condition: attribute access"),
        ("amount_cny >= 3000", "__import__('os')", 9, "condition: names starting with '__'"),
        (
            "condition: risky",
            "condition: fanout_1h > 1 and risky",
            9,
            "it is a feature of 'number' rules, not of 'transfer' rules",
        ),
    ],
)
def test_condition_errors_name_file_line(
    tmp_path: Path, old: str, new: str, line: int, needle: str
) -> None:
    message = rule_error(tmp_path, RULE.replace(old, new))
    assert message.startswith(f"{line}: "), message
    assert needle in message, message


def test_condition_errors_in_later_documents_name_their_line(tmp_path: Path) -> None:
    second = RULE.replace("cond-file-rule", "second").replace("payee_is_new ==", "payee_is_nw ==")
    message = rule_error(tmp_path, RULE + "---\n" + second)
    n = len(RULE.splitlines())
    assert message.startswith(f"{n + 1 + 9}: condition: unknown feature 'payee_is_nw'"), message


def test_a_condition_must_be_text(tmp_path: Path) -> None:
    text = re.sub(r"^condition: .*$", "condition: 5", RULE, flags=re.MULTILINE)
    assert "condition: Input should be a valid string" in rule_error(tmp_path, text)


def test_a_rule_needs_when_or_a_condition(tmp_path: Path) -> None:
    text = re.sub(r"^condition: .*\n", "", RULE, flags=re.MULTILINE)
    assert "a rule needs clauses in 'when' or a 'condition'" in rule_error(tmp_path, text)


def test_a_hostile_condition_file_is_refused_quickly(tmp_path: Path) -> None:
    deep = "(" * 10_000 + "amount_cny > 1" + ")" * 10_000
    started = time.perf_counter()
    message = rule_error(tmp_path, RULE.replace(RULE.splitlines()[8], f"condition: '{deep}'"))
    assert time.perf_counter() - started < 2.0
    assert message.startswith("9: condition: condition longer than 2000 characters"), message


# -- the shipped rules -----------------------------------------------------------------


def test_some_shipped_rules_use_conditions() -> None:
    registry = load_registry(RULES)
    with_condition = [r for r in registry if r.condition is not None]
    assert len(with_condition) >= 2
    for rule in with_condition:
        assert not math.isinf(min(rule.gates.values(), default=0.0))
