"""`fraud-warning worker --processes N`, one process per core, against one process.

In one run: start tansu, publish a backlog of the bench city (records of 500 events),
then for each process count start the real command (checkpoints in the local Redis),
and time it from its first consumed event until every event is consumed (summed
`fraud_warning_events_consumed_total` over the processes' /metrics) and the alerts
topic holds as many distinct alerts as the embedded engine gives, unchanged for 3 s
(the end is taken where the count last changed). The baseline is the one-process run.

    python -m bench processes [--events 200000] [--processes 1 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from bench.throughput import WORK, feed
from fraud_warning.decode import Decoder
from fraud_warning.engine import Engine
from fraud_warning.kafka.broker import Tansu, free_port
from fraud_warning.kafka.replay import ensure_topic, publish
from fraud_warning.refdata import load_refdata
from fraud_warning.registry import load_registry

ROOT = Path(__file__).resolve().parents[1]
REDIS = "redis://127.0.0.1:6379/0"


def consumed(port: int, processes: int) -> float:
    total = 0.0
    for i in range(processes):
        try:
            url = f"http://127.0.0.1:{port + i}/metrics"
            with urllib.request.urlopen(url, timeout=2) as r:  # loopback only
                text = r.read().decode()
        except OSError:
            continue  # not up yet
        total += sum(
            float(line.split()[-1])
            for line in text.splitlines()
            if line.startswith("fraud_warning_events_consumed_total")
        )
    return total


async def distinct_alerts(bootstrap: str, topic: str) -> int:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        await consumer.topics()
        parts = consumer.partitions_for_topic(topic) or set()
        consumer.assign([TopicPartition(topic, p) for p in parts])
        seen: set[tuple[str, int]] = set()
        while True:
            batches = await consumer.getmany(timeout_ms=300)
            if not batches:
                return len(seen)
            for batch in batches.values():
                for r in batch:
                    alert = json.loads(r.value)
                    seen.add((alert["alert_id"], alert["revision"]))
    finally:
        await consumer.stop()


def run_one(
    broker: Tansu, city: Path, group: str, events: int, processes: int, want: int
) -> dict[str, Any]:
    port = free_port()
    argv = [
        sys.executable, "-m", "fraud_warning", "worker", "--broker", broker.url,
        "--partitions", "8", "--group", f"{group}-p{processes}",
        "--stage-prefix", f"{group}-p{processes}.",
        "--events-topic", f"{group}.events", "--alerts-topic", f"{group}-p{processes}.alerts",
        "--dispatch-topic", f"{group}.dispatch", "--dead-letter-topic", f"{group}.dead",
        "--cells", str(city / "cells.csv"), "--subscribers", str(city / "subscribers.csv"),
        "--session-timeout", "3", "--idle", "0", "--metrics-port", str(port),
        "--state-redis", REDIS, "--desk-prefix", "fw-bench", "--checkpoint-every", "5",
        "--processes", str(processes), "--fresh",
    ]  # fmt: skip
    log = WORK / f"processes-{processes}.log"
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=log.open("wb"))
    try:
        first = done = None
        deadline = time.monotonic() + 600
        while done is None and time.monotonic() < deadline:
            n = consumed(port, processes)
            now = time.monotonic()
            if n > 0 and first is None:
                first = now
            if n >= events:
                done = now
            time.sleep(0.05)
        if first is None or done is None:
            raise RuntimeError(f"the worker did not consume the backlog; see {log}")
        count, changed = -1, time.monotonic()
        while time.monotonic() < deadline:
            k = asyncio.run(distinct_alerts(broker.bootstrap, f"{group}-p{processes}.alerts"))
            if k != count:
                count, changed = k, time.monotonic()
            elif k >= want and time.monotonic() - changed > 3:
                break
        end = max(done, changed)
        return {
            "processes": processes,
            "seconds": end - first,
            "events_per_s": events / (end - first),
            "consumed_seconds": done - first,
            "alerts": count,
            "alerts_expected": want,
        }
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench processes")
    p.add_argument("--events", type=int, default=200_000)
    p.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    args = p.parse_args(argv)
    city = feed(20_000, 24.0)
    lines = [x for x in (city / "events.jsonl").read_bytes().splitlines() if x][: args.events]
    registry = load_registry(ROOT / "rules", ROOT / "models")
    refdata = load_refdata(city / "cells.csv", None, city / "subscribers.csv")
    good, _ = Decoder().decode_lines(enumerate(lines))
    want = len(Engine(registry, refdata).process(good).alerts)
    group = "bp" + uuid.uuid4().hex[:6]
    results = []
    with Tansu.start() as broker:

        async def backlog() -> None:
            from aiokafka import AIOKafkaProducer

            await ensure_topic([broker.bootstrap], f"{group}.events", 8)
            producer = AIOKafkaProducer(
                bootstrap_servers=broker.bootstrap, max_batch_size=256 * 1024, linger_ms=5
            )
            await producer.start()
            try:
                await publish(iter(lines), producer, f"{group}.events", 8, batch=500)
            finally:
                await producer.stop()

        asyncio.run(backlog())
        for n in args.processes:
            results.append(run_one(broker, city, group, len(lines), n, want))
    base = results[0]["events_per_s"]
    print(
        f"machine: {platform.platform()}, {platform.machine()}, python {platform.python_version()}"
    )
    print(f"{len(lines):,} events, backlog in records of 500, 8 partitions; {want} alerts expected")
    for r in results:
        ratio = r["events_per_s"] / base
        print(
            f"  --processes {r['processes']}: {r['events_per_s']:>9,.0f} events/s "
            f"({r['seconds']:.2f} s; every event consumed after {r['consumed_seconds']:.2f} s; "
            f"{r['alerts']} of {r['alerts_expected']} alerts) {ratio:.2f}x the first"
        )
    best = max(r["events_per_s"] for r in results)
    verdict = "met" if best >= 50_000 else "NOT met"
    print(f"target >= 50,000 events/s through one worker command: {verdict}")
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "processes.json").write_text(json.dumps({"results": results}, indent=2))
    return 0
