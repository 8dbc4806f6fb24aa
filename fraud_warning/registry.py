"""The model registry: every warning model by `id@version`, grouped by trigger kind.

Rules come from `rules/**/*.yaml`; LightGBM scorers from `models/*/` (`card.yaml` +
`model.txt`, see `fraud_warning.models`). A bad rule fails the load; a bad model is
refused with a warning naming it and the rest of the registry keeps running, because a
scorer only adds to what the rules already catch.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from fraud_warning.features import CATALOGUE
from fraud_warning.rules import Rule, RuleError, load_rule_file

if TYPE_CHECKING:
    from fraud_warning.models.scorer import Scorer


class RegistryError(ValueError):
    """The registry cannot be built; the message lists every problem found."""


@dataclass(frozen=True)
class Registry:
    rules: tuple[Rule, ...]
    by_kind: dict[str, tuple[Rule, ...]] = field(default_factory=dict)
    # LightGBM scorers the stream runs, by trigger kind (deprecated and table models left out)
    scorers: dict[str, tuple[Scorer, ...]] = field(default_factory=dict)
    models: tuple[Scorer, ...] = ()  # every model that loaded, for listing
    model_problems: tuple[str, ...] = ()  # models refused at load, one line each

    @classmethod
    def of(
        cls, rules: list[Rule], models: tuple[Scorer, ...] = (), problems: tuple[str, ...] = ()
    ) -> Registry:
        active = [r for r in rules if r.spec.status != "deprecated"]
        by_kind = {kind: tuple(r for r in active if r.spec.on == kind) for kind in CATALOGUE}
        live = [m for m in models if m.card.status != "deprecated"]
        scorers = {kind: tuple(m for m in live if m.card.trigger == kind) for kind in CATALOGUE}
        return cls(tuple(rules), by_kind, scorers, models, problems)

    def gate(self, kind: str) -> tuple[tuple[int, float], ...]:
        """Lower bounds every rule of `kind` requires: ((feature index, bound), ...).

        A row below any of them cannot fire a rule of that kind, so the engine drops it
        after a few comparisons instead of evaluating every rule (cheap checks first).
        """
        bounds: dict[int, float] | None = None
        for rule in self.by_kind.get(kind, ()):
            mine = rule.gates
            if bounds is None:
                bounds = dict(mine)
            else:
                bounds = {i: min(b, mine[i]) for i, b in bounds.items() if i in mine}
        return tuple(sorted((bounds or {}).items()))

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)


LISTS_DIR = "lists"  # named lists live beside the rules, and are not rules


def rule_files(directory: Path) -> list[Path]:
    """The rule files under `directory` (`*.yaml`, `*.yml`, recursively; not `lists/`)."""
    return sorted(
        p
        for p in directory.rglob("*")
        if p.suffix in {".yaml", ".yml"}
        and p.is_file()
        and LISTS_DIR not in p.relative_to(directory).parts[:-1]
    )


def _stderr(problem: str) -> None:
    print(f"fraud-warning: warning: {problem}", file=sys.stderr)


def duplicate_ids(rules: list[Rule]) -> list[str]:
    """A problem line for every rule whose id an earlier rule already has."""
    seen: dict[str, str] = {}
    problems = []
    for rule in rules:
        if rule.spec.id in seen:
            problems.append(
                f"{rule.source}: duplicate rule id '{rule.spec.id}' (also in {seen[rule.spec.id]})"
            )
        seen[rule.spec.id] = rule.source
    return problems


def load_registry(
    rules_dir: Path | None,
    models_dir: Path | None = None,
    *,
    warn: Callable[[str], None] = _stderr,
) -> Registry:
    """Load every rule and model. Rule problems are collected and raised together; a
    refused model is passed to `warn` (stderr by default) and left out."""
    rules: list[Rule] = []
    problems: list[str] = []
    if rules_dir is not None:
        if not rules_dir.is_dir():
            raise RegistryError(f"rules directory not found: {rules_dir}")
        for path in rule_files(rules_dir):
            try:
                rules.extend(load_rule_file(path))
            except RuleError as exc:
                problems.append(str(exc))
    problems.extend(duplicate_ids(rules))
    if problems:
        raise RegistryError("\n".join(problems))
    if models_dir is None or not models_dir.is_dir():
        return Registry.of(rules)
    from fraud_warning.models.load import load_models  # LightGBM is imported only when used

    loaded = load_models(models_dir, frozenset(r.spec.id for r in rules))
    for problem in loaded.problems:
        warn(problem)
    return Registry.of(rules, loaded.every, loaded.problems)


__all__ = ["LISTS_DIR", "Registry", "RegistryError", "duplicate_ids", "load_registry", "rule_files"]
