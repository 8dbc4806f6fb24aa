"""Analyst rules: YAML data validated by a closed schema, compiled to column-wise masks.

A rule names its trigger (`on`), clauses over the shared features (all of `when`, and
at least one group of `any` when given), a score, and reason templates. Rules never
execute code: clauses are (feature, comparison, number) triples and templates only
substitute feature values. Shared clauses are evaluated once per batch for all rules.

Example::

    id: police-impersonation-transfer
    version: 1
    title: Transfer to a new payee after a long call from a risky origin
    typology: impersonating_police
    status: stable
    priority: P1
    owner: anti-fraud-desk
    on: transfer
    when:
      risky_call_s_2h: {gte: 900}
      payee_is_new: {eq: 1}
    score: 0.9
    reasons: ["{risky_call_s_2h/60:.0f} min on calls from risky origins in the last 2 h"]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from fraud_warning.features import CATALOGUE
from fraud_warning.yamlsafe import YamlError, line_of, load_file, schema_error

Status = Literal["experimental", "shadow", "stable", "deprecated"]
Op = Literal["gt", "gte", "lt", "lte", "eq", "ne"]
PRIORITY_RANK = {"P1": 1, "P2": 2, "P3": 3}

_OPS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "gt": np.greater,
    "gte": np.greater_equal,
    "lt": np.less,
    "lte": np.less_equal,
    "eq": np.equal,
    "ne": np.not_equal,
}
_SCALAR_OPS: dict[str, Callable[[float, float], bool]] = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
}
# {feature}, {feature:.1f}, {feature/60:.0f}: substitution only, never attribute access.
_PLACEHOLDER = re.compile(
    r"\{([a-z_][a-z0-9_]*)(?:/([0-9]+(?:\.[0-9]+)?))?(?::(\.[0-6][f%]|d|,))?\}"
)
_BRACE = re.compile(r"[{}]")


def _not_bool(value: Any) -> Any:
    # YAML 1.1 reads yes/no/on/off as booleans, and pydantic would take True as 1.
    # Strings stay allowed: PyYAML reads a plain 1e5 as the string "1e5".
    if isinstance(value, bool):
        raise ValueError("expected a number, not a boolean")
    return value


NotBool = BeforeValidator(_not_bool)
Number = Annotated[float, Field(allow_inf_nan=False, ge=-1e15, le=1e15), NotBool]
Clauses = dict[str, dict[Op, Number]]


class RuleError(ValueError):
    """A rule file that cannot be loaded; the message names file:line and the field."""


class RuleTest(BaseModel):
    """A rule's own example: events that must make it fire, or must leave it quiet.

    Event `ts` may be an offset from the test's start (`+0s`, `+35m`, `+2h`) or an RFC 3339
    time; `event_id` is filled in when absent. Checked by `fraud-warning rules validate`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(min_length=1, max_length=200)]
    expect: Literal["fire", "quiet"]
    events: Annotated[list[dict[str, Any]], Field(min_length=1, max_length=500)]


class RuleSpec(BaseModel):
    """The rule file schema: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{1,79}$")]
    version: Annotated[int, Field(ge=1), NotBool]
    title: Annotated[str, Field(min_length=3, max_length=200)]
    description: str = ""
    typology: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")]
    status: Status
    priority: Literal["P1", "P2", "P3"]
    owner: Annotated[str, Field(min_length=1)]
    on: Literal["transfer", "call", "sms", "number"]
    when: Clauses
    any: list[Clauses] = Field(default_factory=list)
    score: Annotated[float, Field(gt=0, le=1), NotBool]
    realert_s: Annotated[float, Field(ge=0, le=7 * 86400), NotBool] = 3600.0
    reasons: Annotated[list[str], Field(min_length=1)]
    falsepositives: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    references: list[str] = Field(default_factory=list)
    tests: list[RuleTest] = Field(default_factory=list)

    @field_validator("when")
    @classmethod
    def _non_empty(cls, value: Clauses) -> Clauses:
        if not value:
            raise ValueError("a rule needs at least one clause in 'when'")
        return value


ClauseKey = tuple[int, str, float]


@dataclass(frozen=True)
class Rule:
    """A compiled rule: clause keys index the trigger kind's feature columns."""

    spec: RuleSpec
    source: str
    all_of: tuple[ClauseKey, ...]
    any_of: tuple[tuple[ClauseKey, ...], ...]
    templates: tuple[tuple[str, tuple[tuple[str, int, float, str], ...]], ...]
    test_lines: tuple[int, ...] = ()  # line of each entry of spec.tests, for messages

    @cached_property
    def key(self) -> str:
        return f"{self.spec.id}@{self.spec.version}"

    @property
    def pages(self) -> bool:
        """Only stable rules reach the desk; the others score and are counted."""
        return self.spec.status == "stable"

    def matches(self, row: Sequence[float]) -> bool:
        """Scalar evaluation of one feature row (the number side runs per event)."""
        if not all(_SCALAR_OPS[op](row[i], v) for i, op, v in self.all_of):
            return False
        return not self.any_of or any(
            all(_SCALAR_OPS[op](row[i], v) for i, op, v in group) for group in self.any_of
        )

    def reasons(self, row: Sequence[float]) -> list[str]:
        out = []
        for text, slots in self.templates:
            for placeholder, index, divisor, fmt in slots:
                value = row[index] / divisor
                if fmt == "d":
                    rendered = f"{round(value):d}"
                elif fmt:
                    rendered = format(value, fmt)
                else:
                    rendered = f"{value:g}"
                text = text.replace(placeholder, rendered)
            out.append(text)
        return out


