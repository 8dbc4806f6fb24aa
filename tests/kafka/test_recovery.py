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
from fraud_warning.kafka.replay import ensure_topic, replay
from fraud_warning.kafka.topics import Topics
from fraud_warning.kafka.worker import Worker, WorkerConfig, stage_partitions
from fraud_warning.refdata import load_refdata
from fraud_warning.registry import load_registry
from fraud_warning.stages.checkpoints import Checkpoints
from fraud_warning.stages.tasks import Context

from .conftest import FaustApp
from .helpers import alerts_differ, consume_all, wait_assigned, wait_for
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


def test_records_taken_before_a_rebalance_bring_back_no_task(
    broker: Tansu, faust_app: FaustApp, feed_dir: Path, group: str, tmp_path: Path
) -> None:
    """A micro-batch still lingering when partitions move holds records of partitions
    this worker no longer has. Processed, they would bring back a task for each such
    partition: stale state that checkpoints over the new owner's and resumes from its
    old self if the partition comes back. A long linger makes such batches certain."""
    refdata = load_refdata(feed_dir / "cells.csv", None, feed_dir / "subscribers.csv")
    registry = load_registry(ROOT / "rules", ROOT / "models")
    log = tmp_path / "second.log"

    async def scenario() -> tuple[set[tuple[str, int]], set[tuple[str, int]], int]:
        topics = Topics(
            events=f"{group}.events",
            alerts=f"{group}.alerts",
            dispatch=f"{group}.dispatch",
            dead_letter=f"{group}.dead",
        )
        ctx = Context(registry, refdata, partitions=stage_partitions(3, 3))
        app = faust_app(group, broker.url, producer_max_batch_size=16384)
        config = WorkerConfig(stage_prefix=f"{group}.stage.", linger_s=1.5, checkpoint_s=0.3)
        checkpoints = Checkpoints(redis.Redis.from_url(REDIS), "fw-test", group)
        worker = Worker(app, ctx, topics, config, checkpoints=checkpoints)
        for topic, n in worker.topic_partitions().items():
            await ensure_topic([broker.bootstrap], topic, n)
        await app.start()
        second = None
        try:
            await wait_assigned(app)
            feeding = asyncio.create_task(
                replay(
                    feed_dir / "events.jsonl",
                    [broker.bootstrap],
                    topics.events,
                    partitions=3,
                    rate=300,
                )
            )
            await asyncio.sleep(1.0)
            everything = set(app.consumer.assignment())
            flags = [*state_flags(), "--log-level", "info"]
            second = await asyncio.to_thread(start_worker, broker, feed_dir, group, *flags, log=log)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 30
            while set(app.consumer.assignment()) == everything and loop.time() < deadline:
                await asyncio.sleep(0.1)
            held = set(app.consumer.assignment())
            await asyncio.sleep(3 * config.linger_s)  # every lingering batch has left
            tasks = set(worker.tasks)
            held_now = set(app.consumer.assignment())
            feeding.cancel()
            return worker._task_keys(held), tasks, len(held_now ^ held)
        finally:
            if second is not None:
                await asyncio.to_thread(stop, second)
            await app.stop()

    held, tasks, moved_again = asyncio.run(scenario())
    assert moved_again == 0, "a second rebalance during the check: nothing was tested"
    assert held and len(held) < 12, f"the second worker took no partition: {held}"
    assert tasks <= held, f"tasks for partitions held elsewhere: {sorted(tasks - held)}"
