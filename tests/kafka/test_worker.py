"""The distributed runner through a real broker: a replayed feed gives the embedded
engine's alerts, each once; bad records land in the dead-letter topic with a reason."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from fraud_warning.decode import Decoder
from fraud_warning.engine import Engine
from fraud_warning.kafka.broker import Tansu
from fraud_warning.kafka.replay import ensure_topic, replay
from fraud_warning.kafka.topics import Topics
from fraud_warning.kafka.worker import Worker, WorkerConfig, stage_partitions, unless_stopped
from fraud_warning.refdata import load_refdata
from fraud_warning.registry import Registry, load_registry
from fraud_warning.stages.tasks import Context

from .conftest import FaustApp
from .helpers import consume_all, wait_assigned

ROOT = Path(__file__).resolve().parents[2]
INPUT_PARTITIONS = 4
STAGE_PARTITIONS = 3


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry(ROOT / "rules", ROOT / "models")


def embedded_alerts(feed_dir: Path, registry: Registry, log: str = "alerts") -> list[str]:
    """The embedded engine's alerts (or its shadow log) for the feed, canonical."""
    lines = (feed_dir / "events.jsonl").read_bytes().splitlines()
    good, _ = Decoder().decode_lines(enumerate(lines))
    refdata = load_refdata(feed_dir / "cells.csv", None, feed_dir / "subscribers.csv")
    out = Engine(registry, refdata).process(good)
    return sorted(json.dumps(a, sort_keys=True) for a in getattr(out, log))


async def run_worker(
    broker: Tansu,
    faust_app: FaustApp,
    feed: Path,
    refs: Path,
    registry: Registry,
    name: str,
    shadow: list[Any] | None = None,
    **replay_kw: Any,
) -> tuple[Worker, list[Any], list[Any]]:
    """Replay through a worker; the shadow log's records go to `shadow` when given."""
    topics = Topics(
        events=f"{name}.events",
        alerts=f"{name}.alerts",
        dispatch=f"{name}.dispatch",
        dead_letter=f"{name}.dead",
        shadow=f"{name}.shadow",
    )
    refdata = load_refdata(refs / "cells.csv", None, refs / "subscribers.csv")
    ctx = Context(
        registry, refdata, partitions=stage_partitions(INPUT_PARTITIONS, STAGE_PARTITIONS)
    )
    app = faust_app(name, broker.url, producer_max_batch_size=16384)
    worker = Worker(app, ctx, topics, WorkerConfig(stage_prefix=f"{name}.stage."))
    for topic, n in worker.topic_partitions().items():
        await ensure_topic([broker.bootstrap], topic, n)
    for topic in (topics.alerts, topics.dead_letter, topics.shadow):
        await ensure_topic([broker.bootstrap], topic, 1)
    await app.start()
    try:
        await wait_assigned(app)
        stats = await replay(
            feed, [broker.bootstrap], topics.events, partitions=INPUT_PARTITIONS, **replay_kw
        )
        assert stats.events > 0
        # the producer's metadata keeps every output topic (see track_output_topics)
        tracked = app.producer._producer.client._topics
        assert set(worker.output_topics()) <= tracked, tracked
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        # the final marks release everything: wait until every stage went quiet
        last, quiet_since = -1, loop.time()
        while loop.time() < deadline:
            await asyncio.sleep(0.2)
            done = worker.alerts_sent + worker.dead_sent
            if done != last:
                last, quiet_since = done, loop.time()
            elif loop.time() - quiet_since > 2.0 and _drained(worker):
                break
    finally:
        await app.stop()
    alerts = await consume_all(broker.bootstrap, topics.alerts, worker.alerts_sent)
    dead = await consume_all(broker.bootstrap, topics.dead_letter, worker.dead_sent)
    if shadow is not None:
        shadow += await consume_all(broker.bootstrap, topics.shadow, worker.shadow_sent)
    return worker, alerts, dead


def _drained(worker: Worker) -> bool:
    return all(len(getattr(t, "merger", ())) == 0 for t in worker.tasks.values())


def test_replayed_feed_gives_the_embedded_alerts_once(
    broker: Tansu, faust_app: FaustApp, feed_dir: Path, registry: Registry
) -> None:
    expected = embedded_alerts(feed_dir, registry)
    assert len(expected) >= 10  # a feed where nothing fires would prove nothing
    shadow: list[Any] = []
    events = feed_dir / "events.jsonl"
    _, records, _ = asyncio.run(
        run_worker(broker, faust_app, events, feed_dir, registry, "eq", shadow, batch=50)
    )
    got = sorted(json.dumps(orjson.loads(r.value), sort_keys=True) for r in records)
    assert got == expected
    assert all(r.key == orjson.loads(r.value)["alert_id"].encode() for r in records)
    # what the shadow and experimental models fired on reaches fw.shadow, as embedded
    logged = sorted(json.dumps(orjson.loads(r.value), sort_keys=True) for r in shadow)
    assert logged == embedded_alerts(feed_dir, registry, "shadow") and logged


