"""Faust on tansu: naive vs batched records, and stock vs fast transport latency.

In one run: start tansu, replay N events of a generated city twice (one event per
record, and JSON arrays of `--batch` events per record), then time
(a) a naive Faust agent that decodes each one-event record,
(b) a batched agent that decodes each array with `Decoder.decode_record`,
both on the fast transport; then replay a trickle (10 events/s) to an agent on the
stock transport (Faust's 1,500 ms fetch wait) and on the fast one, and report the
event-to-agent latency (producer CreateTime to agent, 1 ms resolution).

    python -m bench faust [--events 200000] [--batch 500] [--trickle-s 20]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import os
import platform
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.throughput import WORK, feed
from fraud_warning.decode import Decoder
from fraud_warning.kafka import transport
from fraud_warning.kafka.broker import Tansu
from fraud_warning.kafka.replay import ReplayStats, ensure_topic, publish, replay

PARTITIONS = 8
_names = itertools.count(1)


@dataclass
class AgentRun:
    events: int
    records: int
    dead_letters: int
    seconds: float  # first record in the agent to the last event decoded
    cpu_seconds: float = 0.0  # this process's CPU (all threads) over the same span

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds

    @property
    def events_per_cpu_s(self) -> float:
        """Steadier than events/s when other work shares the machine's two cores."""
        return self.events / self.cpu_seconds if self.cpu_seconds > 0 else 0.0


def bench_app(broker_url: str, datadir: Path, label: str) -> Any:
    """A Faust app for a benchmark: its own consumer group, fast group join, loopback."""
    import faust

    transport.register()
    return faust.App(
        f"fw-bench-{label}-{next(_names)}",  # a new group each run: read from the start
        broker=broker_url,
        datadir=str(datadir / label),
        web_enabled=False,
        web_bind="127.0.0.1",
        web_host="127.0.0.1",
        broker_session_timeout=3.0,  # group join takes about half of it
        broker_heartbeat_interval=0.5,
        consumer_auto_offset_reset="earliest",
    )


async def wait_assigned(app: Any, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not app.consumer.assignment():
        if time.monotonic() > deadline:
            raise TimeoutError("the Faust app was assigned no partitions")
        await asyncio.sleep(0.02)


async def consume(broker_url: str, topic: str, expected: int, datadir: Path) -> AgentRun:
    """Run an agent that decodes every record of `topic` until `expected` events."""
    app = bench_app(broker_url, datadir, topic.replace(".", "-"))
    source = app.topic(topic, value_serializer="raw", key_serializer="raw")
    decoder = Decoder(topic)
    run = AgentRun(0, 0, 0, 0.0)
    marks: list[float] = []
    cpu: list[float] = []
    done = asyncio.Event()

    @app.agent(source)
    async def decode(stream: Any) -> None:
        async for event in stream.events():
            if not marks:
                marks.append(time.perf_counter())
                cpu.append(time.process_time())
            good, bad = decoder.decode_record(event.value, event.message.offset)
            run.records += 1
            run.events += len(good) + len(bad)
            run.dead_letters += len(bad)
            if run.events >= expected:
                marks.append(time.perf_counter())
                cpu.append(time.process_time())
                done.set()

    await app.start()
    try:
        await asyncio.wait_for(done.wait(), timeout=600)
    finally:
        await app.stop()
    run.seconds = marks[1] - marks[0]
    run.cpu_seconds = cpu[1] - cpu[0]
    return run


async def trickle(
    broker: Tansu, broker_url: str, events: Path, topic: str, rate: float, seconds: float
) -> list[float]:
    """Event-to-agent latencies (s) of `rate * seconds` events replayed at `rate`."""
    from aiokafka import AIOKafkaProducer

    app = bench_app(broker_url, events.parent, topic.replace(".", "-"))
    source = app.topic(topic, value_serializer="raw", key_serializer="raw")
    latencies: list[float] = []

    @app.agent(source)
    async def measure(stream: Any) -> None:
        async for event in stream.events():
            latencies.append(time.time() - event.message.timestamp)

    n = int(rate * seconds)
    await ensure_topic([broker.bootstrap], topic, PARTITIONS)
    await app.start()
    try:
        await wait_assigned(app)
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=0)
        await producer.start()
        try:
            with events.open("rb") as fh:
                lines = (line.rstrip(b"\n") for line in itertools.islice(fh, n))
                await publish(lines, producer, topic, PARTITIONS, rate=rate)
        finally:
            await producer.stop()
        deadline = time.monotonic() + 10
        while len(latencies) < n and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    finally:
        await app.stop()
    return latencies


