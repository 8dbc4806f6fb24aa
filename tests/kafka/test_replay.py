"""`feed replay`: every event exactly once, per-key order kept, keys on their partitions."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest

from fraud_warning.cli import main
from fraud_warning.kafka.broker import Tansu
from fraud_warning.kafka.replay import replay
from fraud_warning.kafka.topics import MARK_HEADER, input_key, partition_for

from .helpers import consume_all


def _file_events(feed_dir: Path) -> list[dict[str, Any]]:
    return [orjson.loads(x) for x in (feed_dir / "events.jsonl").read_bytes().splitlines() if x]


def _marks(records: list[Any]) -> list[Any]:
    return [r for r in records if any(k == MARK_HEADER for k, _ in r.headers)]


def _data(records: list[Any]) -> list[Any]:
    marks = {id(r) for r in _marks(records)}
    return [r for r in records if id(r) not in marks]


def _consumed_events(records: list[Any]) -> list[tuple[int, dict[str, Any]]]:
    """(partition, event) in consumption order, arrays unpacked, marks left out."""
    out = []
    for r in _data(records):
        value = orjson.loads(r.value)
        for ev in value if isinstance(value, list) else [value]:
            out.append((r.partition, ev))
    return out


def _check_replayed(feed_dir: Path, records: list[Any], partitions: int) -> None:
    expected = _file_events(feed_dir)
    got = _consumed_events(records)
    # exactly once: the same multiset of event ids, no duplicates
    assert sorted(ev["event_id"] for _, ev in got) == sorted(ev["event_id"] for ev in expected)
    by_id = {ev["event_id"]: ev for ev in expected}
    assert all(ev == by_id[ev["event_id"]] for _, ev in got)  # published unchanged
    # each input key lives on the partition the default partitioner gives it
    for partition, ev in got:
        key = input_key(ev)
        assert key is not None
        assert partition == partition_for(key.encode(), partitions)
    # per-key order: as in the file (which is event-time order)
    file_order: dict[str, list[str]] = defaultdict(list)
    for ev in expected:
        file_order[str(input_key(ev))].append(ev["event_id"])
    seen: dict[str, list[str]] = defaultdict(list)
    for _, ev in got:
        seen[str(input_key(ev))].append(ev["event_id"])
    assert seen == file_order


@pytest.mark.parametrize("batch", [1, 50])
def test_replay_publishes_every_event_once_in_per_key_order(
    broker: Tansu, feed_dir: Path, batch: int
) -> None:
    topic = f"replay-{batch}"
    stats = asyncio.run(
        replay(feed_dir / "events.jsonl", [broker.bootstrap], topic, partitions=6, batch=batch)
    )
    n = len(_file_events(feed_dir))
    assert stats.events == n and stats.unkeyed == 0
    assert stats.records == n if batch == 1 else n / batch <= stats.records < n / 10
    everything = asyncio.run(consume_all(broker.bootstrap, topic, stats.records + stats.marks))
    records = _data(everything)
    assert len(records) == stats.records
    assert {r.partition for r in records} == set(range(6))  # created with the partitions asked
    _check_marks(feed_dir, everything, stats.marks, partitions=6)
    if batch == 1:  # single-event records carry their victim key
        assert all(r.key == input_key(orjson.loads(r.value)).encode() for r in records)
    else:  # a batch record is a JSON array of at most `batch` events
        assert all(r.key is None and 1 <= len(orjson.loads(r.value)) <= batch for r in records)
    _check_replayed(feed_dir, records, partitions=6)


def _check_marks(feed_dir: Path, records: list[Any], count: int, partitions: int) -> None:
    """Every partition gets the marks; each promises what follows on its partition."""
    from datetime import datetime

    marks = _marks(records)
    assert len(marks) == count and count >= partitions  # at least the final round
    last: dict[int, float] = {}
    for r in records:  # per partition, in order: no event after a mark is earlier than it
        if any(k == MARK_HEADER for k, _ in r.headers):
            assert r.value == b"[]"
            last[r.partition] = float(dict(r.headers)[MARK_HEADER])
            continue
        value = orjson.loads(r.value)
        for ev in value if isinstance(value, list) else [value]:
            ts = datetime.fromisoformat(ev["ts"]).timestamp()
            assert ts >= last.get(r.partition, float("-inf"))
    final = max(datetime.fromisoformat(e["ts"]).timestamp() for e in _file_events(feed_dir))
    assert all(last[p] > final for p in range(partitions))


def test_bad_lines_go_alone_and_unkeyed(broker: Tansu, tmp_path: Path, feed_dir: Path) -> None:
    good = (feed_dir / "events.jsonl").read_bytes().splitlines()[:20]
    bad = [b'{"type": "call", "caller": "+8613800000000"', b"[1, 2]", b'{"type":"fax"}']
    (tmp_path / "events.jsonl").write_bytes(b"\n".join(good[:10] + bad + [b""] + good[10:]) + b"\n")
    stats = asyncio.run(
        replay(tmp_path / "events.jsonl", [broker.bootstrap], "bad-lines", partitions=3, batch=100)
    )
    assert (stats.events, stats.unkeyed) == (23, 3)  # the blank line is skipped
    records = _data(
        asyncio.run(consume_all(broker.bootstrap, "bad-lines", stats.records + stats.marks))
    )
    alone = sorted(r.value for r in records if not r.value.startswith(b"[{"))
    assert alone == sorted(bad)
    assert sum(len(orjson.loads(r.value)) for r in records if r.value.startswith(b"[{")) == 20


def _replay_lines(broker: Tansu, tmp_path: Path, lines: list[bytes], topic: str, **kw: Any) -> Any:
    path = tmp_path / f"{topic}.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return asyncio.run(replay(path, [broker.bootstrap], topic, partitions=2, **kw))


def test_rate_paces_and_a_trickle_is_not_held_for_batches(
    broker: Tansu, tmp_path: Path, feed_dir: Path
) -> None:
    lines = (feed_dir / "events.jsonl").read_bytes().splitlines()
    started = time.monotonic()
    stats = _replay_lines(broker, tmp_path, lines[:6], "trickle", batch=100, rate=10)
    assert 0.5 <= stats.seconds <= time.monotonic() - started < 5  # 6 events at 10/s: 0.6 s
    assert stats.records == 6  # each went out before the replay slept: none waits for a batch
    # near full speed batches still fill (falling behind schedule only makes them fuller)
    stats = _replay_lines(broker, tmp_path, lines[:3000], "brisk", batch=500, rate=30_000)
    assert stats.events == 3000 and stats.records <= 3000 / 20


def test_cli_replay_and_its_failures(
    broker: Tansu, feed_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "feed",
            "replay",
            str(feed_dir),
            "--broker",
            broker.url,
            "--topic",
            "cli",
            "--batch",
            "500",
        ]
    )
    assert code == 0
    err = capsys.readouterr().err
    assert "events/s" in err and f"{len(_file_events(feed_dir)):,} events" in err

    assert main(["feed", "replay", str(tmp_path / "nope"), "--broker", broker.url]) == 2
    assert "no events file" in capsys.readouterr().err

    dead = Tansu.start()
    dead.stop()  # a port where nothing listens any more
    assert main(["feed", "replay", str(feed_dir), "--broker", dead.url, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fraud-warning: broker") and err.count("\n") == 1

    assert main(["feed", "replay", str(feed_dir), "--broker", "http://x:1"]) == 2
    assert "not a Kafka URL" in capsys.readouterr().err


def test_replay_flags_read_fw_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    from fraud_warning.cli import build_parser

    args = build_parser().parse_args(["feed", "replay", "d"])
    assert (args.partitions, args.batch, args.rate, args.topic) == (8, 1, None, "fw.events")
    monkeypatch.setenv("FW_PARTITIONS", "3")
    monkeypatch.setenv("FW_EVENTS_TOPIC", "city.events")
    monkeypatch.setenv("FW_BROKER", "kafka://127.0.0.1:1")
    args = build_parser().parse_args(["feed", "replay", "d", "--partitions", "5"])
    assert (args.partitions, args.topic, args.broker) == (5, "city.events", "kafka://127.0.0.1:1")
    assert build_parser().parse_args(["feed", "replay", "d"]).partitions == 3
    monkeypatch.setenv("FW_PARTITIONS", "0")
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["feed", "replay", "d"])
    assert exc.value.code == 2


def test_restore_topics_puts_back_counts_of_empty_topics_only(broker: Tansu) -> None:
    """After a broker lost its logs: a topic auto-created empty with another count is
    made again with the count the worker's state was made with; a missing one is
    created; one that already holds records is left alone and named."""
    from aiokafka import AIOKafkaProducer

    from fraud_warning.kafka.replay import ensure_topic, partition_count, restore_topics

    servers = [broker.bootstrap]

    async def run() -> tuple[list[str], dict[str, int]]:
        await ensure_topic(servers, "rt.empty", 4)
        await ensure_topic(servers, "rt.full", 4)
        await ensure_topic(servers, "rt.right", 3)
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait("rt.full", b"x", partition=3)
        finally:
            await producer.stop()
        wanted = {"rt.empty": 3, "rt.full": 3, "rt.right": 3, "rt.missing": 2}
        kept = await restore_topics(servers, wanted)
        return kept, {t: await partition_count(servers, t) for t in wanted}

    kept, counts = asyncio.run(run())
    assert kept == ["rt.full"]
    assert counts == {"rt.empty": 3, "rt.full": 4, "rt.right": 3, "rt.missing": 2}