def test_bad_records_land_in_the_dead_letter_topic_with_their_reason(
    broker: Tansu, faust_app: FaustApp, feed_dir: Path, registry: Registry, tmp_path: Path
) -> None:
    good = (feed_dir / "events.jsonl").read_bytes().splitlines()[:30]
    bad = [b'{"type": "call", "caller": "+8613800000000"', b'{"type":"fax"}']
    feed = tmp_path / "events.jsonl"
    feed.write_bytes(b"\n".join(good[:10] + bad + good[10:]) + b"\n")
    _, _, dead = asyncio.run(run_worker(broker, faust_app, feed, feed_dir, registry, "dl"))
    letters = [orjson.loads(r.value) for r in dead]
    assert sorted(d["raw"] for d in letters) == sorted(b.decode() for b in bad)
    assert {d["reason"] for d in letters} == {"invalid_json", "unknown_type"}
    assert all(d["source"].startswith("dl.events:") for d in letters)


def test_large_sends_are_cut_into_records_the_broker_takes() -> None:
    from fraud_warning.kafka.replay import MAX_RECORD_BYTES
    from fraud_warning.stages.envelope import envelopes, open_new, pieces, sealed
    from fraud_warning.stages.records import Flag, Mark, Record
    from fraud_warning.stages.tasks import Positions

    records: list[Record] = [Flag(f"e{i:09d}", float(i), f"+86138{i:08d}") for i in range(40_000)]
    records.append(Mark("N0", 1e9))
    sender, receiver = Positions(), Positions()
    cut = pieces(records, MAX_RECORD_BYTES)
    values = [sealed(sender, "N0", "V0", piece, packed) for piece, packed in cut]
    assert len(values) > 1 and all(len(v) <= MAX_RECORD_BYTES for v in values)
    taken = [r for v in values for e in envelopes(b"\x91" + v) for r in open_new(receiver, e)]
    assert taken == records  # all of them, in order, numbered across the pieces
    assert receiver.seen == {"N0": 40_000}


def test_a_sealed_envelope_is_the_envelope_encoded() -> None:
    """The worker writes an envelope's head before its records' encoding, which it had
    taken to size them: the bytes are those of encoding the envelope whole."""
    import msgspec

    from fraud_warning.stages.envelope import Envelope, pieces, seal, sealed
    from fraud_warning.stages.records import Flag, Mark, Record
    from fraud_warning.stages.tasks import Positions

    for n in (0, 1, 17, 70_000):
        records: list[Record] = [Flag(f"e{i}", i / 3, "+8613800000000") for i in range(n)]
        records.append(Mark("N7", 2.5))
        (piece, packed), *_ = pieces(records, 1 << 30)
        sender = Positions(sent={"V3": 123_456})
        got = sealed(sender, "N7", "V3", piece, packed)
        want = msgspec.msgpack.encode(seal(Positions(sent={"V3": 123_456}), "N7", "V3", piece))
        assert got == want
        assert sender.sent == {"V3": 123_456 + n}
        assert msgspec.msgpack.decode(got, type=Envelope).records == records


def test_envelopes_for_one_partition_travel_bundled_within_the_record_limit() -> None:
    """Many senders' envelopes for one destination go as few records, each under the
    broker's limit, and come out in order; records an older worker sent as JSON (a
    bundle, or a lone envelope from before bundles) still read."""
    import msgspec

    from fraud_warning.kafka.replay import MAX_RECORD_BYTES
    from fraud_warning.stages.envelope import bundles, envelopes, open_new, pieces, seal, sealed
    from fraud_warning.stages.records import Flag, Mark, Record
    from fraud_warning.stages.tasks import Positions

    senders = {f"N{i}": Positions() for i in range(8)}
    sent: list[tuple[str, list[Record]]] = []
    encoded = []
    for round_ in range(300):
        for name, positions in senders.items():
            records: list[Record] = [Flag(f"{name}-{round_}-{j}", float(round_), "+8613800000000")
                                     for j in range(round_ % 7 * 20)]  # fmt: skip
            records.append(Mark(name, float(round_)))
            sent.append((name, records))
            ((piece, packed),) = pieces(records, MAX_RECORD_BYTES)
            encoded.append(sealed(positions, name, "V0", piece, packed))
    values = list(bundles(encoded, MAX_RECORD_BYTES))
    assert 1 < len(values) < len(encoded) // 100  # a few records, not one per envelope
    assert all(len(v) <= MAX_RECORD_BYTES for v in values)
    receiver = Positions()
    got = [(e.source, open_new(receiver, e)) for v in values for e in envelopes(v)]
    assert got == sent
    assert [len(envelopes(v)) for v in bundles(encoded[:20], 1 << 20)] == [20]  # 16+: 2-byte head
    old = [
        msgspec.json.encode(seal(Positions(), f"N{i}", "V0", [Mark(f"N{i}", 1.0)]))
        for i in range(2)
    ]
    assert [e.source for e in envelopes(b"[" + b",".join(old) + b"]")] == ["N0", "N1"]
    assert [e.records for e in envelopes(old[0])] == [[Mark("N0", 1.0)]]


