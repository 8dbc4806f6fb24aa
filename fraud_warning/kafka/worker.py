"""The distributed runner: the stage tasks as Faust agents, stages joined by topics.

    fw.events ──► number agent ──► fw.stage.victim ──► victim agent ──► fw.stage.payee
                      │                                     │                 │
                      │                                     ▼          payee agent
                      │                               fw.stage.alert ◄────────┘
                      ▼                                     │
                  fw.alerts ◄────────────── alert agent ◄───┘

Every agent takes records in micro-batches (`take_events`), hands each partition's
records to that partition's task (:mod:`fraud_warning.stages.tasks`) and sends what
the task returns as one record per destination partition: a JSON array of stage
records, watermarks included. Input records may hold one event or a JSON array of
events; an empty record with an `fw-mark` header is a watermark from the producer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import orjson

from fraud_warning.alerting import Output
from fraud_warning.decode import DeadLetter, Decoded, Decoder
from fraud_warning.kafka.replay import MAX_RECORD_BYTES
from fraud_warning.kafka.topics import MARK_HEADER, Topics
from fraud_warning.stages.records import Record
from fraud_warning.stages.tasks import (
    ALERT,
    NUMBER,
    PAYEE,
    STAGES,
    TASKS,
    VICTIM,
    Context,
    NumberTask,
    Send,
    Task,
)

log = logging.getLogger("fraud_warning.worker")

STAGE_TOPIC = {VICTIM: "victim", PAYEE: "payee", ALERT: "alert"}
_encode = msgspec.json.Encoder().encode
_decode_records = msgspec.json.Decoder(list[Record]).decode


@dataclass(frozen=True)
class WorkerConfig:
    max_batch: int = 2_000  # events (records) per micro-batch and agent
    linger_s: float = 0.005  # how long a micro-batch waits to fill
    tick_s: float = 0.1  # idle partitions are checked this often
    stage_prefix: str = "fw.stage."

    def stage_topic(self, stage: str) -> str:
        return self.stage_prefix + STAGE_TOPIC[stage]


class Worker:
    """The agents of one worker process on a Faust app (created by the caller)."""

    def __init__(
        self,
        app: Any,
        ctx: Context,
        topics: Topics,
        config: WorkerConfig | None = None,
        *,
        on_alerts: Callable[[list[dict[str, Any]]], None] | None = None,
    ) -> None:
        self.app = app
        self.ctx = ctx
        self.topics = topics
        self.config = config or WorkerConfig()
        self.on_alerts = on_alerts
        self.tasks: dict[tuple[str, int], Task] = {}
        self.decoders: dict[int, Decoder] = {}
        raw = {"value_serializer": "raw", "key_serializer": "raw"}
        self.events_topic = app.topic(topics.events, **raw)
        self.stage_topics = {
            stage: app.topic(self.config.stage_topic(stage), **raw) for stage in STAGE_TOPIC
        }
        self.alerts_topic = app.topic(topics.alerts, **raw)
        self.dead_topic = app.topic(topics.dead_letter, **raw)
        self.alerts_sent = 0
        self.dead_sent = 0
        self._register()

    def topic_partitions(self) -> dict[str, int]:
        """Topic → partition count this worker's stages need."""
        parts = self.ctx.partitions
        out = {self.topics.events: parts[NUMBER]}
        for stage in STAGE_TOPIC:
            out[self.config.stage_topic(stage)] = parts[stage]
        return out

    # -- agents ------------------------------------------------------------------------

    def _register(self) -> None:
        app, cfg = self.app, self.config

        async def number(stream: Any) -> None:
            async for batch in stream.take_events(cfg.max_batch, within=cfg.linger_s):
                await self._on_events(batch)

        async def idle_tick() -> None:
            # idle upstream partitions (live traffic) release what waits behind them
            now = time.monotonic()
            sends: list[Send] = []
            out = Output()
            for (stage, _p), task in list(self.tasks.items()):
                if stage != NUMBER:
                    sends.extend(task.step(out, now))  # type: ignore[union-attr]
            await self._emit(sends, out)

        app.agent(self.events_topic, name="fw-number")(number)
        for stage, topic in self.stage_topics.items():
            app.agent(topic, name=f"fw-{STAGE_TOPIC[stage]}")(self._stage_agent(stage))
        app.timer(cfg.tick_s)(idle_tick)

    def _stage_agent(self, stage: str) -> Callable[[Any], Any]:
        cfg = self.config

        async def agent(stream: Any) -> None:
            async for batch in stream.take_events(cfg.max_batch, within=cfg.linger_s):
                now = time.monotonic()
                by_partition: dict[int, list[Record]] = defaultdict(list)
                for event in batch:
                    by_partition[event.message.partition].extend(_decode_records(event.value))
                out = Output()
                sends: list[Send] = []
                for partition, records in by_partition.items():
                    task: Any = self.task(stage, partition)
                    task.feed(records, now)
                    sends.extend(task.step(out, now))
                await self._emit(sends, out)

        return agent

    async def _on_events(self, batch: Sequence[Any]) -> None:
        by_partition: dict[int, list[Any]] = defaultdict(list)
        for event in batch:
            by_partition[event.message.partition].append(event)
        out = Output()
        sends: list[Send] = []
        for partition, events in by_partition.items():
            task = self.task(NUMBER, partition)
            assert isinstance(task, NumberTask)
            decoder = self.decoders.setdefault(
                partition, Decoder(f"{self.topics.events}:{partition}")
            )
            good: list[Decoded] = []
            mark = float("-inf")
            for event in events:
                header = _header(event, MARK_HEADER)
                if header is not None:
                    mark = max(mark, _mark_value(header))
                    continue
                decoded, bad = decoder.decode_record(event.value, event.message.offset)
                good.extend(decoded)
                out.dead.extend(bad)
            sends.extend(task.events(good, out, decoder.source))
            if mark > float("-inf"):
                # after the batch: a mark never runs ahead of events sent before it
                sends.extend(task.advance(mark))
        await self._emit(sends, out)

    # -- tasks and sends ---------------------------------------------------------------

    def task(self, stage: str, partition: int) -> Task:
        key = (stage, partition)
        task = self.tasks.get(key)
        if task is None:
            task = self.tasks[key] = TASKS[stage](self.ctx, partition)
        return task

    async def _emit(self, sends: Iterable[Send], out: Output) -> None:
        parts = self.ctx.partitions
        per: dict[tuple[str, int], list[Record]] = defaultdict(list)
        from fraud_warning.kafka.topics import partition_for

        cache: dict[tuple[str, str], int] = {}
        for stage, key, record in sends:
            if key is None:
                for p in range(parts[stage]):
                    per[(stage, p)].append(record)
                continue
            p_of = cache.get((stage, key))
            if p_of is None:
                p_of = cache[(stage, key)] = partition_for(key.encode(), parts[stage])
            per[(stage, p_of)].append(record)
        futures = []
        for (stage, p), records in per.items():
            topic = self.stage_topics[stage]
            for value in _chunks(records):
                futures.append(await topic.send(value=value, partition=p))
        for alert in out.alerts:
            value = orjson.dumps(alert)
            futures.append(
                await self.alerts_topic.send(key=alert["alert_id"].encode(), value=value)
            )
        for dead in out.dead:
            futures.append(await self.dead_topic.send(value=orjson.dumps(dead.to_dict())))
        self.alerts_sent += len(out.alerts)
        self.dead_sent += len(out.dead)
        if out.alerts and self.on_alerts is not None:
            self.on_alerts(out.alerts)
        if futures:
            await asyncio.gather(*futures)


def _chunks(records: list[Record]) -> Iterable[bytes]:
    """The records as JSON arrays, each small enough for one Kafka record."""
    value = _encode(records)
    if len(value) <= MAX_RECORD_BYTES or len(records) == 1:
        yield value
        return
    half = len(records) // 2  # order is kept: the first half goes first
    yield from _chunks(records[:half])
    yield from _chunks(records[half:])


def _header(event: Any, name: str) -> bytes | None:
    headers = event.headers
    if not headers:
        return None
    value = headers.get(name)
    return value if isinstance(value, bytes) else None


def _mark_value(raw: bytes) -> float:
    try:
        value = float(raw)
    except ValueError:
        return float("-inf")  # a garbled mark is ignored: marks are only promises
    return value if value == value else float("-inf")


def stage_partitions(input_partitions: int, partitions: int) -> dict[str, int]:
    counts = dict.fromkeys(STAGES, partitions)
    counts[NUMBER] = input_partitions
    return counts


__all__ = ["DeadLetter", "Worker", "WorkerConfig", "stage_partitions"]
