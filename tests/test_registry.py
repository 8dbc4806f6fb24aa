"""The registry: every rule file loaded, every problem reported at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fraud_warning.features import CATALOGUE
from fraud_warning.registry import Registry, RegistryError, load_registry
from fraud_warning.rules import compile_rule

SHIPPED_RULES = Path(__file__).resolve().parents[1] / "rules"
SHIPPED_MODELS = Path(__file__).resolve().parents[1] / "models"


def rule_yaml(
    rule_id: str, on: str = "transfer", status: str = "stable", when: str = "amount_cny: {gte: 100}"
) -> str:
    return f"""\
id: {rule_id}
version: 1
title: Rule {rule_id}
typology: test_typology
status: {status}
priority: P2
owner: tests
on: {on}
when:
  {when}
score: 0.5
reasons: ["fired"]
"""


def put(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def problems(rules_dir: Path | None, models_dir: Path | None = None) -> list[str]:
    with pytest.raises(RegistryError) as info:
        load_registry(rules_dir, models_dir)
    return str(info.value).splitlines()


def test_rules_in_nested_dirs_and_both_suffixes(tmp_path: Path) -> None:
    put(tmp_path, "victim/a.yaml", rule_yaml("rule-a"))
    put(tmp_path, "number/b.yml", rule_yaml("rule-b", on="number", when="fanout_1h: {gte: 30}"))
    put(tmp_path, "notes.md", "not a rule")
    put(tmp_path, "c.yaml.bak", "id: [broken")
    registry = load_registry(tmp_path)
    assert len(registry) == 2
    assert {r.spec.id for r in registry} == {"rule-a", "rule-b"}
    assert [r.spec.id for r in registry.by_kind["transfer"]] == ["rule-a"]
    assert [r.spec.id for r in registry.by_kind["number"]] == ["rule-b"]
    assert registry.by_kind["sms"] == () and registry.by_kind["call"] == ()


def test_no_rules_dir_is_an_empty_registry() -> None:
    registry = load_registry(None)
    assert len(registry) == 0
    assert set(registry.by_kind) == set(CATALOGUE)


def test_missing_rules_dir(tmp_path: Path) -> None:
    assert problems(tmp_path / "nope") == [f"rules directory not found: {tmp_path / 'nope'}"]


def test_duplicate_ids_across_files_name_both(tmp_path: Path) -> None:
    first = put(tmp_path, "a/one.yaml", rule_yaml("same-id"))
    second = put(tmp_path, "b/two.yaml", rule_yaml("same-id", on="call", when="elderly: {eq: 1}"))
    (line,) = problems(tmp_path)
    assert "duplicate rule id 'same-id'" in line
    assert str(first) in line and str(second) in line


def test_every_problem_is_collected(tmp_path: Path) -> None:
    bad_score = put(tmp_path, "a.yaml", rule_yaml("rule-a").replace("score: 0.5", "score: 5"))
    bad_feature = put(tmp_path, "b.yaml", rule_yaml("rule-b", when="nope: {gt: 1}"))
    put(tmp_path, "c.yaml", rule_yaml("rule-c"))
    lines = problems(tmp_path)
    assert len(lines) == 2
    assert lines[0].startswith(f"{bad_score}:11: score:")
    assert lines[1].startswith(f"{bad_feature}:10: when: unknown feature 'nope'")


def test_bad_files_and_duplicates_all_reported_together(tmp_path: Path) -> None:
    rules, models = tmp_path / "rules", tmp_path / "models"
    put(rules, "a.yaml", rule_yaml("dup"))
    put(rules, "b.yaml", rule_yaml("dup"))
    put(rules, "c.yaml", "id: [unclosed\n")
    put(models, "lgbm-1/card.yaml", "id: lgbm-1\n")
    lines = problems(rules, models)
    assert len(lines) == 2
    assert any("c.yaml:" in line and "invalid YAML" in line for line in lines)
    assert any("duplicate rule id 'dup'" in line for line in lines)


def test_a_bad_model_is_refused_by_name_and_the_rules_still_load(tmp_path: Path) -> None:
    # scorers only add to the rules: a broken one warns and is left out (tests/models/)
    put(tmp_path / "rules", "a.yaml", rule_yaml("rule-a"))
    model = put(tmp_path / "models", "scam-scorer/card.yaml", "id: scam-scorer\n").parent
    warnings: list[str] = []
    registry = load_registry(tmp_path / "rules", tmp_path / "models", warn=warnings.append)
    assert len(registry) == 1 and registry.models == ()
    (line,) = warnings
    assert line.startswith(f"{model}: refused: card.yaml:1:")
    assert registry.model_problems == (line,)


def test_models_dir_without_cards_is_fine(tmp_path: Path) -> None:
    put(tmp_path / "models", "README.md", "nothing yet")
    put(tmp_path / "models", "card.yaml", "not inside a model's own directory")
    assert len(load_registry(None, tmp_path / "models")) == 0
    assert len(load_registry(None, tmp_path / "absent")) == 0


def test_deprecated_rules_are_listed_but_not_evaluated(tmp_path: Path) -> None:
    put(tmp_path, "old.yaml", rule_yaml("old-rule", status="deprecated"))
    put(tmp_path, "new.yaml", rule_yaml("new-rule"))
    put(tmp_path, "shadow.yaml", rule_yaml("shadow-rule", status="shadow"))
    registry = load_registry(tmp_path)
    assert {r.spec.id for r in registry} == {"old-rule", "new-rule", "shadow-rule"}
    assert {r.spec.id for r in registry.by_kind["transfer"]} == {"new-rule", "shadow-rule"}
    assert all(r.spec.id != "old-rule" for kind in registry.by_kind.values() for r in kind)


def test_shipped_rules_load() -> None:
    registry = load_registry(SHIPPED_RULES, SHIPPED_MODELS)
    assert len(registry) >= 10
    ids = [r.spec.id for r in registry]
    assert len(ids) == len(set(ids))
    assert registry.by_kind["transfer"] and registry.by_kind["number"]
    for rule in registry:
        assert rule.source.startswith(str(SHIPPED_RULES))
        assert rule.spec.reasons and rule.spec.owner


# -- the gate: lower bounds shared by every rule of a kind -------------------------------

NUMBER = CATALOGUE["number"]
SPEC: dict[str, Any] = {
    "version": 1,
    "title": "gate rule",
    "typology": "fraud_number",
    "status": "stable",
    "priority": "P2",
    "owner": "tests",
    "on": "number",
    "score": 0.5,
    "reasons": ["r"],
}


def number_rule(rule_id: str, when: dict[str, dict[str, float]], status: str = "stable") -> Any:
    return compile_rule({**SPEC, "id": rule_id, "when": when, "status": status}, {}, "x.yaml")


def test_gate_keeps_the_loosest_shared_bound() -> None:
    fanout, calls = NUMBER.index("fanout_1h"), NUMBER.index("calls_1h")
    registry = Registry.of(
        [
            number_rule("r-a", {"fanout_1h": {"gte": 30, "gt": 10}, "calls_1h": {"gt": 5}}),
            number_rule("r-b", {"fanout_1h": {"gt": 20}, "calls_1h": {"gte": 8}}),
            number_rule("r-c", {"fanout_1h": {"gte": 1}}, status="deprecated"),
        ]
    )
    assert registry.gate("number") == ((fanout, 20.0), (calls, 5.0))
    assert registry.gate("sms") == ()


def test_a_rule_without_lower_bounds_opens_the_gate() -> None:
    registry = Registry.of(
        [
            number_rule("r-a", {"fanout_1h": {"gte": 30}}),
            number_rule("r-b", {"short_call_ratio_1h": {"lte": 0.2}}),
        ]
    )
    assert registry.gate("number") == ()


CELLS = [0.0, 1.0, 2.0, 3.0]
OPS = ["gt", "gte", "lt", "lte", "eq", "ne"]
clause = st.tuples(st.sampled_from(NUMBER), st.sampled_from(OPS), st.sampled_from(CELLS))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(clause, min_size=1, max_size=3), min_size=1, max_size=4),
    st.lists(
        st.lists(st.sampled_from(CELLS), min_size=len(NUMBER), max_size=len(NUMBER)),
        min_size=1,
        max_size=8,
    ),
)
def test_a_row_the_gate_drops_fires_no_rule(
    rule_clauses: list[list[tuple[str, str, float]]], rows: list[list[float]]
) -> None:
    rules = []
    for i, clauses in enumerate(rule_clauses):
        when: dict[str, dict[str, float]] = {}
        for feature, op, value in clauses:
            when.setdefault(feature, {})[op] = value
        rules.append(number_rule(f"rule-{i}", when))
    gate = Registry.of(rules).gate("number")
    for row in np.array(rows).tolist():
        if any(row[index] < bound for index, bound in gate):
            assert not any(rule.matches(row) for rule in rules), (gate, row)


def test_a_deprecated_rule_warns_at_load_and_never_runs(tmp_path: Path) -> None:
    text = (SHIPPED_RULES / "victim" / "police-impersonation-transfer.yaml").read_text()
    (tmp_path / "old.yaml").write_text(text.replace("status: stable", "status: deprecated"))
    warnings: list[str] = []
    registry = load_registry(tmp_path, warn=warnings.append)
    assert warnings == [
        f"{tmp_path / 'old.yaml'}: rule police-impersonation-transfer@1 is deprecated: "
        "loaded, never run"
    ]
    assert len(registry) == 1 and registry.by_kind["transfer"] == ()
