"""Plain-client helpers for the Kafka tests (no Faust)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
import time
from pathlib import Path
from typing import Any

import orjson
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


class TcpProxy:
    """A TCP relay from a free loopback port to `host:port` (a Redis, say) that a test
    can cut and restore, to make a service unreachable without touching it.

    `cut()` closes every relayed connection and resets each new one at once (SO_LINGER
    0: the client sees "connection reset", as from a service that is down).
    `cut(hang=True)` is a network that drops packets instead: connections open, but
    nothing goes through (the client waits for its timeouts). `refused` counts the
    connections turned away or held while cut, so a test can tell the client kept
    trying."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.up = True
        self.refused = 0
        self._flowing = threading.Event()
        self._flowing.set()
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._server.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, name="tcp-proxy", daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return  # closed
            if not self.up:
                self.refused += 1
                if self._flowing.is_set():  # refusing (hanging: held, never answered)
                    _reset(client)
                else:
                    with self._lock:
                        self._open.add(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _reset(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                while not self._flowing.wait(0.1) or src not in self._open:
                    if src not in self._open:
                        return  # dropped while held: what it held is lost
                dst.sendall(data)
        except OSError:
            pass  # one side closed or reset: both go
        finally:
            for sock in (src, dst):
                self._drop(sock)

    def _drop(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.discard(sock)
        _reset(sock)

    def cut(self, *, hang: bool = False) -> None:
        """Until :meth:`restore`: connections reset and refused, or (`hang`) held with
        nothing going through. Going from hanging to refusing resets the held ones."""
        self.up = False
        if hang:
            self._flowing.clear()
            return
        with self._lock:
            live = list(self._open)
        for sock in live:
            self._drop(sock)
        # only now: a pump holding data from a hang would otherwise send it on (a stale
        # write landing in the middle of the outage)
        self._flowing.set()  # a refused connection is reset in _accept

    def restore(self) -> None:
        """Connections go through again (ones held by a hang are dropped, not resumed)."""
        if not self._flowing.is_set():
            self.cut()  # held connections reset: no stale request reaches the target late
        self.up = True

    def close(self) -> None:
        self._closed = True
        self.cut()
        self._server.close()


def _reset(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        # linger 0: close sends RST, so the peer fails at once instead of half-open
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


def wait_for(log: Path, text: str, timeout_s: float = 30) -> bool:
    """Whether `text` shows up in the file `log` within `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if text in log.read_text(errors="replace"):
            return True
        time.sleep(0.1)
    return False


# log lines an alert-set mismatch prints: warnings and what moved partitions
WORTH_SEEING = ("WARN", "ERROR", "CRITICAL", "restored at", "rebalanc", "ssign", "revok")


def alerts_differ(got: list[str], expected: list[str], *logs: Path) -> str:
    """Why two alert sets (JSON texts) differ, for an assertion message: the missing and
    extra alerts (id, revision, typology, event time), and the workers' warning and
    rebalance lines. A flaky
    recovery test is only worth its failure if the failure says what happened."""

    def short(texts: set[str]) -> list[str]:
        out = []
        for text in sorted(texts)[:8]:
            alert = orjson.loads(text)
            out.append(
                f"{alert.get('alert_id')} rev {alert.get('revision')} "
                f"{alert.get('typology')} at {alert.get('event_ts')}"
            )
        return out

    missing, extra = set(expected) - set(got), set(got) - set(expected)
    lines = [
        f"{len(got)} alerts, {len(expected)} expected: {len(missing)} missing, "
        f"{len(extra)} not expected",
        *(f"  missing {s}" for s in short(missing)),
        *(f"  extra   {s}" for s in short(extra)),
    ]
    for log in logs:
        if not log.exists():
            continue
        text = log.read_text(errors="replace")
        notable = [ln for ln in text.splitlines() if any(w in ln for w in WORTH_SEEING)]
        lines.append(f"--- {log.name}: {len(notable)} notable lines (last 40)")
        lines.extend(notable[-40:])
    return "\n".join(lines)
