"""Faults under a running `fraud-warning worker`, with the real broker and the real Redis
(issue #8): the state Redis unreachable for 30 s mid-replay, and the broker restarted.

The worker runs as its own process with checkpoints every 0.3 s; alerts are read from
its alerts topic and compared with the embedded engine's for the same feed."""

from __future__ import annotations

import asyncio
import bisect
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

import msgspec
import orjson
import pytest
import redis

from fraud_warning.kafka.broker import Tansu, free_port
from fraud_warning.kafka.replay import replay
from fraud_warning.registry import load_registry
from fraud_warning.stages.checkpoints import Checkpoints

from .helpers import TcpProxy, consume_all
from .test_recovery import distinct_alerts, our_tracebacks, stop, wait_for
from .test_worker import ROOT, embedded_alerts
from .test_worker_cli import consumed_total, metric, scrape, start_worker

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
STATE_DB = 7  # a database of its own: nothing here meets the other tests' keys
PREFIX = "fw-faults"


@pytest.fixture
def group() -> Iterator[str]:
    name = f"faults-{uuid.uuid4().hex[:8]}"
    yield name
    Checkpoints(redis.Redis(REDIS_HOST, REDIS_PORT, db=STATE_DB), PREFIX, name).clear()


class _Positions(msgspec.Struct):
    offset: int


class _Snapshot(msgspec.Struct):
    """The part of a checkpoint this test reads (the rest is ignored when decoding)."""

    positions: _Positions


def checkpointed_offsets(group: str) -> dict[str, int]:
    """Input offset each number-stage task's checkpoint covers, read from Redis itself."""
    client = redis.Redis(REDIS_HOST, REDIS_PORT, db=STATE_DB)
    base = f"{PREFIX}:checkpoint:{group}:"
    out = {}
    for key in client.scan_iter(match=base + "N*"):
        data = client.get(key)
        if data is not None:
            snap = msgspec.msgpack.decode(data, type=_Snapshot)
            out[key.decode().removeprefix(base)] = snap.positions.offset
    return out


class Feeding:
    """A paced replay in a thread that tells how many events it has published so far."""

    def __init__(self, broker: Tansu, feed: Path, topic: str, rate: float) -> None:
        lines = feed.read_bytes().splitlines()
        self._ends = list(_running_sum(len(line) + 1 for line in lines))
        self._bytes = 0

        def run() -> None:
            asyncio.run(
                replay(feed, [broker.bootstrap], topic, partitions=3, rate=rate, progress=self._on)
            )
            self._bytes = self._ends[-1]

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def _on(self, done_bytes: int) -> None:
        self._bytes = done_bytes

    @property
    def published(self) -> int:
        return bisect.bisect_right(self._ends, self._bytes)


def _running_sum(sizes: Iterable[int]) -> Iterator[int]:
    total = 0
    for size in sizes:
        total += size
        yield total


def alert_delays(broker: Tansu, group: str, alerts: int) -> list[float]:
    """Seconds from the input record of each alert's last evidence event to the alert
    record (both timestamps set by their producers on this machine)."""
    events = asyncio.run(consume_all(broker.bootstrap, f"{group}.events", 10**9, timeout_s=3))
    published: dict[str, int] = {}
    for record in events:
        value = orjson.loads(record.value)
        for event in value if isinstance(value, list) else [value]:
            published[event["event_id"]] = record.timestamp
    out = []
    for record in asyncio.run(consume_all(broker.bootstrap, f"{group}.alerts", alerts)):
        alert = orjson.loads(record.value)
        raised = max(published[e] for e in alert["evidence"])
        out.append((record.timestamp - raised) / 1000)
    return out


def test_state_redis_unreachable_for_30_s_mid_replay(
    broker: Tansu, feed_dir: Path, group: str, tmp_path: Path
) -> None:
    """Redis hangs (packets dropped) for 15 s, then refuses connections for 15 s, while a
    replay runs. The worker keeps consuming and alerting, warns and counts the failed
    checkpoints, and checkpoints again once Redis is back; every alert of the embedded
    engine comes out, once."""
    expected = embedded_alerts(feed_dir, load_registry(ROOT / "rules", ROOT / "models"))
    proxy = TcpProxy(REDIS_HOST, REDIS_PORT)
    port = free_port()
    log = tmp_path / "worker.log"
    state = f"redis://127.0.0.1:{proxy.port}/{STATE_DB}"
    flags = ["--state-redis", state, "--desk-prefix", PREFIX, "--checkpoint-every", "0.3"]
    proc = start_worker(
        broker, feed_dir, group, *flags, "--metrics-port", str(port), "--log-level", "info", log=log
    )
    try:
        assert wait_for(log, "Worker ready"), log.read_text()[-3000:]
        feeding = Feeding(broker, feed_dir / "events.jsonl", f"{group}.events", rate=190)
        # a few seconds of replay first, with checkpoints landing
        deadline = time.monotonic() + 30
        while not checkpointed_offsets(group) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)
        assert checkpointed_offsets(group), "no checkpoint before the fault: nothing was tested"

        phases = []
        for hang in (True, False):  # 15 s dropping packets, then 15 s refusing
            published = feeding.published
            consumed = consumed_total(scrape(port, "fraud_warning_events_consumed_total"))
            proxy.cut(hang=hang)
            if hang:
                time.sleep(1)  # a write already sent when the cut came may still land
                before = checkpointed_offsets(group)
                time.sleep(14)
            else:
                time.sleep(15)
            assert proc.poll() is None, log.read_text()[-3000:]
            text = scrape(port, "fraud_warning_events_consumed_total")
            phases.append((feeding.published - published, consumed_total(text) - consumed))
        # it processed through both halves of the outage (a stage waiting on Redis would
        # stall and fall behind the replay)
        for published, consumed in phases:
            assert published > 1000, phases
            assert consumed >= 0.8 * published, phases
        # the worker kept trying, failed, and said so
        assert proxy.refused > 0
        assert metric(text, "fraud_warning_checkpoint_failures_total") > 0, text
        assert 'fraud_warning_checkpoint_failures_total{operation="write"}' in text
        assert checkpointed_offsets(group) == before  # nothing could land meanwhile
        proxy.restore()
        restored_at = time.time()
        assert feeding.thread.is_alive(), "the replay ended during the fault: run it slower"

        # a checkpoint lands once Redis is back, covering input read during the outage
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            after = checkpointed_offsets(group)
            if sum(after.values()) > sum(before.values()):
                break
            time.sleep(0.3)
        assert sum(after.values()) > sum(before.values()), (before, after)
        # the gauge is set once the whole write has returned, a moment after its first
        # key shows in Redis
        name = "fraud_warning_checkpoint_last_success_timestamp_seconds"
        deadline = time.monotonic() + 15
        while (last_success := metric(scrape(port, name), name)) <= restored_at:
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert last_success > restored_at

        feeding.thread.join(timeout=60)
        got, repeats = distinct_alerts(broker, f"{group}.alerts", len(expected))
        assert got == expected
        assert repeats == 0  # nothing was re-read: no alert went out twice
        # and none waited for Redis: each left within seconds of the event that raised it
        # (a stage held while a checkpoint hangs would keep them back 10 s and more)
        delays = alert_delays(broker, group, len(expected))
        assert len(delays) == len(expected)
        assert max(delays) < 5.0, sorted(delays)
        assert proc.poll() is None, log.read_text()[-3000:]
    finally:
        proxy.close()
        err = stop(proc)
    text = log.read_text(errors="replace") + err
    assert "checkpoint of stage" in text and "still processing and alerting" in text
    assert "checkpoints written again after" in text
    assert not our_tracebacks(log)
    assert "+86" not in text  # no phone number in the logs


