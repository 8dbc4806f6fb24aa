"""Per-model evaluations, hits and time, counted in plain Python, exposed at scrape time.

The engine evaluates every rule of a trigger kind in one pass per batch. Through
prometheus_client's labelled children that still meant two locked calls per rule per
batch (evaluations, time): with a thousand rules and the live runner's small batches,
more than the pass itself. Here the rules evaluated together form a :class:`ModelGroup`
that counts once per batch for all of its members (they all saw the same rows and each
is charged an equal share of the pass's time); hits, which are sparse, are added per
model. The collector turns the groups into the usual families when scraped:
`fraud_warning_model_evaluations_total`, `fraud_warning_model_hits_total` and the
`fraud_warning_model_seconds` histogram.

Groups are shared: asking for the same members again (another partition's task, the
same registry after a rebalance) returns the same group, so there is one per trigger kind
and scorer per registry ever loaded. Those of an earlier registry stay: their counts
must not fall, and a model kept across a reload goes on from where it was.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

Model = tuple[str, str]  # (model_id, version)


class ModelGroup:
    """Models evaluated together on the same rows (one kind's rules, or one scorer)."""

    __slots__ = ("_bounds", "buckets", "members", "rows", "seconds")

    def __init__(self, members: Sequence[Model], bounds: Sequence[float]) -> None:
        self.members = tuple(members)
        self._bounds = tuple(bounds)
        self.rows = 0.0
        self.seconds = 0.0  # one member's share, summed over passes
        self.buckets = [0] * (len(bounds) + 1)  # per bucket, not cumulative; last: +Inf

    def evaluated(self, rows: float) -> None:
        """Every member was evaluated on `rows` more trigger rows."""
        self.rows += rows

    def timed(self, seconds: float) -> None:
        """One pass took `seconds`; each member is charged an equal share."""
        share = seconds / len(self.members) if self.members else 0.0
        self.seconds += share
        self.buckets[bisect_left(self._bounds, share)] += 1


class ModelStats(Collector):
    """The three per-model families, registered on `registry`."""

    def __init__(self, registry: CollectorRegistry, buckets: Sequence[float]) -> None:
        self._bounds = tuple(sorted(buckets))
        self._by_members: dict[tuple[Model, ...], ModelGroup] = {}
        self._hits: dict[tuple[str, str, str], float] = {}
        self._lock = threading.Lock()  # the groups' dict only; counts are single-writer
        registry.register(self)

    def group(self, members: Sequence[Model]) -> ModelGroup:
        """The group counting these models together (made on first use)."""
        key = tuple(members)
        with self._lock:
            group = self._by_members.get(key)
            if group is None:
                group = self._by_members[key] = ModelGroup(key, self._bounds)
        return group

    def _groups(self) -> list[ModelGroup]:
        # copied under the lock: a scrape must not iterate the dict while a group is added
        with self._lock:
            return list(self._by_members.values())

    def hit(self, model_id: str, version: str, status: str, n: float = 1) -> None:
        key = (model_id, version, status)
        self._hits[key] = self._hits.get(key, 0.0) + n

    def evaluations(self) -> dict[Model, float]:
        out: dict[Model, float] = {}
        for group in self._groups():
            for member in group.members:
                out[member] = out.get(member, 0.0) + group.rows
        return out

    def collect(self) -> Iterator[Metric]:
        evaluations = CounterMetricFamily(
            "fraud_warning_model_evaluations",
            "Trigger rows a model was evaluated on",
            labels=["model_id", "version"],
        )
        for (model_id, version), rows in sorted(self.evaluations().items()):
            evaluations.add_metric([model_id, version], rows)
        yield evaluations

        hits = CounterMetricFamily(
            "fraud_warning_model_hits",
            "Trigger rows a model fired on (shadow and experimental included)",
            labels=["model_id", "version", "status"],
        )
        for key, n in sorted(dict(self._hits).items()):
            hits.add_metric(list(key), n)
        yield hits

        per_model: dict[str, tuple[list[int], float]] = {}
        for group in self._groups():
            counts = list(group.buckets)  # copied first: the sum may lag it by one pass
            for model_id, _version in group.members:
                total, seconds = per_model.get(model_id, ([0] * len(counts), 0.0))
                per_model[model_id] = (
                    [a + b for a, b in zip(total, counts, strict=True)],
                    seconds + group.seconds,
                )
        seconds_family = HistogramMetricFamily(
            "fraud_warning_model_seconds",
            "Wall time per batch spent evaluating one model (rules evaluated together: "
            "an equal share of their pass)",
            labels=["model_id"],
        )
        for model_id, (counts, seconds) in sorted(per_model.items()):
            cumulative, buckets = 0, []
            for bound, n in zip((*self._bounds, float("inf")), counts, strict=True):
                cumulative += n
                buckets.append(("+Inf" if bound == float("inf") else _le(bound), cumulative))
            seconds_family.add_metric([model_id], buckets, seconds)
        yield seconds_family


def _le(bound: float) -> str:
    """A bucket bound as prometheus_client writes it (0.001, 1.0, 60.0)."""
    return repr(float(bound))


__all__ = ["ModelGroup", "ModelStats"]
