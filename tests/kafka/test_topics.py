"""Topic names, broker URLs and the key of each viewpoint (no broker needed)."""

from __future__ import annotations

import argparse
import random
from datetime import UTC, datetime

import pytest

from fraud_warning.kafka import topics
from fraud_warning.wire import Call, Sms, Transfer

TS = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CALL = {"type": "call", "caller": "+8617000000001", "callee": "+8613800000002"}
SMS = {"type": "sms", "sender": "+8617000000001", "receiver": "+8613800000003"}
TRANSFER = {"type": "transfer", "payer": "+8613800000004", "payee_account": "6222000011112222"}


def test_keys_of_each_viewpoint_from_dicts_and_structs() -> None:
    call = Call("e1", TS, CALL["caller"], CALL["callee"], 60)
    sms = Sms("e2", TS, SMS["sender"], SMS["receiver"])
    transfer = Transfer("e3", TS, TRANSFER["payer"], "acct", TRANSFER["payee_account"], 1.0, "atm")
    for ev, raw in ((call, CALL), (sms, SMS), (transfer, TRANSFER)):
        for e in (ev, raw):
            assert topics.victim_key(e) == {"call": CALL["callee"], "sms": SMS["receiver"]}.get(
                raw["type"], TRANSFER["payer"]
            )
    assert topics.number_key(CALL) == topics.number_key(call) == CALL["caller"]
    assert topics.number_key(SMS) == topics.number_key(sms) == SMS["sender"]
    assert topics.number_key(TRANSFER) is None and topics.number_key(transfer) is None
    assert topics.payee_key(transfer) == topics.payee_key(TRANSFER) == "6222000011112222"
    assert topics.payee_key(CALL) is None
    # bad input has no key rather than raising
    for bad in (
        {},
        {"type": "fax"},
        {"type": "call", "callee": 7},
        {"type": "sms", "receiver": ""},
    ):
        assert topics.victim_key(bad) is None


def test_partition_for_is_the_default_partitioner() -> None:
    from aiokafka.partitioner import DefaultPartitioner

    partitioner = DefaultPartitioner()
    for i in range(200):
        key = f"+86138{i:08d}".encode()
        assert topics.partition_for(key, 6) == partitioner(key, list(range(6)), list(range(6)))


def test_murmur2_is_kafkas_for_keys_of_every_length_and_byte() -> None:
    from aiokafka.partitioner import murmur2 as reference

    from fraud_warning.murmur import murmur2

    rng = random.Random(7)
    keys = [bytes(rng.randrange(256) for _ in range(n % 41)) for n in range(3000)]
    keys += [b"\xff" * n for n in range(9)] + [b"+8613800000001", "李".encode()]
    for key in keys:
        assert murmur2(key) == reference(key), key
    # the Java client's own test vectors (org.apache.kafka.common.utils.UtilsTest)
    assert murmur2(b"21") == (-973932308) & 0xFFFFFFFF
    assert murmur2(b"abc") == 479470107


def test_bootstrap_servers_from_broker_urls() -> None:
    assert topics.bootstrap_servers("kafka://a:1;b:2") == ["a:1", "b:2"]
    assert topics.bootstrap_servers("a:1,b") == ["a:1", "b:9092"]
    assert topics.bootstrap_servers("fwkafka://a:1?fetch_max_wait_ms=5") == ["a:1"]
    for bad in ("", "http://a:1", "kafka://a:port"):
        with pytest.raises(ValueError):
            topics.bootstrap_servers(bad)


def test_topic_names_and_partitions_from_flags_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    assert topics.Topics.from_env() == topics.Topics(
        "fw.events", "fw.alerts", "fw.dispatch", "fw.dead-letter"
    )
    assert topics.partitions_from_env() == topics.DEFAULT_PARTITIONS
    monkeypatch.setenv("FW_ALERTS_TOPIC", "city.alerts")
    monkeypatch.setenv("FW_PARTITIONS", "12")
    p = argparse.ArgumentParser()
    topics.add_topic_flags(p)
    got = topics.topics_from_args(p.parse_args(["--events-topic", "city.events"]))
    assert got == topics.Topics("city.events", "city.alerts", "fw.dispatch", "fw.dead-letter")
    assert topics.partitions_from_env() == 12
    monkeypatch.setenv("FW_PARTITIONS", "0")
    with pytest.raises(ValueError):
        topics.partitions_from_env()


def test_importing_the_package_connects_to_nothing() -> None:
    import subprocess
    import sys

    code = (
        "import sys, fraud_warning.kafka, fraud_warning.kafka.topics, fraud_warning.kafka.replay;"
        "print('aiokafka' in sys.modules, 'faust' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
