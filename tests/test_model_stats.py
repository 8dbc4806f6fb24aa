"""Per-model metrics: counted per group of rules evaluated together, exposed at scrape.

The families must read as prometheus_client's own counters and histogram did (names,
labels, cumulative buckets), stay monotonic across registry swaps, and count what the
engine actually evaluated: every trigger row of a kind, for every rule of that kind.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from fraud_warning.decode import Decoder
from fraud_warning.engine import Engine
from fraud_warning.feed.generate import generate_feed
from fraud_warning.metrics import LATENCY_BUCKETS, Metrics
from fraud_warning.model_stats import ModelStats
from fraud_warning.registry import load_registry

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("stats-city")
    generate_feed(out, subscribers=600, hours=6, seed=7, fraud_rate=40)
    return out


def samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(registry).decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_groups_count_rows_for_every_member_and_share_their_time() -> None:
    registry = CollectorRegistry()
    stats = ModelStats(registry, LATENCY_BUCKETS)
    group = stats.group([("a", "1"), ("b", "2")])
    assert stats.group([("a", "1"), ("b", "2")]) is group  # another task, the same group
    group.evaluated(10)
    group.evaluated(5)
    group.timed(0.004)  # 2 ms each: the 2.5 ms bucket
    group.timed(0.3)  # 150 ms each: the 250 ms bucket
    stats.hit("a", "1", "stable", 3)
    stats.hit("a", "1", "stable")
    got = samples(registry)
    assert (
        got[("fraud_warning_model_evaluations_total", (("model_id", "a"), ("version", "1")))] == 15
    )
    assert (
        got[("fraud_warning_model_evaluations_total", (("model_id", "b"), ("version", "2")))] == 15
    )
    hits = (
        "fraud_warning_model_hits_total",
        (("model_id", "a"), ("status", "stable"), ("version", "1")),
    )
    assert got[hits] == 4
    assert not any(
        name == "fraud_warning_model_hits_total" and ("model_id", "b") in labels
        for name, labels in got
    )

    def bucket(le: str) -> float:
        return got[("fraud_warning_model_seconds_bucket", (("le", le), ("model_id", "b")))]

    assert bucket("0.001") == 0
    assert bucket("0.0025") == 1
    assert bucket("0.1") == 1
    assert bucket("0.25") == 2
    assert bucket("+Inf") == 2
    assert got[("fraud_warning_model_seconds_count", (("model_id", "b"),))] == 2
    assert abs(got[("fraud_warning_model_seconds_sum", (("model_id", "b"),))] - 0.152) < 1e-9


def test_a_model_kept_across_a_reload_goes_on_counting() -> None:
    registry = CollectorRegistry()
    stats = ModelStats(registry, LATENCY_BUCKETS)
    stats.group([("a", "1"), ("b", "1")]).evaluated(7)
    stats.group([("a", "1"), ("c", "1")]).evaluated(2)  # b removed, c added: a kept
    got = samples(registry)

    def evaluations(model: str) -> float:
        return got[
            ("fraud_warning_model_evaluations_total", (("model_id", model), ("version", "1")))
        ]

    assert (evaluations("a"), evaluations("b"), evaluations("c")) == (9, 7, 2)


def test_the_engine_counts_every_trigger_row_for_every_rule_of_its_kind(city: Path) -> None:
    """The shipped registry over a generated city: each call rule saw every call row,
    each transfer rule every transfer row, and their hits are the alerts' model counts
    at most (a rule fires on rows a re-alert window then folds into an open incident)."""
    metrics = Metrics()
    registry = load_registry(ROOT / "rules", ROOT / "models")
    engine = Engine(registry, metrics=metrics)
    rows = {"call": 0, "transfer": 0}
    original = engine._evaluate

    def counting(kind, trigger_rows, values, out):  # type: ignore[no-untyped-def]
        rows[kind] = rows.get(kind, 0) + len(values)
        return original(kind, trigger_rows, values, out)

    engine._evaluate = counting  # type: ignore[method-assign]
    good, _ = Decoder().decode_lines(
        enumerate((city / "events.jsonl").read_bytes().splitlines(), 1)
    )
    for i in range(0, len(good), 500):
        engine.process(good[i : i + 500])
    got = samples(metrics.registry)
    assert rows["call"] > 0 and rows["transfer"] > 0
    for rule in registry:
        if rule.spec.on not in rows:
            continue
        labels = (("model_id", rule.spec.id), ("version", str(rule.spec.version)))
        assert got[("fraud_warning_model_evaluations_total", labels)] == rows[rule.spec.on], (
            rule.key
        )
        seconds = got[("fraud_warning_model_seconds_count", (("model_id", rule.spec.id),))]
        assert seconds > 0  # timed once per batch that had rows of its kind
    fired = sum(
        value for (name, _), value in got.items() if name == "fraud_warning_model_hits_total"
    )
    assert fired > 0
