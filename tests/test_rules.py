"""Analyst rules: closed schema, file:line errors, safe templates, column-wise == scalar."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fraud_warning.features import CATALOGUE
from fraud_warning.rules import (
    GateScreen,
    Rule,
    RuleError,
    RuleMatrix,
    RuleSpec,
    compile_rule,
    load_rule_file,
)

RULE = """\
id: test-rule
version: 2
title: A test rule
typology: impersonating_police
status: stable
priority: P1
owner: desk
on: transfer
when:
  risky_call_s_2h: {gte: 900}
  payee_is_new: {eq: 1}
score: 0.9
reasons:
  - "{risky_call_s_2h/60:.0f} min on risky calls"
"""
# Line of each top-level key in RULE.
LINE = {key: n for n, key in enumerate([line.split(":")[0] for line in RULE.splitlines()], 1)}
TRANSFER = CATALOGUE["transfer"]


def write(tmp_path: Path, text: str, name: str = "rule.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(RuleError) as info:
        load_rule_file(path)
    message = str(info.value)
    assert message.startswith(f"{path}:"), message
    return message[len(str(path)) + 1 :]


def row(**values: float) -> list[float]:
    out = [0.0] * len(TRANSFER)
    for name, value in values.items():
        out[TRANSFER.index(name)] = value
    return out


def test_valid_rule_compiles(tmp_path: Path) -> None:
    path = write(tmp_path, RULE)
    (rule,) = load_rule_file(path)
    assert rule.key == "test-rule@2"
    assert rule.source == str(path)
    assert rule.pages
    assert rule.spec.realert_s == 3600.0
    risky, new = TRANSFER.index("risky_call_s_2h"), TRANSFER.index("payee_is_new")
    assert rule.all_of == ((risky, "gte", 900.0), (new, "eq", 1.0))
    assert rule.any_of == ()
    assert rule.matches(row(risky_call_s_2h=900, payee_is_new=1))
    assert not rule.matches(row(risky_call_s_2h=899, payee_is_new=1))
    assert not rule.matches(row(risky_call_s_2h=5000, payee_is_new=0))
    assert rule.reasons(row(risky_call_s_2h=1830)) == ["30 min on risky calls"]


def test_only_stable_rules_page(tmp_path: Path) -> None:
    for status in ("experimental", "shadow", "deprecated"):
        (rule,) = load_rule_file(
            write(tmp_path, RULE.replace("status: stable", f"status: {status}"))
        )
        assert not rule.pages


def test_any_groups(tmp_path: Path) -> None:
    text = (
        RULE
        + "any:\n  - amount_cny: {gte: 5000}\n  - elderly: {eq: 1}\n    amount_cny: {gte: 500}\n"
    )
    (rule,) = load_rule_file(write(tmp_path, text))
    base = {"risky_call_s_2h": 1000.0, "payee_is_new": 1.0}
    assert rule.matches(row(**base, amount_cny=6000))
    assert rule.matches(row(**base, amount_cny=600, elderly=1))
    assert not rule.matches(row(**base, amount_cny=600))
    assert not rule.matches(row(risky_call_s_2h=1000, amount_cny=6000))


# -- errors name file:line and the field -----------------------------------------------


@pytest.mark.parametrize(
    ("change", "line", "needles"),
    [
        (("", "colour: red\n"), LINE["reasons"] + 2, ["colour", "unknown field", "realert_s"]),
        (
            ("payee_is_new", "payee_is_nu"),
            11,
            ["when", "unknown feature 'payee_is_nu'", "amount_cny"],
        ),
        (("{eq: 1}", "{equals: 1}"), 11, ["when.payee_is_new.equals", "'gte'"]),
        (("{eq: 1}", "{eq: yes}"), 11, ["when.payee_is_new.eq", "not a boolean"]),
        (("{eq: 1}", "{eq: true}"), 11, ["when.payee_is_new.eq", "not a boolean"]),
        (("{eq: 1}", "{eq: 'one'}"), 11, ["when.payee_is_new.eq", "valid number"]),
        (("{eq: 1}", "{eq: [1]}"), 11, ["when.payee_is_new.eq", "valid number"]),
        (("{eq: 1}", "{}"), 11, ["when.payee_is_new", "no comparison"]),
        (("score: 0.9", "score: 1.5"), LINE["score"], ["score", "less than or equal to 1"]),
        (("score: 0.9", "score: 0"), LINE["score"], ["score", "greater than 0"]),
        (("score: 0.9", "score: -0.2"), LINE["score"], ["score", "greater than 0"]),
        (("score: 0.9", "score: true"), LINE["score"], ["score", "not a boolean"]),
        (("score: 0.9", "score: high"), LINE["score"], ["score", "valid number"]),
        (("owner: desk\n", ""), 1, ["owner", "Field required"]),
        (
            ('reasons:\n  - "{risky_call_s_2h/60:.0f} min on risky calls"\n', ""),
            1,
            ["reasons", "Field required"],
        ),
        (("id: test-rule", "id: Test_Rule"), 1, ["id", "pattern"]),
        (("id: test-rule", "id: x"), 1, ["id", "pattern"]),
        (("id: test-rule", "id: -lead"), 1, ["id", "pattern"]),
        (("version: 2", "version: 0"), 2, ["version", "greater than or equal to 1"]),
        (("version: 2", "version: 2.5"), 2, ["version", "valid integer"]),
        (("version: 2", "version: on"), 2, ["version", "not a boolean"]),
        (("status: stable", "status: live"), 5, ["status", "'stable'"]),
        (("priority: P1", "priority: P0"), 6, ["priority", "'P1'"]),
        (("on: transfer", "on: fax"), 8, ["on", "'transfer'"]),
        (
            ("on: transfer", "on: number"),
            10,
            ["when", "unknown feature 'risky_call_s_2h'", "fanout_1h"],
        ),
        (("typology: impersonating_police", "typology: Bad Typology"), 4, ["typology", "pattern"]),
        (("title: A test rule", "title: ab"), 3, ["title", "at least 3"]),
        (
            ('reasons:\n  - "{risky_call_s_2h/60:.0f} min on risky calls"\n', "reasons: []\n"),
            LINE["reasons"],
            ["reasons", "at least 1"],
        ),
        (("", "realert_s: -1\n"), LINE["reasons"] + 2, ["realert_s", "greater than or equal to 0"]),
        (("", "realert_s: 999999999\n"), LINE["reasons"] + 2, ["realert_s", "less than or equal"]),
    ],
)
def test_schema_errors_name_line_and_field(
    tmp_path: Path, change: tuple[str, str], line: int, needles: list[str]
) -> None:
    old, new = change
    text = RULE + new if old == "" else RULE.replace(old, new, 1)
    assert text != RULE
    message = error(tmp_path, text)
    assert message.startswith(f"{line}: "), message
    for needle in needles:
        assert needle in message, (needle, message)


def test_empty_when_refused(tmp_path: Path) -> None:
    text = RULE.replace(
        "when:\n  risky_call_s_2h: {gte: 900}\n  payee_is_new: {eq: 1}\n", "when: {}\n"
    )
    message = error(tmp_path, text)
    assert message.startswith("9: when:")
    assert "at least one clause" in message


def test_unknown_feature_lists_the_valid_ones(tmp_path: Path) -> None:
    message = error(tmp_path, RULE.replace("payee_is_new", "payee_is_nu"))
    listed = message.split("expected one of: ")[1].rstrip(")").split(", ")
    assert tuple(listed) == TRANSFER


def test_unknown_feature_in_an_any_group(tmp_path: Path) -> None:
    text = RULE + "any:\n  - amount_cny: {gte: 1}\n  - bogus: {gte: 1}\n"
    message = error(tmp_path, text)
    assert message.startswith(f"{LINE['reasons'] + 4}: any[1]: unknown feature 'bogus'")


def test_bad_op_in_an_any_group(tmp_path: Path) -> None:
    text = RULE + "any:\n  - amount_cny: {gte: 1}\n  - amount_cny:\n      over: 1\n"
    message = error(tmp_path, text)
    assert message.startswith(f"{LINE['reasons'] + 5}: any.1.amount_cny.over")


def test_unknown_field_message_lists_the_schema(tmp_path: Path) -> None:
    message = error(tmp_path, RULE + "colour: red\n")
    for field in RuleSpec.model_fields:
        assert field in message


@pytest.mark.parametrize(
    ("template", "needle"),
    [
        ("{nope} min", "unknown feature 'nope' in template"),
        ("{amount_cny.__class__}", "malformed placeholder"),
        ("{amount_cny.__class__.__mro__}", "malformed placeholder"),
        ("{0}", "malformed placeholder"),
        ("{}", "malformed placeholder"),
        ("{amount_cny[0]}", "malformed placeholder"),
        ("{amount_cny!r}", "malformed placeholder"),
        ("{amount_cny:.7f}", "malformed placeholder"),
        ("{amount_cny:>10}", "malformed placeholder"),
        ("{{amount_cny}}", "malformed placeholder"),
        ("{amount_cny", "malformed placeholder"),
        ("amount_cny}", "malformed placeholder"),
        ("{amount_cny/0}", "division by zero"),
        ("{amount_cny/0.0:.1f}", "division by zero"),
        ("{amount_cny:{x}}", "unknown feature 'x'"),
    ],
)
def test_bad_templates_refused(tmp_path: Path, template: str, needle: str) -> None:
    text = RULE.replace("{risky_call_s_2h/60:.0f} min on risky calls", template.replace('"', '\\"'))
    message = error(tmp_path, text)
    assert message.startswith(f"{LINE['reasons'] + 1}: reasons: "), message
    assert needle in message


def test_bad_second_reason_names_its_own_line(tmp_path: Path) -> None:
    text = RULE + '  - "fine {amount_cny:.0f}"\n  - "bad {amount_cny.real}"\n'
    assert error(tmp_path, text).startswith(f"{LINE['reasons'] + 3}: reasons: malformed")


@pytest.mark.parametrize(
    ("template", "values", "expected"),
    [
        ("{amount_cny}", {"amount_cny": 1234.5}, "1234.5"),
        ("{amount_cny} CNY", {"amount_cny": 800.0}, "800 CNY"),
        ("{amount_cny:.1f}", {"amount_cny": 2.25}, "2.2"),
        ("{amount_cny:.2f}", {"amount_cny": 1 / 3}, "0.33"),
        ("{risky_call_s_2h/60:.0f} min", {"risky_call_s_2h": 1830.0}, "30 min"),
        ("{risky_call_s_2h/60:.1f} min", {"risky_call_s_2h": 90.0}, "1.5 min"),
        ("{risky_call_s_2h/2.5:.0f}", {"risky_call_s_2h": 10.0}, "4"),
        ("{payee_is_new:.0%} new", {"payee_is_new": 1.0}, "100% new"),
        ("{amount_cny:.0%}", {"amount_cny": 0.426}, "43%"),
        ("{amount_cny:.1%}", {"amount_cny": 0.4261}, "42.6%"),
        ("{flagged_contact_24h:d} numbers", {"flagged_contact_24h": 3.0}, "3 numbers"),
        ("{flagged_contact_24h:d}", {"flagged_contact_24h": 2.6}, "3"),
        ("{amount_cny:,}", {"amount_cny": 1234567.0}, "1,234,567.0"),
        (
            "{amount_cny:.0f} CNY, {amount_cny:.0f} again; {elderly:d} elderly",
            {"amount_cny": 5000.0, "elderly": 1.0},
            "5000 CNY, 5000 again; 1 elderly",
        ),
        ("no placeholders at all", {}, "no placeholders at all"),
    ],
)
def test_templates_render(
    tmp_path: Path, template: str, values: dict[str, float], expected: str
) -> None:
    text = RULE.replace("{risky_call_s_2h/60:.0f} min on risky calls", template)
    (rule,) = load_rule_file(write(tmp_path, text))
    assert rule.reasons(row(**values)) == [expected]


# -- hostile values ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("1e400", "finite number"),
        ("-1e400", "finite number"),
        (".inf", "finite number"),
        ("-.inf", "finite number"),
        (".nan", "finite number"),
        ("1e16", "less than or equal to 1000000000000000"),
        ("-1e16", "greater than or equal to -1000000000000000"),
        ("100000000000000000000000000000", "less than or equal to"),
    ],
)
def test_hostile_numbers_refused(tmp_path: Path, value: str, needle: str) -> None:
    message = error(tmp_path, RULE.replace("{gte: 900}", f"{{gte: {value}}}"))
    assert message.startswith("10: when.risky_call_s_2h.gte:"), message
    assert needle in message


def test_numbers_at_the_bounds_load(tmp_path: Path) -> None:
    (rule,) = load_rule_file(write(tmp_path, RULE.replace("{gte: 900}", "{gte: 1e15, lte: -1e15}")))
    assert [v for _, _, v in rule.all_of[:2]] == [1e15, -1e15]


def test_exponent_numbers_load(tmp_path: Path) -> None:
    # PyYAML (YAML 1.1) reads a plain 1e5 as a string; the schema still takes it.
    (rule,) = load_rule_file(write(tmp_path, RULE.replace("{gte: 900}", "{gte: 1e5}")))
    assert rule.all_of[0][2] == 100_000.0


def test_hostile_yaml_becomes_a_rule_error(tmp_path: Path) -> None:
    assert error(tmp_path, RULE + "x: !!python/name:os.system ''\n").startswith(
        f"{LINE['reasons'] + 2}: tag"
    )
    assert "duplicate key 'score'" in error(tmp_path, RULE + "score: 0.5\n")
    assert "aliases" in error(
        tmp_path, RULE.replace("owner: desk", "owner: &o desk\ndescription: *o")
    )


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(RULE.encode() + b"description: caf\xe9\n")
    with pytest.raises(RuleError, match=r"latin1\.yaml:1: cannot read"):
        load_rule_file(path)


def test_not_a_mapping(tmp_path: Path) -> None:
    assert error(tmp_path, "just a string\n").startswith("1: rule: ")


# -- several rules in one file -----------------------------------------------------------


def indented_item(text: str) -> str:
    lines = text.splitlines()
    return "\n".join(["- " + lines[0], *("  " + line for line in lines[1:])]) + "\n"


def test_list_of_rules_loads_each(tmp_path: Path) -> None:
    second = RULE.replace("test-rule", "second-rule").replace("P1", "P2")
    (a, b) = load_rule_file(write(tmp_path, indented_item(RULE) + indented_item(second)))
    assert (a.key, b.key) == ("test-rule@2", "second-rule@2")
    assert b.spec.priority == "P2"


@pytest.mark.parametrize("item", [0, 1, 2])
def test_list_of_rules_errors_carry_the_item_line(tmp_path: Path, item: int) -> None:
    n = len(RULE.splitlines())
    items = [RULE.replace("test-rule", f"rule-{i}") for i in range(3)]
    items[item] = items[item].replace("score: 0.9", "score: 9")
    message = error(tmp_path, "".join(indented_item(t) for t in items))
    assert message.startswith(f"{item * n + LINE['score']}: score:"), message


def test_multi_document_errors_carry_the_document_line(tmp_path: Path) -> None:
    n = len(RULE.splitlines())
    bad = RULE.replace("test-rule", "rule-b").replace("payee_is_new", "nope")
    message = error(tmp_path, RULE + "---\n" + bad)
    assert message.startswith(f"{n + 1 + 11}: when: unknown feature 'nope'"), message


def test_multi_document_file_loads_each(tmp_path: Path) -> None:
    rules = load_rule_file(write(tmp_path, RULE + "---\n" + RULE.replace("test-rule", "rule-b")))
    assert [r.key for r in rules] == ["test-rule@2", "rule-b@2"]


# -- column-wise masks equal row-by-row evaluation ---------------------------------------

NUMBER = CATALOGUE["number"]
SPEC: dict[str, Any] = {
    "id": "prop-rule",
    "version": 1,
    "title": "property rule",
    "typology": "fraud_number",
    "status": "stable",
    "priority": "P2",
    "owner": "tests",
    "on": "number",
    "score": 0.5,
    "reasons": ["r"],
}
CELLS = [0.0, 1.0, 2.5, 3.0, -1.0]
OPS = ["gt", "gte", "lt", "lte", "eq", "ne"]


def as_clauses(triples: list[tuple[int, int, int]]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for feature, op, value in triples:
        out.setdefault(NUMBER[feature], {})[OPS[op]] = CELLS[value]
    return out


triple = st.tuples(
    st.integers(0, len(NUMBER) - 1), st.integers(0, len(OPS) - 1), st.integers(0, len(CELLS) - 1)
)
clauses = st.lists(triple, min_size=1, max_size=3).map(as_clauses)
rule_specs = st.builds(
    lambda when, any_: {**SPEC, "when": when, "any": any_},
    clauses,
    st.lists(clauses, max_size=3),
)
# A flat list of cells cut into rows of the number side's width (cheap to draw).
matrices = st.lists(st.sampled_from([*CELLS, float("nan")]), max_size=12 * len(NUMBER)).map(
    lambda cells: np.array(cells[: len(cells) // len(NUMBER) * len(NUMBER)]).reshape(
        -1, len(NUMBER)
    )
)


SYMBOL = ["<", "<=", ">", ">=", "==", "!="]
comparison = st.builds(
    lambda f, op, v: f"{NUMBER[f]} {SYMBOL[op]} {v:g}",
    st.integers(0, len(NUMBER) - 1),
    st.integers(0, len(SYMBOL) - 1),
    st.sampled_from([0.0, 1.0, 2.5, 3.0]),  # a condition's numbers are never negative
)
conditions = st.recursive(
    comparison,
    lambda inner: st.one_of(
        st.builds(lambda a, b: f"({a} and {b})", inner, inner),
        st.builds(lambda a, b: f"({a} or {b})", inner, inner),
        st.builds(lambda a: f"not ({a})", inner),
    ),
    max_leaves=4,
)
any_rule_specs = st.one_of(
    rule_specs,
    st.builds(lambda c: {**SPEC, "condition": c}, conditions),
    st.builds(lambda when, c: {**SPEC, "when": when, "condition": c}, clauses, conditions),
)


@settings(max_examples=300, deadline=None)
@given(matrices, st.lists(any_rule_specs, min_size=1, max_size=12))
def test_rule_matrix_equals_row_by_row_matches(
    matrix: np.ndarray, specs: list[dict[str, Any]]
) -> None:
    """The whole registry of a kind at once: `when`, `any` groups and conditions (some
    repeated, as variants share theirs), NaN cells included."""
    rules = [compile_rule(spec, {}, "prop.yaml") for spec in specs]
    rules += rules[: len(rules) // 2]
    masks = RuleMatrix(rules).masks(matrix)
    assert masks.dtype == bool and masks.shape == (len(rules), len(matrix))
    for r, rule in enumerate(rules):
        assert masks[r].tolist() == [rule.matches(row) for row in matrix.tolist()]


@settings(max_examples=400, deadline=None)  # cheap, and a screen that drops a rule is silent
@given(matrices, st.lists(any_rule_specs, min_size=1, max_size=6))
def test_gate_screen_never_drops_a_rule_that_matches(
    matrix: np.ndarray, specs: list[dict[str, Any]]
) -> None:
    rules = [compile_rule(spec, {}, "prop.yaml") for spec in specs]
    screen = GateScreen(rules)
    for row in matrix.tolist():
        candidates = screen.candidates(row)
        assert [r for r in candidates if r.matches(row)] == [r for r in rules if r.matches(row)]


@settings(max_examples=300, deadline=None)
@given(matrices, st.lists(any_rule_specs, min_size=1, max_size=40))
def test_gate_screen_keeps_exactly_the_rules_whose_bounds_a_row_meets(
    matrix: np.ndarray, specs: list[dict[str, Any]]
) -> None:
    """The bitmask screen against its definition, in registry order (more rules than a
    machine word, so the masks are Python's long integers)."""
    rules = [compile_rule(spec, {}, "prop.yaml") for spec in specs] * 2
    screen = GateScreen(rules)
    for row in matrix.tolist():
        reached = [r for r in rules if all(s * row[i] >= b for (i, s), b in r.bounds.items())]
        assert screen.candidates(row) == reached


def test_gate_screen_drops_rows_below_a_rules_bounds_including_its_condition() -> None:
    plain = compile_rule({**SPEC, "when": {"fanout_1h": {"gte": 3}}}, {}, "a.yaml")
    spec = {
        **SPEC,
        "when": {"calls_1h": {"gt": 1}},
        "condition": "fanout_1h >= 10 and calls_1h > 2",
    }
    cond = compile_rule(spec, {}, "b.yaml")
    screen = GateScreen([plain, cond])
    assert screen.candidates([3.0, 5.0, 0.0, 0.0, 0.0]) == [plain]
    assert screen.candidates([10.0, 5.0, 0.0, 0.0, 0.0]) == [plain, cond]
    assert screen.candidates([float("nan"), 5.0, 0.0, 0.0, 0.0]) == []
    # a missing feature only drops the rules bounding it
    assert screen.candidates([10.0, float("nan"), 0.0, 0.0, 0.0]) == [plain]


def test_gate_screen_drops_rows_above_a_rules_ceilings_and_off_its_equalities() -> None:
    names = list(NUMBER)
    risky = compile_rule({**SPEC, "when": {"origin_risky": {"eq": 1}}}, {}, "a.yaml")
    spec = {**SPEC, "condition": "active_s <= 1200 and fanout_1h >= 40"}
    new = compile_rule(spec, {}, "b.yaml")
    screen = GateScreen([risky, new])

    def row(**values: float) -> list[float]:
        out = [0.0] * len(names)
        for name, value in values.items():
            out[names.index(name)] = value
        return out

    assert screen.candidates(row(origin_risky=1, fanout_1h=50, active_s=600)) == [risky, new]
    assert screen.candidates(row(origin_risky=0, fanout_1h=50, active_s=600)) == [new]
    assert screen.candidates(row(origin_risky=2, fanout_1h=50, active_s=5000)) == []


def test_rule_matrix_shares_clauses_between_rules() -> None:
    a = compile_rule({**SPEC, "when": {"fanout_1h": {"gte": 3}}}, {}, "a.yaml")
    b = compile_rule(
        {**SPEC, "when": {"fanout_1h": {"gte": 3}}, "any": [{"calls_1h": {"gt": 1}}]}, {}, "b.yaml"
    )
    rules = RuleMatrix([a, b])
    masks = rules.masks(np.array([[3.0, 2.0, 0.0, 0.0, 0.0], [3.0, 1.0, 0.0, 0.0, 0.0]]))
    assert masks.tolist() == [[True, True], [True, False]]
    assert len(rules._position) == 2


def test_rule_is_a_frozen_value() -> None:
    rule = compile_rule({**SPEC, "when": {"fanout_1h": {"gte": 3}}}, {}, "a.yaml")
    assert isinstance(rule, Rule)
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule.all_of = ()  # type: ignore[misc]
