"""Recovery: a worker SIGKILLed in the middle of a replay, and a second worker joining
and leaving; with checkpoints in (the real) Redis, the alert set is the embedded
engine's, complete, and each alert (id, revision) carries one content however often it
was re-sent."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis

from fraud_warning.kafka.broker import Tansu
from fraud_warning.kafka.replay import replay
from fraud_warning.registry import load_registry
from fraud_warning.stages.checkpoints import Checkpoints

from .helpers import alerts_differ, consume_all, wait_for
from .test_worker import ROOT, embedded_alerts
from .test_worker_cli import start_worker

REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture
def group() -> Iterator[str]:
    name = f"rec-{uuid.uuid4().hex[:8]}"
    yield name
    client = redis.Redis.from_url(REDIS)
    Checkpoints(client, "fw-test", name).clear()


def state_flags() -> list[str]:
    return ["--state-redis", REDIS, "--desk-prefix", "fw-test", "--checkpoint-every", "0.3"]


def replay_in_background(broker: Tansu, feed: Path, topic: str, rate: float) -> threading.Thread:
    def run() -> None:
        asyncio.run(
            replay(feed / "events.jsonl", [broker.bootstrap], topic, partitions=3, rate=rate)
        )

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def distinct_alerts(broker: Tansu, topic: str, expected: int) -> tuple[list[str], int]:
    """Distinct alerts on the topic (waiting until `expected` distinct ones are there),
    and how many records repeated an earlier one. A repeat must be identical."""
    deadline = time.monotonic() + 90
    while True:
        records = asyncio.run(consume_all(broker.bootstrap, topic, 10**9, timeout_s=2))
        by_key: dict[tuple[str, int], str] = {}
        for r in records:
            alert: dict[str, Any] = orjson.loads(r.value)
            text = json.dumps(alert, sort_keys=True)
            key = (alert["alert_id"], alert["revision"])
            assert by_key.setdefault(key, text) == text, f"{key} re-sent with other content"
        if len(by_key) >= expected or time.monotonic() > deadline:
            return sorted(by_key.values()), len(records) - len(by_key)


async def committed_offsets(broker: Tansu, group: str) -> dict[Any, int]:
    """The group's committed offsets on its input topic (read without joining it)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=group)
    await consumer.start()
    try:
        topic = f"{group}.events"
        tps = [TopicPartition(topic, p) for p in range(3)]
        return {tp: (await consumer.committed(tp)) or 0 for tp in tps}
    finally:
        await consumer.stop()


def stop(proc: subprocess.Popen[bytes]) -> str:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.stderr.read().decode() if proc.stderr else ""


def test_sigkill_mid_replay_loses_nothing(
    broker: Tansu, feed_dir: Path, group: str, tmp_path: Path
) -> None:
    expected = embedded_alerts(feed_dir, load_registry(ROOT / "rules", ROOT / "models"))
    flags = [*state_flags(), "--log-level", "info"]
    logs = tmp_path / "first.log", tmp_path / "second.log"
    first = start_worker(broker, feed_dir, group, *flags, log=logs[0])
    second = None
    try:
        assert wait_for(logs[0], "Worker ready"), logs[0].read_text()
        feeding = replay_in_background(broker, feed_dir, f"{group}.events", rate=1500)
        # killed once it has checkpointed some of the replay
        time.sleep(1.5)
        assert feeding.is_alive(), "the replay ended before the kill: nothing was tested"
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        second = start_worker(broker, feed_dir, group, *flags, log=logs[1])
        feeding.join(timeout=60)
        got, _ = distinct_alerts(broker, f"{group}.alerts", len(expected))
        assert got == expected, alerts_differ(got, expected, *logs)
        # the second worker did not just re-read everything with empty state: it restored
        # checkpoints and resumed at the offsets committed with them
        assert "restored at offset" in logs[1].read_text()
        committed = asyncio.run(committed_offsets(broker, group))
        assert any(o > 0 for o in committed.values())
    finally:
        if second is not None:
            stop(second)
    assert not our_tracebacks(logs[1])


def our_tracebacks(log: Path) -> list[str]:
    """Tracebacks through this project's code. (Faust logs one per send it cancels when a
    worker stops mid-send; the worker then drops those tasks, see Worker._send.)"""
    blocks = log.read_text(errors="replace").split("Traceback (most recent call last):")[1:]
    return [b for b in blocks if "/fraud_warning/" in b.split("\n[", 1)[0]]


def test_a_second_worker_joins_and_leaves(
    broker: Tansu, feed_dir: Path, group: str, tmp_path: Path
) -> None:
    expected = embedded_alerts(feed_dir, load_registry(ROOT / "rules", ROOT / "models"))
    flags = [*state_flags(), "--log-level", "info"]
    logs = tmp_path / "first.log", tmp_path / "second.log"
    first = start_worker(broker, feed_dir, group, *flags, log=logs[0])
    second = None
    try:
        assert wait_for(logs[0], "Worker ready"), logs[0].read_text()
        feeding = replay_in_background(broker, feed_dir, f"{group}.events", rate=400)
        time.sleep(0.5)
        second = start_worker(broker, feed_dir, group, *flags, log=logs[1])  # joins mid-replay
        # it takes over partitions, from the first worker's checkpoints
        assert wait_for(logs[1], "restored at offset"), logs[1].read_text()[-3000:]
        time.sleep(1)
        assert feeding.is_alive(), "the replay ended before the second worker left"
        stop(second)  # leaves mid-replay, cleanly: the first takes its partitions back
        assert not our_tracebacks(logs[1])
        feeding.join(timeout=60)
        got, _ = distinct_alerts(broker, f"{group}.alerts", len(expected))
        assert got == expected, alerts_differ(got, expected, *logs)
    finally:
        stop(first)
    assert not our_tracebacks(logs[0])


def worker_children(pid: int) -> list[int]:
    """The supervisor's worker processes (not multiprocessing's resource tracker)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    pids = [int(x) for x in children.read_text().split()] if children.exists() else []
    return [p for p in pids if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()]


def test_two_processes_share_the_work_and_one_killed_is_replaced(
    broker: Tansu, feed_dir: Path, group: str, tmp_path: Path
) -> None:
    expected = embedded_alerts(feed_dir, load_registry(ROOT / "rules", ROOT / "models"))
    log = tmp_path / "worker.log"
    flags = [*state_flags(), "--log-level", "info", "--processes", "2"]
    parent = start_worker(broker, feed_dir, group, *flags, log=log)
    try:
        assert wait_for(log, "Worker ready"), log.read_text()[-3000:]
        children = worker_children(parent.pid)
        assert len(children) == 2, children
        feeding = replay_in_background(broker, feed_dir, f"{group}.events", rate=1000)
        time.sleep(2)
        assert feeding.is_alive(), "the replay ended before the kill"
        os.kill(children[0], signal.SIGKILL)
        assert wait_for(log, "restarting it"), log.read_text()[-3000:]
        feeding.join(timeout=60)
        got, _ = distinct_alerts(broker, f"{group}.alerts", len(expected))
        assert got == expected, alerts_differ(got, expected, log)
    finally:
        parent.send_signal(signal.SIGTERM)
        code = parent.wait(timeout=60)
    assert code == 0, log.read_text()[-3000:]
    assert not [p for p in children if Path(f"/proc/{p}").exists()]  # none left behind
