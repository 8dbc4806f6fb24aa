"""Replay a recorded feed (events.jsonl) onto the input topic, in file (event-time) order.

Each line is published as it is in the file (no re-encoding), keyed by its input key
(:mod:`fraud_warning.kafka.topics`: the caller, the SMS sender, a transfer's payer).
With `batch > 1` a record holds a JSON array of up to `batch` events, and batches are
formed **per partition**, not per key:
- per-key order is kept because a key always maps to one partition and a partition's
  buffer is flushed in arrival order, so a key's events stay in file order;
- per-key batches would mostly hold one event (a subscriber has a few events an
  hour), which defeats the point, and would reorder different keys on a partition;
- a batch record carries no key (its events have many) and is sent to the partition
  its events' keys hash to, so consumers see the same partitioning either way.
With a rate set, an event waits at most LINGER_S for its batch to fill (so at a
trickle every record holds one event). A line that is not a JSON object with an input
key is sent alone, unkeyed: inside an array it would make the whole batch
undecodable, and the worker dead-letters it.

Watermarks: every MARK_EVERY_S, and at the end, the replay sends every partition an
empty record (`[]`) whose `fw-mark` header holds the event time of the next line (the
last one's plus a millisecond at the end): "no event earlier than this follows". The
worker's stages wait for every partition's mark before they process an event time, so a
replay gives the embedded runner's alerts whatever the partitions' interleaving.

Delivery is at least once (the producer retries; tansu has no idempotent producer).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from fraud_warning.kafka.topics import INPUT_FIELD, MARK_HEADER, Partitioner

#: A batch record is cut at this size whatever `batch` says: Kafka's default
#: `message.max.bytes` is about 1 MB, and a record over it is refused by the broker.
MAX_RECORD_BYTES = 512 * 1024
#: With a rate set, sleep only when this far ahead of schedule (fewer, larger batches).
PACE_SLACK_S = 0.002
#: With a rate set, the longest an event waits in a batch: at a trickle every event goes
#: out before the replay sleeps; near full speed batches still fill.
LINGER_S = 0.05
WINDOW = 5_000  # records in flight before the oldest ones must be acknowledged
MARK_EVERY_S = 0.05  # watermark records to every partition this often (wall clock)
TOPIC_ALREADY_EXISTS = 36  # Kafka protocol error code


class ReplayError(Exception):
    """The feed is unreadable or the topic cannot be made: one line for the user."""


class _Keys(msgspec.Struct):
    """Only the fields a key and a time can come from; the rest of the line is skipped."""

    type: str | None = None
    caller: str | None = None
    sender: str | None = None
    payer: str | None = None
    ts: datetime | None = None


_keys_decoder = msgspec.json.Decoder(_Keys)


def key_of_line(line: bytes) -> tuple[str | None, float | None]:
    """The input key and event time of a JSON event line; None where it has none."""
    try:
        keys = _keys_decoder.decode(line)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None, None
    field_name = INPUT_FIELD.get(keys.type or "")
    value = getattr(keys, field_name) if field_name else None
    ts = keys.ts.timestamp() if keys.ts is not None and keys.ts.tzinfo is not None else None
    return (value if isinstance(value, str) and value else None), ts


def read_lines(path: Path) -> Iterator[bytes]:
    """Non-blank lines of a JSONL file, without their line ends."""
    with path.open("rb") as fh:
        for line in fh:
            line = line.rstrip(b"\r\n")
            if line.strip():
                yield line


def feed_file(path: Path) -> Path:
    """`DIR/events.jsonl` for a feed directory, or the file itself."""
    events = path / "events.jsonl" if path.is_dir() else path
    if not events.is_file():
        raise ReplayError(f"no events file: {events}")
    try:
        with events.open("rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise ReplayError(f"cannot read {events}: {exc.strerror}") from None
    return events


@dataclass
class ReplayStats:
    events: int = 0  # lines published (bad lines included: the worker dead-letters them)
    records: int = 0
    unkeyed: int = 0  # lines without an input key, each sent alone
    marks: int = 0  # watermark records
    seconds: float = 0.0
    per_partition: dict[int, int] = field(default_factory=dict)

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        bad = f", {self.unkeyed} without an input key" if self.unkeyed else ""
        return (
            f"replayed {self.events:,} events in {self.records:,} records in "
            f"{self.seconds:.1f} s ({self.events_per_s:,.0f} events/s){bad}"
        )


class _Batches:
    """Per-partition buffers of raw event lines, each flushed as one JSON array."""

    def __init__(self, size: int, clock: Callable[[], float]) -> None:
        self.size = size
        self.clock = clock
        self.lines: dict[int, list[bytes]] = {}
        self.nbytes: dict[int, int] = {}
        self.since: dict[int, float] = {}  # when each buffer got its first line

    def add(self, partition: int, line: bytes) -> tuple[bytes, int] | None:
        """Buffer a line; returns (record, events) when the partition's batch is full.

        A line that would take the record past MAX_RECORD_BYTES flushes the buffer
        first and starts the next one (a record holds at least one line)."""
        out = None
        buf = self.lines.get(partition)
        if buf and self.nbytes[partition] + len(line) + 1 > MAX_RECORD_BYTES:
            out = self.take(partition)
            buf = None
        if buf is None:
            buf = self.lines[partition] = []
            self.nbytes[partition] = 2  # the brackets
            self.since[partition] = self.clock()
        buf.append(line)
        self.nbytes[partition] += len(line) + 1
        if out is None and len(buf) >= self.size:
            out = self.take(partition)
        return out

    def take(self, partition: int) -> tuple[bytes, int]:
        buf = self.lines.pop(partition)
        del self.nbytes[partition], self.since[partition]
        return b"[" + b",".join(buf) + b"]", len(buf)

    def drain(self, started_before: float = float("inf")) -> list[tuple[int, bytes, int]]:
        """Take every buffer (or those begun before a time), in partition order."""
        due = sorted(p for p, t in self.since.items() if t < started_before)
        return [(p, *self.take(p)) for p in due]


class Publisher:
    """Sends records and counts them. Delivery futures are awaited a window at a time,
    which surfaces a broker error early and bounds what waits in the producer."""

    def __init__(self, producer: Any, topic: str, stats: ReplayStats) -> None:
        self.producer = producer
        self.topic = topic
        self.stats = stats
        self.window: list[asyncio.Future[Any]] = []
        self.previous: list[asyncio.Future[Any]] = []

    async def send(
        self,
        partition: int,
        value: bytes,
        key: bytes | None,
        events: int,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None:
        fut = await self.producer.send(
            self.topic, value, key=key, partition=partition, headers=headers
        )
        self.window.append(fut)
        if events:  # a watermark record is counted in `marks`
            self.stats.records += 1
            self.stats.events += events
            self.stats.per_partition[partition] = (
                self.stats.per_partition.get(partition, 0) + events
            )
        if len(self.window) >= WINDOW:
            # the window before this one has had a whole window's time to be acknowledged
            await asyncio.gather(*self.previous)
            self.previous, self.window = self.window, []

    async def wait_all(self) -> None:
        await asyncio.gather(*self.previous, *self.window)
        self.previous, self.window = [], []

    def abandon(self) -> None:
        """After a failure: retrieve every future's outcome so none is reported unread."""
        for fut in (*self.previous, *self.window):
            if fut.done() and not fut.cancelled():
                fut.exception()
            else:
                fut.cancel()


