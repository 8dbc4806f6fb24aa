"""`fraud-warning worker` as its own process: a replay's alerts come out on fw.alerts,
the same as the embedded engine's; SIGTERM stops it cleanly."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import orjson

from fraud_warning.kafka.broker import Tansu, free_port
from fraud_warning.kafka.replay import replay
from fraud_warning.registry import load_registry

from .helpers import consume_all, wait_for
from .test_worker import ROOT, embedded_alerts


def start_worker(
    broker: Tansu, feed_dir: Path, name: str, *extra: str, log: Path
) -> subprocess.Popen[bytes]:
    """A worker process logging to `log`, once it is ready: its partitions are assigned.

    Waiting for that, not a fixed sleep: on tansu, records produced before a new group's
    first assignment can be skipped (its offset answers are wrong after batched produce),
    and a slow start used to lose the whole replay."""
    argv = [
        sys.executable, "-m", "fraud_warning", "worker", "--broker", broker.url,
        "--partitions", "3", "--group", name, "--stage-prefix", f"{name}.stage.",
        "--events-topic", f"{name}.events", "--alerts-topic", f"{name}.alerts",
        "--dispatch-topic", f"{name}.dispatch", "--dead-letter-topic", f"{name}.dead",
        "--rules", str(ROOT / "rules"), "--models", str(ROOT / "models"),
        "--cells", str(feed_dir / "cells.csv"), "--subscribers", str(feed_dir / "subscribers.csv"),
        "--session-timeout", "3", "--idle", "0", "--log-level", "info", *extra,
    ]  # fmt: skip
    with log.open("wb") as stderr:  # the child holds its own copy of the handle
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=stderr)
    if not wait_for(log, "Worker ready"):
        proc.kill()
        raise AssertionError(log.read_text(errors="replace")[-3000:])
    return proc


def test_worker_process_alerts_equal_the_embedded_engine(
    broker: Tansu, feed_dir: Path, tmp_path: Path
) -> None:
    expected = embedded_alerts(feed_dir, load_registry(ROOT / "rules", ROOT / "models"))
    port = free_port()
    log = tmp_path / "worker.log"
    proc = start_worker(broker, feed_dir, "cli", "--metrics-port", str(port), log=log)
    try:
        asyncio.run(replay(feed_dir / "events.jsonl", [broker.bootstrap], "cli.events",
                           partitions=3, batch=100))  # fmt: skip
        records = asyncio.run(
            consume_all(broker.bootstrap, "cli.alerts", len(expected), timeout_s=60)
        )
        got = sorted(json.dumps(orjson.loads(r.value), sort_keys=True) for r in records)
        assert got == expected
        # /metrics on loopback: events counted, consumer lag per partition, and nothing
        # that identifies a subscriber in a label
        text = scrape(port, "fraud_warning_consumer_lag{")
        assert 'fraud_warning_consumer_lag{partition="0",topic="cli.events"} 0.0' in text
        assert consumed_total(text) == len((feed_dir / "events.jsonl").read_bytes().splitlines())
        assert "+86" not in text
        # state size summed over the worker's tasks, refreshed with the lag
        text = scrape_until(port, lambda t: metric(t, "fraud_warning_admitted_ids") > 0)
        assert metric(text, 'fraud_warning_state_keys{side="victims"}') > 100
        assert metric(text, 'fraud_warning_state_keys{side="numbers"}') > 100
        # estimated again once the keys held doubled: above the keys' own strings
        text = scrape_until(port, lambda t: metric(t, "fraud_warning_state_bytes") > 0)
        victims = metric(text, 'fraud_warning_state_keys{side="victims"}')
        assert metric(text, 'fraud_warning_state_bytes{side="victims"}') > 60 * victims
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    err = log.read_text(errors="replace")
    assert code in (0, -signal.SIGTERM), err
    assert "Traceback" not in err, err
    assert "+86" not in err  # no phone number in the logs


def scrape(port: int, wanted: str, timeout_s: float = 15) -> str:
    """The worker's /metrics once it shows `wanted` (gauges refresh every few seconds)."""
    return scrape_until(port, lambda text: wanted in text, timeout_s)


def scrape_until(port: int, ok: Callable[[str], bool], timeout_s: float = 15) -> str:
    """The worker's /metrics once `ok` holds for it (or the last scrape at the timeout)."""
    deadline = time.monotonic() + timeout_s
    text = ""
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            text = r.read().decode()
        if ok(text):
            break
        time.sleep(0.5)
    return text


def metric(text: str, name: str) -> float:
    """The sum of a metric's samples in an exposition (0 when absent); `name` may carry
    its labels (`name{label="value"}`) to read one sample."""
    return sum(
        float(line.split()[-1])
        for line in text.splitlines()
        if line.startswith(name) and line[len(name) : len(name) + 1] in ("{", " ")
    )


