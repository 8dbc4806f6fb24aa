"""A task saved and restored mid-feed carries on as if nothing happened: the pipeline's
alerts still equal the embedded engine's."""

from __future__ import annotations

import random

import msgspec
import pytest

from fraud_warning.decode import Decoded
from fraud_warning.refdata import RefData
from fraud_warning.registry import Registry
from fraud_warning.stages import snapshot
from fraud_warning.stages.local import LocalPipeline
from fraud_warning.stages.records import NUMBER
from fraud_warning.stages.tasks import STAGES, Context

from .conftest import canonical


@pytest.mark.parametrize("rules", ["shipped", "windowed"])
def test_every_task_restored_from_its_snapshot_mid_feed_gives_the_same_alerts(
    city: tuple[list[Decoded], Registry, RefData],
    embedded: list[str],
    windowed: tuple[Registry, list[str]],
    rules: str,
) -> None:
    events, registry, refdata = city
    if rules == "windowed":
        registry, embedded = windowed
    ctx = Context(registry, refdata, partitions=dict.fromkeys(STAGES, 2))
    pipe = LocalPipeline(ctx, random.Random(5))
    half = len(events) // 2
    pipe.ingest(events[:half], batch=101)
    sizes = 0
    held = 0  # keys holding rule-defined windows
    for stage, tasks in pipe.tasks.items():
        for p, task in enumerate(tasks):
            data = snapshot.dump(task, snapshot.Positions(offset=p, sent={"x": 3}))
            sizes += len(data)
            restored, positions = snapshot.load(ctx, data)
            assert (restored.stage, restored.partition) == (stage, p)
            assert positions.offset == p and positions.sent == {"x": 3}
            # the snapshot holds everything: dumping the restored task gives the same bytes
            assert snapshot.dump(restored, positions) == data
            pipe.tasks[stage][p] = restored  # type: ignore[assignment]
            held += sum(1 for _, s in restored.store.victims.items() if s.windows)
            held += sum(1 for _, s in restored.store.numbers.items() if s.windows)
    assert sizes > 100_000  # state was there to save
    assert held > 100  # windows too (the shipped shadow rule reads SMS texts)
    pipe.ingest(events[half:], batch=101)
    assert canonical(pipe.finish().alerts) == embedded


def test_a_number_task_saved_before_fingerprints_restores_its_admitted_ids(
    city: tuple[list[Decoded], Registry, RefData],
) -> None:
    """Format 1 held the admitted ids as strings: a worker upgraded mid-run still
    refuses the duplicates its old snapshot remembers."""
    events, registry, refdata = city
    ctx = Context(registry, refdata, partitions=dict.fromkeys(STAGES, 2))
    pipe = LocalPipeline(ctx, random.Random(5))
    pipe.ingest(events[:400], batch=101)
    task = pipe.tasks[NUMBER][0]
    held = {
        d.event.event_id: d.event.ts.timestamp()
        for d in events[:400]
        if d.event.event_id in task.admission.ids  # type: ignore[attr-defined]
    }
    assert len(held) > 50
    old = msgspec.msgpack.decode(snapshot.dump(task), type=snapshot._Snapshot)
    old.format, old.admitted, old.seen_ids = 1, [], held
    restored, _ = snapshot.load(ctx, msgspec.msgpack.encode(old))
    ids = restored.admission.ids  # type: ignore[attr-defined]
    assert sorted(ids.dump()) == sorted(task.admission.ids.dump())  # type: ignore[attr-defined]
    assert all(event_id in ids for event_id in held)
