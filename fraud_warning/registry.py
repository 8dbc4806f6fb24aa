"""The model registry: every warning model by `id@version`, grouped by trigger kind.

Rules come from `rules/**/*.yaml`; LightGBM scorers from `models/*/` (`card.yaml` +
`model.txt`, see `fraud_warning.models`); named lists from `rules/lists/` and a site's
lists directory. A bad rule fails the load; a bad model is refused with a warning naming
it and the rest of the registry keeps running, because a scorer only adds to what the
rules already catch.

Rules' own window features are laid out here: per trigger kind, one column per distinct
feature (after the catalogue's), shared by every rule that defines it the same way.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from fraud_warning.features import CATALOGUE
from fraud_warning.lists import LISTS_DIR, ListError, items_of, load_lists
from fraud_warning.rules import Rule, RuleError, load_rule_file
from fraud_warning.windowlang import WindowError, WindowSpec
from fraud_warning.windows import EMPTY, Windows

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
    windows: Windows = EMPTY  # the rules' window features, laid out and bound to lists
    lists: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # name → items

    @classmethod
    def of(
        cls,
        rules: Sequence[Rule],
        models: tuple[Scorer, ...] = (),
        problems: tuple[str, ...] = (),
        lists: Mapping[str, tuple[str, ...]] | None = None,
    ) -> Registry:
        """Group and bind the rules; RegistryError when a rule names a missing list."""
        lists = dict(lists or {})
        layout: dict[str, dict[str, WindowSpec]] = {kind: {} for kind in CATALOGUE}
        for rule in rules:
            if rule.spec.status != "deprecated":
                for _, window in rule.windows:
                    layout[rule.spec.on].setdefault(window.fid, window)
        windows = _bind_windows(rules, layout, lists)
        bound = [
            r.bind(tuple(layout[r.spec.on])) if r.spec.status != "deprecated" else r for r in rules
        ]
        active = [r for r in bound if r.spec.status != "deprecated"]
        by_kind = {kind: tuple(r for r in active if r.spec.on == kind) for kind in CATALOGUE}
        live = [m for m in models if m.card.status != "deprecated"]
        scorers = {kind: tuple(m for m in live if m.card.trigger == kind) for kind in CATALOGUE}
        return cls(tuple(bound), by_kind, scorers, models, problems, windows, lists)

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


def _bind_windows(
    rules: Sequence[Rule],
    layout: Mapping[str, Mapping[str, WindowSpec]],
    lists: Mapping[str, tuple[str, ...]],
) -> Windows:
    problems = []
    for rule in rules:
        for name, window in rule.windows:
            missing = sorted(window.lists() - set(lists))
            if missing:
                line = rule.lines.get(("features", name), 1)
                known = ", ".join(f"${n}" for n in sorted(lists)) or "none"
                problems.append(
                    f"{rule.source}:{line}: features.{name}: unknown list "
                    f"'${missing[0]}' (lists: {known})"
                )
    if problems:
        raise RegistryError("\n".join(problems))
    try:
        return Windows({kind: tuple(specs.values()) for kind, specs in layout.items()}, lists)
    except WindowError as exc:  # the check above makes this unreachable; kept for safety
        raise RegistryError(str(exc)) from None


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
    lists_dir: Path | None = None,
    warn: Callable[[str], None] = _stderr,
) -> Registry:
    """Load every rule, named list (`rules_dir/lists`, then the site's `lists_dir` on
    top) and model. Rule and list problems are collected and raised together; a refused
    model is passed to `warn` (stderr by default) and left out, and so is a deprecated
    rule, which loads but never runs."""
    rules: list[Rule] = []
    problems: list[str] = []
    lists: dict[str, tuple[str, ...]] = {}
    if rules_dir is not None:
        if not rules_dir.is_dir():
            raise RegistryError(f"rules directory not found: {rules_dir}")
        for path in rule_files(rules_dir):
            try:
                rules.extend(load_rule_file(path))
            except RuleError as exc:
                problems.append(str(exc))
    try:
        lists = items_of(load_lists(rules_dir / LISTS_DIR if rules_dir else None, lists_dir))
    except ListError as exc:
        problems.append(str(exc))
    problems.extend(duplicate_ids(rules))
    if problems:
        raise RegistryError("\n".join(problems))
    for rule in rules:
        if rule.spec.status == "deprecated":
            warn(f"{rule.source}: rule {rule.key} is deprecated: loaded, never run")
    if models_dir is None or not models_dir.is_dir():
        return Registry.of(rules, lists=lists)
    from fraud_warning.models.load import load_models  # LightGBM is imported only when used

    loaded = load_models(models_dir, frozenset(r.spec.id for r in rules))
    for problem in loaded.problems:
        warn(problem)
    return Registry.of(rules, loaded.every, loaded.problems, lists)


__all__ = ["LISTS_DIR", "Registry", "RegistryError", "duplicate_ids", "load_registry", "rule_files"]