async def publish(
    lines: Iterator[bytes],
    producer: Any,
    topic: str,
    partitions: int,
    *,
    batch: int = 1,
    rate: float | None = None,
    progress: Callable[[int], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> ReplayStats:
    """Publish `lines` through a started aiokafka producer; see the module doc."""
    stats = ReplayStats()
    out = Publisher(producer, topic, stats)
    started = clock()
    try:
        await _publish(lines, out, partitions, batch, rate, progress, clock)
        await out.wait_all()
    except BaseException:
        out.abandon()
        raise
    stats.seconds = clock() - started
    return stats


async def _publish(
    lines: Iterator[bytes],
    out: Publisher,
    partitions: int,
    batch: int,
    rate: float | None,
    progress: Callable[[int], None] | None,
    clock: Callable[[], float],
) -> None:
    batches = _Batches(batch, clock) if batch > 1 else None
    part_of = Partitioner(partitions)
    unkeyed = done_bytes = 0
    started = next_mark = clock()
    last_ts = float("-inf")

    async def flush(started_before: float = float("inf")) -> None:
        if batches is not None:
            for partition, record, count in batches.drain(started_before):
                await out.send(partition, record, None, count)

    async def mark(ts: float) -> None:
        # after the partitions' buffered lines: a mark must follow the events it covers
        await flush()
        header = [(MARK_HEADER, repr(ts).encode())]
        for partition in range(partitions):
            await out.send(partition, b"[]", None, 0, header)
        out.stats.marks += partitions

    for n, line in enumerate(lines, start=1):
        key, ts = key_of_line(line)
        if ts is not None:
            if ts > last_ts and clock() >= next_mark and last_ts > float("-inf"):
                await mark(ts)  # every line so far is earlier than this one
                next_mark = clock() + MARK_EVERY_S
            last_ts = max(last_ts, ts)
        if key is None:
            unkeyed += 1  # round-robin: the record has no key to place it by
            await out.send(unkeyed % partitions, line, None, 1)
        else:
            partition = part_of(key)
            if batches is None:
                await out.send(partition, line, key.encode(), 1)
            else:
                full = batches.add(partition, line)
                if full is not None:
                    await out.send(partition, full[0], None, full[1])
        if rate is not None:
            ahead = started + n / rate - clock()
            if ahead > PACE_SLACK_S:
                await flush(clock() + ahead - LINGER_S)  # what would wait past LINGER_S
                if progress is not None:
                    progress(done_bytes)
                await asyncio.sleep(ahead)
        if progress is not None:
            done_bytes += len(line) + 1
            if n % 10_000 == 0:
                progress(done_bytes)
    await flush()
    if last_ts > float("-inf"):
        await mark(last_ts + 0.001)
    out.stats.unkeyed = unkeyed


async def ensure_topic(bootstrap: list[str], topic: str, partitions: int) -> None:
    """Create `topic` with `partitions` unless it exists (an existing topic is kept as is).

    Done explicitly because auto-creation picks the broker's default count (1 on
    Kafka, 4 on tansu), and the worker's partitioning must match the replay's."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # type: ignore[import-untyped]

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        response = await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()
    # errors come back as codes in the response, not raised
    for name, code, *rest in response.topic_errors:
        if code not in (0, TOPIC_ALREADY_EXISTS):
            message = rest[0] if rest and rest[0] else f"error code {code}"
            raise ReplayError(f"cannot create topic {name}: {message}")


async def restore_topics(bootstrap: list[str], counts: dict[str, int]) -> list[str]:
    """Make each topic exist with its partition count, after a broker lost its logs.

    A missing topic is created. A topic with another count that holds no record is
    deleted and created again: a broker that auto-creates topics (tansu) makes them
    with its default count at the first client's metadata request, and a worker that
    then adopted that count would route keys differently from its checkpointed state.
    A topic with records is left as it is; the names of those with another count are
    returned."""
    from aiokafka import AIOKafkaConsumer, TopicPartition  # type: ignore[import-untyped]
    from aiokafka.admin import AIOKafkaAdminClient

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await consumer.start()
    try:
        present = await consumer.topics()
        wrong: list[str] = []
        kept: list[str] = []
        for topic, n in counts.items():
            parts = consumer.partitions_for_topic(topic) if topic in present else None
            if not parts or len(parts) == n:
                continue
            ends = await consumer.end_offsets([TopicPartition(topic, p) for p in parts])
            # a log with records never reports an end of 0 (tansu reports ends short)
            (kept if any(ends.values()) else wrong).append(topic)
    finally:
        await consumer.stop()
    if wrong:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
        await admin.start()
        try:
            await admin.delete_topics(wrong)
        finally:
            await admin.close()
    for topic, n in counts.items():
        await ensure_topic(bootstrap, topic, n)
    return kept


async def partition_count(bootstrap: list[str], topic: str) -> int:
    """How many partitions `topic` has (it must exist)."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await producer.start()
    try:
        return len(await producer.partitions_for(topic))
    finally:
        await producer.stop()


async def replay(
    events: Path,
    bootstrap: list[str],
    topic: str,
    *,
    partitions: int,
    batch: int = 1,
    rate: float | None = None,
    progress: Callable[[int], None] | None = None,
) -> ReplayStats:
    """Publish an events file to `topic` (created with `partitions` if it is missing).

    Keys are placed by the topic's real partition count, which wins over `partitions`
    when the topic already exists."""
    from aiokafka import AIOKafkaProducer

    await ensure_topic(bootstrap, topic, partitions)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=0,  # real time: a record goes out as soon as the sender is free
        max_batch_size=256 * 1024,  # many single-event records per produce request
        request_timeout_ms=10_000,
    )
    await producer.start()
    try:
        actual = await producer.partitions_for(topic)
        return await publish(
            read_lines(events),
            producer,
            topic,
            len(actual),
            batch=batch,
            rate=rate,
            progress=progress,
        )
    finally:
        await producer.stop()


__all__ = [
    "MAX_RECORD_BYTES",
    "ReplayError",
    "ReplayStats",
    "ensure_topic",
    "feed_file",
    "key_of_line",
    "partition_count",
    "publish",
    "read_lines",
    "replay",
    "restore_topics",
]