def consumed_total(metrics_text: str) -> float:
    return metric(metrics_text, "fraud_warning_events_consumed_total")


def test_worker_needs_a_broker(capsys: object) -> None:
    env = {k: v for k, v in os.environ.items() if k != "FW_BROKER"}
    out = subprocess.run(
        [sys.executable, "-m", "fraud_warning", "worker"], env=env, capture_output=True
    )
    assert out.returncode == 2
    assert b"worker needs --broker" in out.stderr


def test_plain_client_records_reach_the_desk_and_fw_dispatch(
    broker: Tansu, feed_dir: Path, tmp_path: Path
) -> None:
    """One JSON event per record from confluent-kafka (no watermark records: the idle
    rule releases the tail), alerts handed to the desk, which dispatches P1s; its tasks
    come out on fw.dispatch in the wire contract."""
    import redis

    from fraud_warning.contracts import DispatchTask
    from fraud_warning.kafka.replay import ensure_topic
    from fraud_warning.kafka.topics import input_key

    from .test_plain_client import _produce

    expected = embedded_alerts(feed_dir, load_registry(ROOT / "rules", ROOT / "models"))
    prefix = f"fw-test-{time.monotonic_ns()}"
    desk = ["--desk", "redis://127.0.0.1:6379/0", "--desk-prefix", prefix]
    units = ["--units", str(feed_dir / "units.csv")]
    log = tmp_path / "worker.log"
    # the idle rule's order is best effort: a producer or fetch stalling longer than the
    # idle time releases a partition's records out of order, so give it room on busy CI
    proc = start_worker(broker, feed_dir, "plain-w", *desk, *units, "--idle", "8", log=log)
    try:
        asyncio.run(ensure_topic([broker.bootstrap], "plain-w.events", 3))
        lines = (feed_dir / "events.jsonl").read_bytes().splitlines()
        _produce(
            broker, "plain-w.events", [(str(input_key(orjson.loads(x))).encode(), x) for x in lines]
        )
        records = asyncio.run(
            consume_all(broker.bootstrap, "plain-w.alerts", len(expected), timeout_s=60)
        )
        got = sorted(json.dumps(orjson.loads(r.value), sort_keys=True) for r in records)
        assert got == expected
        p1 = {json.loads(a)["alert_id"] for a in expected if json.loads(a)["priority"] == "P1"}
        assert p1, "no P1 alert in the feed: nothing to dispatch"
        tasks = asyncio.run(consume_all(broker.bootstrap, "plain-w.dispatch", len(p1)))
        dispatched = [DispatchTask.model_validate_json(r.value) for r in tasks]
        assert {t.alert_id for t in dispatched} == p1
        assert all(r.key == f"T-{t.alert_id}".encode() for r, t in zip(tasks, dispatched))
        client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
        assert client.keys(f"{prefix}:*")  # the desk holds them
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
        keys = list(client.scan_iter(match=f"{prefix}:*"))
        if keys:
            client.delete(*keys)


def test_a_flood_of_garbage_pauses_input_until_sigusr1(
    broker: Tansu, feed_dir: Path, tmp_path: Path
) -> None:
    from fraud_warning.kafka.replay import ensure_topic
    from fraud_warning.kafka.topics import input_key

    from .test_plain_client import _produce

    port = free_port()
    log = tmp_path / "worker.log"
    proc = start_worker(broker, feed_dir, "flood", "--metrics-port", str(port), log=log)
    try:
        asyncio.run(ensure_topic([broker.bootstrap], "flood.events", 3))
        _produce(
            broker, "flood.events", [(None, b'{"type": "call", "broken": ') for _ in range(1500)]
        )
        deadline = time.monotonic() + 30
        while "input paused" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "input paused" in log.read_text(), log.read_text()[-2000:]
        assert "invalid_json" in log.read_text()  # it says why
        good = (feed_dir / "events.jsonl").read_bytes().splitlines()[:50]
        _produce(
            broker, "flood.events", [(str(input_key(orjson.loads(x))).encode(), x) for x in good]
        )
        time.sleep(3)
        text = scrape(port, "fraud_warning_input_paused 1.0")
        assert "fraud_warning_input_paused 1.0" in text
        assert consumed_total(text) == 0  # the good ones wait in the topic
        proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 15
        while consumed_total(text) < len(good) and time.monotonic() < deadline:
            time.sleep(0.3)
            text = scrape(port, "fraud_warning_events_consumed_total")
        assert consumed_total(text) == len(good)
        assert "fraud_warning_input_paused 0.0" in text
        assert "input resumed" in log.read_text()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
