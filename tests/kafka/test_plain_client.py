"""Records from a plain Kafka client (confluent-kafka, one JSON event per record) decode
with `Decoder.decode_record`; malformed ones become dead letters with their offsets."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest

from fraud_warning.decode import Decoder
from fraud_warning.kafka.broker import Tansu
from fraud_warning.kafka.replay import ensure_topic
from fraud_warning.kafka.topics import input_key, partition_for

from .helpers import consume_all

confluent_kafka = pytest.importorskip("confluent_kafka")


def _produce(broker: Tansu, topic: str, values: list[tuple[bytes | None, bytes]]) -> None:
    producer = confluent_kafka.Producer(
        {
            "bootstrap.servers": broker.bootstrap,
            # librdkafka's default (CRC32) differs from Java/aiokafka/Faust: say murmur2
            "partitioner": "murmur2_random",
        }
    )
    for key, value in values:
        producer.produce(topic, value=value, key=key)
    assert producer.flush(10) == 0


def test_single_event_records_from_confluent_kafka_decode(broker: Tansu, feed_dir: Path) -> None:
    lines = (feed_dir / "events.jsonl").read_bytes().splitlines()[:200]
    keyed = [(str(input_key(orjson.loads(x))).encode(), x) for x in lines]
    asyncio.run(ensure_topic([broker.bootstrap], "plain", 5))
    _produce(broker, "plain", keyed)
    records = asyncio.run(consume_all(broker.bootstrap, "plain", len(lines)))
    assert len(records) == len(lines)
    decoder = Decoder("plain")
    ids = []
    for r in records:
        good, bad = decoder.decode_record(r.value, r.offset)
        assert bad == [] and len(good) == 1
        assert good[0].offset == r.offset
        ids.append(good[0].event.event_id)
        # librdkafka with murmur2_random places a key where our replay and Faust do
        assert r.partition == partition_for(r.key, 5)
    assert sorted(ids) == sorted(orjson.loads(x)["event_id"] for x in lines)


def test_malformed_records_decode_to_dead_letters(broker: Tansu, feed_dir: Path) -> None:
    good_line = (feed_dir / "events.jsonl").read_bytes().splitlines()[0]
    values = [
        b'{"event_id": "x1", "type": "call"',  # cut short
        b'{"event_id": "x2", "type": "fax", "ts": "2026-03-02T09:00:00+08:00"}',
        b"[" + good_line + b',{"event_id": "x3", "type": "sms"}]',  # one good, one bad
    ]
    _produce(broker, "malformed", [(None, v) for v in values])
    records = asyncio.run(consume_all(broker.bootstrap, "malformed", len(values)))
    decoder = Decoder("fw.events")
    reasons: dict[bytes, list[str]] = {}
    kept = []
    for r in records:
        good, bad = decoder.decode_record(r.value, r.offset)
        kept.extend(good)
        assert all(d.offset == r.offset and d.source == "fw.events" for d in bad)
        reasons[r.value] = [d.reason for d in bad]
    assert reasons[values[0]] == ["invalid_json"]
    assert reasons[values[1]] == ["unknown_type"]
    assert reasons[values[2]] == ["missing_field"]
    assert [d.event.event_id for d in kept] == [orjson.loads(good_line)["event_id"]]
