"""The model registry: every warning model by `id@version`, grouped by trigger kind.

Rules come from `rules/**/*.yaml`; LightGBM scorers will come from `models/*/card.yaml`
(their own issue: a models directory holding a scorer is refused with a clear
"not yet" error rather than ignored).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from fraud_warning.features import CATALOGUE
from fraud_warning.rules import Rule, RuleError, load_rule_file


class RegistryError(ValueError):
    """The registry cannot be built; the message lists every problem found."""


@dataclass(frozen=True)
class Registry:
    rules: tuple[Rule, ...]
    by_kind: dict[str, tuple[Rule, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, rules: list[Rule]) -> Registry:
        active = [r for r in rules if r.spec.status != "deprecated"]
        by_kind = {kind: tuple(r for r in active if r.spec.on == kind) for kind in CATALOGUE}
        return cls(tuple(rules), by_kind)

    def gate(self, kind: str) -> tuple[tuple[int, float], ...]:
        """Lower bounds every rule of `kind` requires: ((feature index, bound), ...).

        A row below any of them cannot fire a rule of that kind, so the engine drops it
        after a few comparisons instead of evaluating every rule (cheap checks first).
        """
        bounds: dict[int, float] | None = None
        for rule in self.by_kind.get(kind, ()):
            mine: dict[int, float] = {}
            for index, op, value in rule.all_of:
                if op in ("gt", "gte"):
                    mine[index] = max(mine.get(index, float("-inf")), value)
            if bounds is None:
                bounds = mine
            else:
                bounds = {i: min(b, mine[i]) for i, b in bounds.items() if i in mine}
        return tuple(sorted((bounds or {}).items()))

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)


def _rule_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.suffix in {".yaml", ".yml"} and p.is_file())


def load_registry(rules_dir: Path | None, models_dir: Path | None = None) -> Registry:
    """Load every rule; all problems are collected and reported together."""
    rules: list[Rule] = []
    problems: list[str] = []
    if rules_dir is not None:
        if not rules_dir.is_dir():
            raise RegistryError(f"rules directory not found: {rules_dir}")
        for path in _rule_files(rules_dir):
            try:
                rules.extend(load_rule_file(path))
            except RuleError as exc:
                problems.append(str(exc))
    seen: dict[str, str] = {}
    for rule in rules:
        if rule.spec.id in seen:
            problems.append(
                f"{rule.source}: duplicate rule id '{rule.spec.id}' (also in {seen[rule.spec.id]})"
            )
        seen[rule.spec.id] = rule.source
    if models_dir is not None and models_dir.is_dir():
        for card in sorted(models_dir.glob("*/card.yaml")):
            problems.append(
                f"{card}: LightGBM scorers are not supported yet (planned in the models issue)"
            )
    if problems:
        raise RegistryError("\n".join(problems))
    return Registry.of(rules)


__all__ = ["Registry", "RegistryError", "load_registry"]
