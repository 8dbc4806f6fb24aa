"""The live feed for Server-Sent Events: one Redis reader fanned out to every client.

Each connected console would otherwise hold a thread in a blocking XREAD; instead one
background task tails the stream and hands entries to per-client queues. A client that
falls too far behind is dropped and reconnects with `Last-Event-ID`, which replays what
it missed from Redis.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import redis

from fraud_warning.desk.connection import STORE_ERRORS
from fraud_warning.desk.keys import Keys
from fraud_warning.desk.store import text, text_map

QUEUE_SIZE = 1000
log = logging.getLogger("fraud_warning.desk.stream")


@dataclass(frozen=True, slots=True)
class Entry:
    id: str  # the Redis stream id, also the SSE event id
    kind: str  # alert, task or ladder
    item: str
    data: dict[str, Any]


def stream_id(value: str) -> tuple[int, int]:
    ms, _, seq = value.partition("-")
    return int(ms), int(seq or 0)


def _entry(entry_id: Any, fields: Any) -> Entry | None:
    """One stream entry, or None (logged) for one the desk did not write: a stray entry
    must not end the live feed for every console."""
    f = text_map(fields)
    try:
        return Entry(text(entry_id), f["kind"], f["id"], orjson.loads(f["data"]))
    except (KeyError, orjson.JSONDecodeError) as exc:
        log.warning("live stream: entry %s skipped (%s)", text(entry_id), type(exc).__name__)
        return None


def _entries(raw: Any) -> list[Entry]:
    return [e for entry_id, fields in raw or [] if (e := _entry(entry_id, fields)) is not None]


class StreamHub:
    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        block_ms: int = 1000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`clock` (seconds since the epoch) stamps where the feed starts when Redis
        cannot be read at first (see :meth:`run`)."""
        self.client = client
        self.keys = keys
        self.block_ms = block_ms
        self.clock = clock
        self._queues: set[asyncio.Queue[Entry | None]] = set()

    def subscribe(self) -> asyncio.Queue[Entry | None]:
        queue: asyncio.Queue[Entry | None] = asyncio.Queue(QUEUE_SIZE)
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Entry | None]) -> None:
        self._queues.discard(queue)

    @property
    def clients(self) -> int:
        return len(self._queues)

    def backlog(self, after: str, count: int = 500) -> list[Entry]:
        """Entries after `after` (exclusive), oldest first."""
        return _entries(self.client.xrange(self.keys.stream, f"({after}", "+", count=count))

    def _latest(self) -> str:
        last: Any = self.client.xrevrange(self.keys.stream, count=1)
        return text(last[0][0]) if last else "0-0"

    def close(self) -> None:
        """Ends every client's stream (server shutdown)."""
        for queue in list(self._queues):
            self._drop(queue)

    def _drop(self, queue: asyncio.Queue[Entry | None]) -> None:
        self._queues.discard(queue)
        while True:
            try:
                queue.put_nowait(None)
                return
            except asyncio.QueueFull:
                queue.get_nowait()

    async def run(self) -> None:
        """Tails the stream until cancelled; survives Redis outages.

        The feed starts at the stream's latest entry. When that cannot be read (Redis
        unreachable as the server starts), it starts at the hub's start time instead, as
        a stream id: entries the engine wrote meanwhile (it may still reach Redis when
        this server cannot) are delivered once Redis answers, not skipped. Redis stamps
        ids with its own clock, so a skew between the two hosts moves that start by as
        much."""
        started = f"{int(self.clock() * 1000)}-0"
        last: str | None = None
        while True:
            try:
                if last is None:
                    last = await asyncio.to_thread(self._latest)
                start = last
                raw: Any = await asyncio.to_thread(
                    self.client.xread, {self.keys.stream: start}, 200, self.block_ms
                )
            except STORE_ERRORS as exc:
                log.warning("live stream: redis unreachable (%s)", type(exc).__name__)
                last = last or started
                await asyncio.sleep(1.0)
                continue
            except redis.RedisError as exc:  # a reply it could not read: retry, never stop
                log.warning("live stream: redis error (%s), retrying", type(exc).__name__)
                last = last or started
                await asyncio.sleep(1.0)
                continue
            for _name, items in raw or []:
                for entry_id, fields in items:
                    last = text(entry_id)  # past a skipped entry too, or it is read again
                    entry = _entry(entry_id, fields)
                    if entry is None:
                        continue
                    for queue in list(self._queues):
                        try:
                            queue.put_nowait(entry)
                        except asyncio.QueueFull:
                            self._drop(queue)  # it reconnects and catches up from Redis


__all__ = ["Entry", "StreamHub", "stream_id"]
