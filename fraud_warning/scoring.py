"""Models stage: every rule and scorer of a trigger kind over a batch's feature rows.

Victim-side rules and LightGBM scorers run column-wise over a micro-batch's trigger
matrix (shared clause masks computed once); number-side rules run per call, because a
number flagged by one call must be flagged for the very next event.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from fraud_warning.metrics import Metrics
from fraud_warning.registry import Registry
from fraud_warning.risk import Verdict
from fraud_warning.rules import MaskCache, Rule


class Models:
    """A registry's models with their metric children resolved once."""

    def __init__(self, registry: Registry, metrics: Metrics) -> None:
        self.registry = registry
        self.metrics = metrics
        self.number_rules = registry.by_kind.get("number", ())
        self._number_gate = registry.gate("number")
        self._number_rows = 0
        # a labels() lookup per rule per call adds up
        self._evaluations = {
            r.key: metrics.model_evaluations.labels(r.spec.id, str(r.spec.version))
            for r in registry
        }
        self._seconds = {r.key: metrics.model_seconds.labels(r.spec.id) for r in registry}

    def number(self, row: Sequence[float]) -> list[Verdict]:
        """The paging number rules that fire on one number row (gated first)."""
        for index, bound in self._number_gate:
            if row[index] < bound:
                return []
        self._number_rows += 1  # every number rule runs on this row (counted per batch)
        fired = []
        for rule in self.number_rules:
            if rule.matches(row):
                self.metrics.model_hits.labels(
                    rule.spec.id, str(rule.spec.version), rule.spec.status
                ).inc()
                if rule.pages:
                    fired.append(verdict_of(rule, row))
        return fired

    def count_number_rows(self) -> None:
        """Add the number rows seen since the last call to every number rule's counter."""
        if self._number_rows:
            for rule in self.number_rules:
                self._evaluations[rule.key].inc(self._number_rows)
            self._number_rows = 0

    def evaluate(
        self, kind: str, values: list[list[float]]
    ) -> tuple[dict[int, list[Verdict]], int]:
        """Every rule and scorer of `kind` over the rows: (row index → paging verdicts,
        hits of models that do not page)."""
        matrix = np.asarray(values, dtype=np.float64)
        cache = MaskCache(matrix)
        per_row: dict[int, list[Verdict]] = defaultdict(list)
        shadow = 0
        m = self.metrics
        for rule in self.registry.by_kind.get(kind, ()):
            started = time.perf_counter()
            self._evaluations[rule.key].inc(len(values))
            idx = np.flatnonzero(cache.rule(rule))
            self._seconds[rule.key].observe(time.perf_counter() - started)
            if not len(idx):
                continue
            m.model_hits.labels(rule.spec.id, str(rule.spec.version), rule.spec.status).inc(
                len(idx)
            )
            if not rule.pages:
                shadow += len(idx)
                continue
            for i in idx.tolist():
                per_row[i].append(verdict_of(rule, values[i]))
        for scorer in self.registry.scorers.get(kind, ()):  # LightGBM, on the same matrix
            card, version = scorer.card, str(scorer.card.version)
            started = time.perf_counter()
            fired = scorer.fire(matrix)
            m.model_seconds.labels(card.id).observe(time.perf_counter() - started)
            m.model_evaluations.labels(card.id, version).inc(fired.evaluated)
            if not len(fired.rows):
                continue
            m.model_hits.labels(card.id, version, card.status).inc(len(fired.rows))
            if not scorer.pages:
                shadow += len(fired.rows)
                continue
            for i, verdict in zip(fired.rows.tolist(), scorer.verdicts(fired), strict=True):
                per_row[i].append(verdict)
        return per_row, shadow


def verdict_of(rule: Rule, row: Sequence[float]) -> Verdict:
    s = rule.spec
    return Verdict(rule.key, s.version, s.score, s.priority, s.typology, tuple(rule.reasons(row)))


__all__ = ["Models", "verdict_of"]