def split_feed(feed_dir: Path, tmp_path: Path) -> tuple[Path, Path]:
    """The feed's events cut in two halves (in event-time order), each in a feed directory
    of its own beside the same reference files."""
    lines = (feed_dir / "events.jsonl").read_bytes().splitlines(keepends=True)
    halves = []
    for name, part in (("first", lines[: len(lines) // 2]), ("second", lines[len(lines) // 2 :])):
        out = tmp_path / name
        out.mkdir()
        (out / "events.jsonl").write_bytes(b"".join(part))
        for ref in ("cells.csv", "subscribers.csv"):
            (out / ref).symlink_to(feed_dir / ref)
        halves.append(out)
    return halves[0], halves[1]


def test_broker_restarted_between_two_halves_of_a_feed(
    feed_dir: Path, group: str, tmp_path: Path
) -> None:
    """tansu keeps its log in memory: restarted, it comes back empty and offsets start
    at 0 again. The worker sees its topics gone when it rejoins, checkpoints its state
    (without offsets, which meant the old log) and stops, saying why; restarted (as its
    supervisor would), it re-creates the topics, restores the state, sees that the new
    logs end before the checkpoints' offsets, and reads them from the start. The second
    half of the feed, published after the broker restart, then gives exactly the alerts
    an uninterrupted run gives for it: the state lived in Redis, not in the broker."""
    registry = load_registry(ROOT / "rules", ROOT / "models")
    first, second = split_feed(feed_dir, tmp_path)
    whole = embedded_alerts(feed_dir, registry)
    before = embedded_alerts(first, registry)
    after = sorted(set(whole) - set(before))
    # the second half's alerts must lean on the first half's state for this to show it
    assert before and after and embedded_alerts(second, registry) != after
    logs = tmp_path / "first.log", tmp_path / "second.log"
    state = f"redis://{REDIS_HOST}:{REDIS_PORT}/{STATE_DB}"
    flags = ["--state-redis", state, "--desk-prefix", PREFIX, "--checkpoint-every", "0.3"]
    flags += ["--log-level", "info"]
    broker = Tansu.start()
    proc = start_worker(broker, feed_dir, group, *flags, log=logs[0])
    try:
        assert wait_for(logs[0], "Worker ready"), logs[0].read_text()[-3000:]
        topic = f"{group}.events"
        asyncio.run(replay(first / "events.jsonl", [broker.bootstrap], topic, partitions=3))
        got, repeats = distinct_alerts(broker, f"{group}.alerts", len(before))
        assert (got, repeats) == (before, 0)
        time.sleep(1)  # quiet: the checkpoints cover the whole first half

        port = broker.port
        broker.stop()
        time.sleep(5)  # the broker away: the worker waits for it
        assert proc.poll() is None, logs[0].read_text()[-3000:]
        broker = Tansu.start(port=port)
        # back, empty: the worker notices on rejoining and stops, saying why
        code = proc.wait(timeout=60)
        assert code != 0
        text = logs[0].read_text(errors="replace")
        assert "the broker has lost topic(s)" in text, text[-3000:]

        proc = start_worker(broker, feed_dir, group, *flags, log=logs[1])
        assert wait_for(logs[1], "Worker ready"), logs[1].read_text()[-3000:]
        asyncio.run(replay(second / "events.jsonl", [broker.bootstrap], topic, partitions=3))
        got, repeats = distinct_alerts(broker, f"{group}.alerts", len(after))
        assert (got, repeats) == (after, 0)
        text = logs[1].read_text(errors="replace")
        assert "so the broker's log is new" in text, text[-3000:]
        assert proc.poll() is None, text[-3000:]
    finally:
        stop(proc)
        broker.stop()
    for log in logs:
        assert not our_tracebacks(log)
