"""Models stage: every rule and scorer of a trigger kind over a batch's feature rows.

Victim-side rules and LightGBM scorers run column-wise over a micro-batch's trigger
matrix (all rules of a kind in a few numpy calls, see RuleMatrix); number-side rules run
per call or SMS, screened by their bounds (number_rules, compiled), because a number
flagged by one must be flagged for the very next event.

Models that fire but do not page (`shadow`, `experimental`) come back beside the paging
verdicts, with their status, for the shadow log.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from fraud_warning.features import NUMBER_KINDS, clears
from fraud_warning.metrics import Metrics
from fraud_warning.number_rules import NOTHING_FIRED, Fired, NumberRules
from fraud_warning.registry import Registry
from fraud_warning.risk import Verdict
from fraud_warning.rules import Rule, RuleMatrix

Shadowed = tuple[str, Verdict]  # (status, verdict) of a model that fired without paging


class Models:
    """A registry's models, compiled for the hot path, with their metric groups."""

    def __init__(self, registry: Registry, metrics: Metrics) -> None:
        self.registry = registry
        # even for one or two rules the bitmask screen costs less than checking each
        self._number = {
            kind: NumberRules(registry.by_kind.get(kind, ()), Verdict) for kind in NUMBER_KINDS
        }
        # per number kind, the bounds a row must reach for any rule to fire (the compiled
        # loops of the embedded engine and the number stage check them before `number`)
        self.number_gates = {kind: registry.gate(kind) for kind in NUMBER_KINDS}
        self._victim_rules = {
            kind: RuleMatrix(rules)
            for kind, rules in registry.by_kind.items()
            if rules and kind not in NUMBER_KINDS
        }
        self._number_rows = dict.fromkeys(NUMBER_KINDS, 0)
        stats = self._stats = metrics.models
        # the rules of a kind are evaluated (and counted) together; each scorer alone
        self._groups = {
            kind: stats.group([(r.spec.id, str(r.spec.version)) for r in rules])
            for kind, rules in registry.by_kind.items()
        }
        self._labels = {r.key: (r.spec.id, str(r.spec.version), r.spec.status) for r in registry}
        self._scorer_groups = {
            id(scorer): stats.group([(scorer.card.id, str(scorer.card.version))])
            for scorers in registry.scorers.values()
            for scorer in scorers
        }

    def number(self, row: list[float], kind: str = "number") -> Fired:
        """The number rules of `kind` (a call: `number`, an SMS: `number_sms`) that fire
        on one number row (gated first)."""
        if not clears(self.number_gates[kind], row):
            return NOTHING_FIRED
        self._number_rows[kind] += 1  # every rule of the kind ran on it (counted per batch)
        return self._number[kind].fire(row)

    def count_number_rows(self) -> None:
        """Count the number rows seen, and the number rules' hits, since the last call."""
        for kind, n in self._number_rows.items():
            if n:
                self._groups[kind].evaluated(n)
                self._number_rows[kind] = 0
            for rule, hits in self._number[kind].take_hits():
                self._stats.hit(*self._labels[rule.key], hits)

    def evaluate(
        self, kind: str, values: list[list[float]]
    ) -> tuple[dict[int, list[Verdict]], dict[int, list[Shadowed]]]:
        """Every rule and scorer of `kind` over the rows: (row index → paging verdicts,
        row index → what fired without paging)."""
        matrix = np.asarray(values, dtype=np.float64)
        per_row: dict[int, list[Verdict]] = defaultdict(list)
        shadow: dict[int, list[Shadowed]] = defaultdict(list)
        stats = self._stats
        rules = self._victim_rules.get(kind)
        if rules is not None:
            started = time.perf_counter()
            masks = rules.masks(matrix)
            group = self._groups[kind]
            group.timed(time.perf_counter() - started)
            group.evaluated(len(values))
            hits = masks.sum(axis=1)
            for r in np.flatnonzero(hits).tolist():
                stats.hit(*self._labels[rules.rules[r].key], int(hits[r]))
            fired_rules, fired_rows = np.nonzero(masks)  # rule-major: registry order per row
            for r, i in zip(fired_rules.tolist(), fired_rows.tolist(), strict=True):
                rule = rules.rules[r]
                if rule.pages:
                    per_row[i].append(verdict_of(rule, values[i]))
                else:
                    shadow[i].append((rule.spec.status, verdict_of(rule, values[i])))
        for scorer in self.registry.scorers.get(kind, ()):  # LightGBM, on the same matrix
            card, version = scorer.card, str(scorer.card.version)
            started = time.perf_counter()
            fired = scorer.fire(matrix)
            group = self._scorer_groups[id(scorer)]
            group.timed(time.perf_counter() - started)
            group.evaluated(fired.evaluated)
            if not len(fired.rows):
                continue
            stats.hit(card.id, version, card.status, len(fired.rows))
            for i, verdict in zip(fired.rows.tolist(), scorer.verdicts(fired), strict=True):
                if scorer.pages:
                    per_row[i].append(verdict)
                else:
                    shadow[i].append((card.status, verdict))
        return per_row, shadow


def verdict_of(rule: Rule, row: Sequence[float]) -> Verdict:
    s = rule.spec
    return Verdict(rule.key, s.version, s.score, s.priority, s.typology, tuple(rule.reasons(row)))


__all__ = ["Fired", "Models", "Shadowed", "verdict_of"]