class MaskCache:
    """Clause masks over one batch's feature matrix, each computed once for all rules."""

    def __init__(self, matrix: np.ndarray) -> None:
        self.matrix = matrix
        self._masks: dict[ClauseKey, np.ndarray] = {}

    def clause(self, key: ClauseKey) -> np.ndarray:
        mask = self._masks.get(key)
        if mask is None:
            index, op, value = key
            mask = _OPS[op](self.matrix[:, index], value)
            self._masks[key] = mask
        return mask

    def rule(self, rule: Rule) -> np.ndarray:
        mask = np.ones(self.matrix.shape[0], dtype=bool)
        for key in rule.all_of:
            mask &= self.clause(key)
        if rule.any_of:
            either = np.zeros_like(mask)
            for group in rule.any_of:
                part = np.ones_like(mask)
                for key in group:
                    part &= self.clause(key)
                either |= part
            mask &= either
        return mask


def _compile_clauses(
    clauses: Clauses, names: tuple[str, ...], where: str, line: Callable[[str], int], file: str
) -> tuple[ClauseKey, ...]:
    keys: list[ClauseKey] = []
    for feature, ops in clauses.items():
        if feature not in names:
            raise RuleError(
                f"{file}:{line(feature)}: {where}: unknown feature '{feature}' "
                f"(expected one of: {', '.join(names)})"
            )
        if not ops:
            raise RuleError(f"{file}:{line(feature)}: {where}.{feature}: no comparison given")
        keys.extend((names.index(feature), op, float(v)) for op, v in ops.items())
    return tuple(keys)


def _compile_template(
    text: str, names: tuple[str, ...], file: str, line: int
) -> tuple[str, tuple[tuple[str, int, float, str], ...]]:
    slots = []
    for match in _PLACEHOLDER.finditer(text):
        name, divisor, fmt = match.group(1), match.group(2), match.group(3) or ""
        if name not in names:
            raise RuleError(f"{file}:{line}: reasons: unknown feature '{name}' in template")
        div = float(divisor) if divisor else 1.0
        if div == 0:
            raise RuleError(f"{file}:{line}: reasons: division by zero in '{match.group(0)}'")
        slots.append((match.group(0), names.index(name), div, fmt))
    if _BRACE.search(_PLACEHOLDER.sub("", text)):
        raise RuleError(
            f"{file}:{line}: reasons: malformed placeholder in {text!r} "
            "(use {feature}, {feature:.1f} or {feature/60:.0f})"
        )
    return text, tuple(slots)


def compile_rule(data: Any, lines: Mapping[tuple[str | int, ...], int], file: str) -> Rule:
    """Validate one rule document and compile it; RuleError names file:line."""
    try:
        spec = RuleSpec.model_validate(data)
    except ValidationError as exc:
        raise RuleError(schema_error(exc, lines, file, RuleSpec.model_fields, "rule")) from None
    names = CATALOGUE[spec.on]

    def feature_line(*loc: str | int) -> Callable[[str], int]:
        return lambda feature: line_of(lines, (*loc, feature))

    all_of = _compile_clauses(spec.when, names, "when", feature_line("when"), file)
    any_of = tuple(
        _compile_clauses(group, names, f"any[{i}]", feature_line("any", i), file)
        for i, group in enumerate(spec.any)
    )
    templates = tuple(
        _compile_template(text, names, file, line_of(lines, ("reasons", i)))
        for i, text in enumerate(spec.reasons)
    )
    test_lines = tuple(line_of(lines, ("tests", i)) for i in range(len(spec.tests)))
    return Rule(spec, file, all_of, any_of, templates, test_lines)


def load_rule_file(path: Path) -> list[Rule]:
    """Rules in one YAML file (one document per rule, or a list of rules)."""
    file = str(path)
    try:
        documents = load_file(path)
    except YamlError as exc:
        raise RuleError(str(exc)) from None
    rules = []
    for data, lines in documents:
        if isinstance(data, list):
            for i, item in enumerate(data):
                sub = {k[1:]: v for k, v in lines.items() if k[:1] == (i,)}
                rules.append(compile_rule(item, sub, file))
        else:
            rules.append(compile_rule(data, lines, file))
    return rules


__all__ = [
    "PRIORITY_RANK",
    "MaskCache",
    "Rule",
    "RuleError",
    "RuleSpec",
    "RuleTest",
    "compile_rule",
    "load_rule_file",
]