def _quantiles_ms(values: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {
        "p50_ms": round(cuts[49] * 1000, 1),
        "p99_ms": round(cuts[98] * 1000, 1),
        "max_ms": round(max(values) * 1000, 1),
        "samples": len(values),
    }


def _replay(events: Path, broker: Tansu, topic: str, batch: int) -> ReplayStats:
    return asyncio.run(
        replay(events, [broker.bootstrap], topic, partitions=PARTITIONS, batch=batch)
    )


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench faust")
    p.add_argument("--events", type=int, default=200_000)
    p.add_argument("--batch", type=int, default=500, help="events per record, batched run")
    p.add_argument("--repeat", type=int, default=5, help="runs of the (short) batched agent")
    p.add_argument("--rate", type=float, default=10.0, help="trickle events/s")
    p.add_argument("--trickle-s", type=float, default=20.0)
    p.add_argument("--fetch-max-wait-ms", type=int, default=transport.DEFAULT_FETCH_MAX_WAIT_MS)
    p.add_argument("--out", type=Path, default=WORK / "faust.json")
    args = p.parse_args(argv)
    logging.getLogger("aiokafka").addHandler(logging.NullHandler())

    city = feed(20_000, 24.0)
    with tempfile.TemporaryDirectory(prefix="fw-bench-faust-") as tmp:
        result = run(city, Path(tmp), args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"written {args.out}")
    return 0


def run(city: Path, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    events = work / "events.jsonl"
    with (city / "events.jsonl").open("rb") as src:
        events.write_bytes(b"".join(itertools.islice(src, args.events)))
    n = sum(1 for _ in events.open("rb"))
    print(f"feed: {city.name}, first {n:,} events; {PARTITIONS} partitions")

    result: dict[str, Any] = {
        "machine": f"{platform.node()} {platform.machine()} python {platform.python_version()}",
        "feed": str(city),
        "events": n,
        "partitions": PARTITIONS,
        "batch": args.batch,
        # other work on the machine slows wall-clock figures: see events_per_cpu_s
        "load_avg_1m_before": os.getloadavg()[0],
    }
    with Tansu.start() as broker:
        fast = transport.faust_broker_url(broker.url, fetch_max_wait_ms=args.fetch_max_wait_ms)
        single = _replay(events, broker, "bench.single", 1)
        batched = _replay(events, broker, "bench.batched", args.batch)
        print(f"replay, 1 event/record:   {single.summary()}")
        print(f"replay, {args.batch} events/record: {batched.summary()}")
        result["replay"] = {
            "single_events_per_s": single.events_per_s,
            "batched_events_per_s": batched.events_per_s,
        }

        naive = asyncio.run(consume(fast, "bench.single", n, work))
        print(
            f"(a) naive agent, 1 event/record:    {naive.events_per_s:>10,.0f} events/s, "
            f"{naive.events_per_cpu_s:,.0f} per CPU-s ({naive.records:,} records in "
            f"{naive.seconds:.2f} s)"
        )
        runs = [asyncio.run(consume(fast, "bench.batched", n, work)) for _ in range(args.repeat)]
        best = sorted(runs, key=lambda r: r.seconds)[len(runs) // 2]  # the median run
        ratio = best.events_per_s / naive.events_per_s
        print(
            f"(b) batched agent, {args.batch} events/record: {best.events_per_s:>10,.0f} events/s, "
            f"{best.events_per_cpu_s:,.0f} per CPU-s ({best.records:,} records in "
            f"{best.seconds:.2f} s, median of {args.repeat}) -> {ratio:.1f}x the naive agent"
        )
        result["naive"] = {
            **asdict(naive),
            "events_per_s": naive.events_per_s,
            "events_per_cpu_s": naive.events_per_cpu_s,
        }
        result["batched"] = {
            **asdict(best),
            "events_per_s": best.events_per_s,
            "events_per_cpu_s": best.events_per_cpu_s,
            "runs_events_per_s": [r.events_per_s for r in runs],
        }
        result["batched_over_naive"] = ratio
        result["batched_over_naive_per_cpu_s"] = best.events_per_cpu_s / naive.events_per_cpu_s

        latency: dict[str, Any] = {"rate_events_per_s": args.rate, "seconds": args.trickle_s}
        for label, url in (("stock", broker.url), ("fast", fast)):
            lat = asyncio.run(
                trickle(broker, url, events, f"bench.trickle.{label}", args.rate, args.trickle_s)
            )
            latency[label] = _quantiles_ms(lat)
            q = latency[label]
            wait = "1500 ms (Faust's)" if label == "stock" else f"{args.fetch_max_wait_ms} ms"
            print(
                f"latency at {args.rate:g} events/s, {label:>5} transport (fetch wait {wait}): "
                f"p50 {q['p50_ms']:.1f} ms, p99 {q['p99_ms']:.1f} ms ({q['samples']} events)"
            )
        result["latency"] = latency
    result["load_avg_1m_after"] = os.getloadavg()[0]
    return result
