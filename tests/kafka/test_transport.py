"""The fast transport: `fwkafka://` in Faust's registry, its fetch wait, and a record
reaching a Faust agent in milliseconds where the stock transport takes hundreds."""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import pytest
from yarl import URL

from fraud_warning.kafka import transport
from fraud_warning.kafka.broker import Tansu

from .conftest import FaustApp
from .helpers import wait_assigned


class _FakeTransport:
    def __init__(self, *urls: str) -> None:
        self.url = [URL(u) for u in urls]


def test_broker_url_carries_the_wait_on_its_first_url() -> None:
    assert transport.faust_broker_url("kafka://a:1;b:2", fetch_max_wait_ms=50) == (
        "fwkafka://a:1?fetch_max_wait_ms=50;fwkafka://b:2"
    )
    assert transport.faust_broker_url("127.0.0.1") == (
        "fwkafka://127.0.0.1:9092?fetch_max_wait_ms=100"
    )
    assert transport.fetch_max_wait_ms(_FakeTransport("fwkafka://a:1?fetch_max_wait_ms=7")) == 7
    assert transport.fetch_max_wait_ms(_FakeTransport("fwkafka://a:1")) == 100
    with pytest.raises(ValueError):
        transport.fetch_max_wait_ms(_FakeTransport("fwkafka://a:1?fetch_max_wait_ms=-1"))


def test_registered_under_its_own_scheme() -> None:
    from faust.transport import by_url

    transport.register()
    transport.register()  # idempotent
    assert by_url("fwkafka://127.0.0.1:9092") is transport.Transport
    assert by_url("kafka://127.0.0.1:9092") is not transport.Transport  # stock stays stock


def test_fast_transport_delivers_to_a_faust_agent_quickly(
    broker: Tansu, faust_app: FaustApp
) -> None:
    from aiokafka import AIOKafkaProducer

    n = 15
    app = faust_app(
        "fw-transport-test", transport.faust_broker_url(broker.url, fetch_max_wait_ms=100)
    )
    topic = app.topic("transport-latency", value_serializer="raw", key_serializer="raw")
    latencies: list[float] = []
    done = asyncio.Event()

    @app.agent(topic)
    async def measure(stream: Any) -> None:
        async for value in stream:
            latencies.append(time.time() - float(value))
            if len(latencies) == n:
                done.set()

    async def run() -> int:
        await app.start()
        try:
            await wait_assigned(app)
            fetcher = app.consumer._thread._consumer._fetcher
            wait_ms = int(fetcher._fetch_max_wait_ms)
            producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
            await producer.start()
            try:
                for _ in range(n):  # a trickle: each record alone in its fetch
                    await producer.send_and_wait("transport-latency", repr(time.time()).encode())
                    await asyncio.sleep(0.03)
            finally:
                await producer.stop()
            await asyncio.wait_for(done.wait(), 10)
            return wait_ms
        finally:
            await app.stop()

    assert asyncio.run(run()) == 100
    # the stock transport's 1,500 ms wait gives p50 ~380 ms on tansu; this gives ~5 ms
    assert statistics.median(latencies) < 0.15, latencies
