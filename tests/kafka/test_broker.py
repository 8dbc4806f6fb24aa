"""The tansu fixture: starts on a free loopback port, answers Kafka, stops cleanly."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from fraud_warning.kafka.broker import BrokerError, Tansu, tansu_binary


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def test_fixture_broker_answers_kafka(broker: Tansu) -> None:
    from aiokafka import AIOKafkaProducer

    assert broker.running
    assert broker.url == f"kafka://127.0.0.1:{broker.port}"

    async def roundtrip() -> int:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
        await producer.start()
        try:
            meta = await producer.send_and_wait("broker-smoke", b"{}")
            return int(meta.offset)
        finally:
            await producer.stop()

    assert asyncio.run(roundtrip()) == 0


def test_start_and_stop_leave_nothing_behind() -> None:
    broker = Tansu.start()
    log = broker.log_path
    assert broker.running and _accepts(broker.port)
    broker.stop()
    assert not broker.running
    assert not _accepts(broker.port)
    assert not log.exists()  # its own temporary log is removed
    broker.stop()  # twice is harmless


def test_a_taken_port_is_an_error_naming_tansus_reason() -> None:
    with Tansu.start() as first, pytest.raises(BrokerError, match="exited"):
        Tansu.start(port=first.port, timeout_s=5)


def test_binary_override_must_be_executable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FW_TANSU_BIN", str(tmp_path / "missing"))
    with pytest.raises(BrokerError, match="FW_TANSU_BIN"):
        tansu_binary()
    monkeypatch.delenv("FW_TANSU_BIN")
    assert tansu_binary().name == "tansu"
