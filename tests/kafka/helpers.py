"""Plain-client helpers for the Kafka tests (no Faust)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition


async def consume_all(
    bootstrap: str, topic: str, expected: int, *, timeout_s: float = 20.0
) -> list[Any]:
    """Every record of `topic` from the start, partition by partition order kept, until
    `expected` records arrived. Counts, not end offsets: tansu reports those short."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        await consumer.topics()  # fetches metadata, so the next line knows the topic
        partitions = consumer.partitions_for_topic(topic) or set()
        consumer.assign([TopicPartition(topic, p) for p in sorted(partitions)])
        records: list[Any] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while len(records) < expected and loop.time() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            for batch in batches.values():
                records.extend(batch)
        # a little longer: anything past `expected` is a duplicate the test must see
        for batch in (await consumer.getmany(timeout_ms=300)).values():
            records.extend(batch)
        return records
    finally:
        await consumer.stop()


async def wait_assigned(app: Any, timeout_s: float = 20.0) -> None:
    """Until a started Faust app's consumer owns partitions (its group join is done)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not app.consumer.assignment():
        if loop.time() > deadline:
            raise TimeoutError("the Faust app was assigned no partitions")
        await asyncio.sleep(0.05)