def test_rules_reloaded_mid_burst_lose_and_repeat_nothing(
    broker: Tansu, faust_app: FaustApp, feed_dir: Path, registry: Registry, tmp_path: Path
) -> None:
    """The rule files are touched (reloaded as they are) and then broken while events
    stream in: the valid reload is activated between micro-batches, the broken one is
    refused and the rules running keep running; the alerts are the embedded engine's."""
    import os
    import shutil

    from fraud_warning.reload import RegistryWatcher

    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    expected = embedded_alerts(feed_dir, registry)
    name = "reload"
    topics = Topics(f"{name}.events", f"{name}.alerts", f"{name}.dispatch", f"{name}.dead")
    refdata = load_refdata(feed_dir / "cells.csv", None, feed_dir / "subscribers.csv")
    parts = stage_partitions(INPUT_PARTITIONS, STAGE_PARTITIONS)
    ctx = Context(load_registry(rules, ROOT / "models"), refdata, partitions=parts)
    watcher = RegistryWatcher(rules, ROOT / "models", metrics=ctx.metrics)
    app = faust_app(name, broker.url, producer_max_batch_size=16384)
    config = WorkerConfig(stage_prefix=f"{name}.stage.", reload_every_s=0.1)
    worker = Worker(app, ctx, topics, config, watcher=watcher)

    async def run() -> None:
        for topic, n in worker.topic_partitions().items():
            await ensure_topic([broker.bootstrap], topic, n)
        await ensure_topic([broker.bootstrap], topics.alerts, 1)
        await app.start()
        try:
            await wait_assigned(app)
            feeding = asyncio.create_task(
                replay(feed_dir / "events.jsonl", [broker.bootstrap], topics.events,
                       partitions=INPUT_PARTITIONS, rate=1_000)
            )  # fmt: skip
            # about 7 s of replay: a slow CI machine took over 3 s to notice and load a reload
            await asyncio.sleep(0.8)
            for path in rules.rglob("*.yaml"):  # the same rules, files touched
                os.utime(path, None)
            # bounded waits: a reload that never comes fails the test instead of hanging CI
            clock = asyncio.get_running_loop().time
            deadline = clock() + 30
            while worker.reloads < 1:
                assert clock() < deadline, "the touched rule files were never reloaded"
                await asyncio.sleep(0.05)
            broken = rules / "victim" / "zz-broken.yaml"
            broken.write_text("id: broken\nversion: 1\nwhen: {no_such_feature: {gte: 1}}\n")
            deadline = clock() + 30
            while watcher.last_error is None:
                assert clock() < deadline, "the broken rule file was never noticed"
                await asyncio.sleep(0.05)
            assert not feeding.done(), "the replay ended before the reloads: nothing tested"
            await feeding
            deadline = asyncio.get_running_loop().time() + 60
            while worker.alerts_sent < len(expected):
                assert asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.2)
            await asyncio.sleep(1)
        finally:
            await app.stop()

    asyncio.run(run())
    assert worker.reloads == 1  # the broken change was not activated
    assert "zz-broken.yaml" in (watcher.last_error or "")
    reloads = {
        s.labels["result"]: s.value
        for m in ctx.metrics.registry.collect()
        if m.name == "fraud_warning_rule_reloads"
        for s in m.samples
        if s.name.endswith("_total")
    }
    assert reloads == {"ok": 1.0, "failure": 1.0}
    records = asyncio.run(consume_all(broker.bootstrap, topics.alerts, len(expected)))
    got = sorted(json.dumps(orjson.loads(r.value), sort_keys=True) for r in records)
    assert got == expected


def test_a_rebalance_callback_cut_short_by_a_stop_ends_quietly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A stop that cancels a revoke mid-checkpoint must not surface in the consumer
    thread that called it; any other failure still does."""

    async def run() -> None:
        started = asyncio.Event()

        async def checkpoint() -> None:
            started.set()
            await asyncio.Event().wait()  # a broker call that never answers

        task = asyncio.create_task(unless_stopped(checkpoint(), "partition revoke"))
        await started.wait()
        task.cancel()
        await task  # ends without raising

        async def fails() -> None:
            raise RuntimeError("broker refused")

        with pytest.raises(RuntimeError, match="broker refused"):
            await unless_stopped(fails(), "partition revoke")

    with caplog.at_level("INFO", logger="fraud_warning.worker"):
        asyncio.run(run())
    assert "partition revoke cut short: the worker is stopping" in caplog.text
