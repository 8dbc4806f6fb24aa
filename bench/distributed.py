"""The distributed runner through a broker: one worker's throughput, the naive Faust
agent measured in the same run, and event-to-alert latency.

In one run, on a tansu broker started here:
(a) `--events` events of the bench city are replayed as JSON arrays of `--batch`
    events (watermarks included) BEFORE one :class:`~fraud_warning.kafka.worker.Worker`
    starts (the shipped rules and models, the city's site data, `--input-partitions` /
    `--partitions`), so the worker drains a backlog. Timed from the first input record
    the worker takes to the moment every victim, payee and alert partition has
    released the last event (its merger bound is past the last event time, nothing
    waits): every alert has been emitted. Its alerts must equal the embedded engine's
    on the same events, or the figure is not a result.
(b) the naive baseline: the same events replayed one per record, and a Faust agent
    running the embedded `Engine` one event per call (`Engine.process([decoded])`),
    also from a backlog. Reported: events/s and (a)/(b).
(c) latency, each run on a fresh worker fed by a replay in another process that notes
    the wall time it takes up each event:
    - a trickle at `--trickle-rate` events/s for `--seconds` s, through the fast
      transport (fetch wait `--fetch-max-wait-ms`) and through Faust's stock one
      (1,500 ms). A city has a few alerts per thousand events, so a 200-event trickle
      would see almost none: the trickle is the alert-densest window of a small,
      fraud-dense generated city, after the city's earlier events have been replayed
      as a backlog (so the state, and the alerts, are the embedded engine's).
    - paced at half of (a)'s rate for `--seconds` s, from the start of the bench city.
    Two figures per run. *Alerts*: from the replay taking up the event that triggered
    an alert (matched on the alert's subscriber and `event_ts`) to the worker handing
    the alert record to its producer (`on_alerts`). *Every event*: from the replay
    taking it up to the moment every alert partition's merger bound is past its event
    time, i.e. when an alert it triggered would have been emitted; that covers all
    events, not only the few that alert.

    python -m bench distributed [--events 200000] [--batch 500] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import cProfile
import itertools
import json
import logging
import math
import multiprocessing
import os
import pickle
import platform
import pstats
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

from bench.faust_throughput import bench_app, wait_assigned
from bench.throughput import ROOT, WORK, feed
from fraud_warning.alerting import Output
from fraud_warning.decode import Decoder
from fraud_warning.engine import Engine
from fraud_warning.kafka import transport
from fraud_warning.kafka.broker import Tansu
from fraud_warning.kafka.replay import ensure_topic, key_of_line, publish, read_lines, replay
from fraud_warning.kafka.topics import Topics
from fraud_warning.kafka.worker import Worker, WorkerConfig, stage_partitions
from fraud_warning.refdata import RefData, load_refdata
from fraud_warning.registry import Registry, load_registry
from fraud_warning.stages.tasks import ALERT, NUMBER, STAGES, Context, Send
from fraud_warning.tuning import tune_process

CST = timezone(timedelta(hours=8))
STOCK_FETCH_WAIT_MS = 1500  # hard-coded in Faust's aiokafka consumer
PARTIES = ("caller", "callee", "sender", "receiver", "payer")
_names = itertools.count(1)


# -- the worker, with timing hooks --------------------------------------------------------


class TimedWorker(Worker):
    """The shipped worker plus what the benchmark reads: when the first input record
    came in, when every stage had released a given event time, and (for latency) the
    alert stage's watermark over wall time. Nothing in the processing changes."""

    def __init__(self, *args: Any, watch_bounds: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.first_in: float | None = None  # perf_counter at the first input batch
        self.first_cpu = 0.0
        self.input_records = 0
        self.until: float | None = None  # event time to wait for (see released)
        self.done_at: float | None = None
        self.done_cpu = 0.0
        self.watch_bounds = watch_bounds
        self.bound_times: list[float] = []  # time.time() when the alert bound rose ...
        self.bounds: list[float] = []  # ... to this (min over the alert partitions)
        self.profile: cProfile.Profile | None = None

    async def _on_events(self, batch: Sequence[Any]) -> None:
        if self.first_in is None:
            self.first_in = time.perf_counter()
            self.first_cpu = time.process_time()
            if self.profile is not None:
                self.profile.enable()
        self.input_records += len(batch)
        await super()._on_events(batch)

    async def _emit(self, sends: Iterable[tuple[Any, list[Send]]], out: Output) -> None:
        await super()._emit(sends, out)
        if self.watch_bounds:
            bound = self.alert_bound()
            if bound > (self.bounds[-1] if self.bounds else float("-inf")):
                self.bound_times.append(time.time())
                self.bounds.append(bound)
        if self.done_at is None and self.until is not None and self.released(self.until):
            self.done_at = time.perf_counter()
            self.done_cpu = time.process_time()
            if self.profile is not None:
                self.profile.disable()

    def stall_report(self) -> str:
        """Where the worker stands, for a drain that does not finish: each task's input
        offset and, for a merge, its bound and each upstream partition's mark."""
        locked = [stage for stage, lock in self.locks.items() if lock.locked()]
        lines = [
            f"    input records {self.input_records}; tasks {len(self.tasks)}; stages "
            f"mid-batch {locked}; stage records sent {self.stage_records_sent}"
        ]
        for (stage, p), task in sorted(self.tasks.items()):
            line = f"    {stage}{p}: offset {task.positions.offset}"
            merger = getattr(task, "merger", None)
            if merger is not None:
                marks = " ".join(
                    f"{s}={m:.0f}" if m > float("-inf") else f"{s}=-inf"
                    for s, m in sorted(merger.marks.items())
                )
                line += f", bound {merger.bound:.0f}, waiting {len(merger)}; marks {marks}"
            lines.append(line)
        return "\n".join(lines)

    async def consumer_report(self) -> str:
        """The consumer's view of its input partitions, for a drain that stalls."""
        fc = self.app.consumer
        thread = fc._thread
        consumer = thread._ensure_consumer()
        tps = sorted(consumer.assignment(), key=lambda tp: (tp.topic, tp.partition))

        async def positions() -> dict[Any, Any]:
            out = {}
            for tp in tps:
                try:
                    out[tp] = await asyncio.wait_for(consumer.position(tp), 5)
                except Exception as exc:
                    out[tp] = repr(exc)
            return out

        pos = await thread.call_thread(positions)
        ends = await self._end_offsets(tps) or {}
        active = {(tp.topic, tp.partition) for tp in (fc._active_partitions or ())}
        lines = [
            f"    paused (aiokafka) {sorted(str(tp) for tp in consumer.paused())}",
            f"    buffered (faust) {sorted(str(tp) for tp in fc._buffered_partitions)}",
            f"    paused (faust) {sorted(str(tp) for tp in fc._paused_partitions)}",
        ]
        for tp in tps:
            lines.append(
                f"    {tp.topic}:{tp.partition} position {pos.get(tp)} end {ends.get(tp)}"
                f" active {(tp.topic, tp.partition) in active}"
                f" read {fc._read_offset.get(tp)}"
            )
        lines.extend(self.producer_report())
        return "\n".join(lines)

    def producer_report(self) -> list[str]:
        """The producer's sends in flight and its waiting batches, each with what the
        producer's metadata knows of its partition (a batch whose partition has no known
        leader is never sent), for a stalled drain."""
        producer = self.app.producer._producer
        if producer is None:
            return ["    producer: not started"]
        sender, acc, cluster = (
            producer._sender,
            producer._message_accumulator,
            producer.client.cluster,
        )
        lines = [
            f"    producer: {len(sender._in_flight)} requests in flight, muted "
            f"{sorted(f'{tp.topic}:{tp.partition}' for tp in sender._muted_partitions)}, "
            f"pending {len(acc._pending_batches)}"
        ]
        for tp, queue in acc._batches.items():
            if queue:
                lines.append(
                    f"    {tp.topic}:{tp.partition} {len(queue)} batches waiting, leader "
                    f"{cluster.leader_for_partition(tp)}, partitions known "
                    f"{sorted(cluster.partitions_for_topic(tp.topic) or ())}"
                )
        return lines

    def alert_bound(self) -> float:
        tasks = [t for (s, _), t in self.tasks.items() if s == ALERT]
        if len(tasks) < self.ctx.partitions[ALERT]:
            return float("-inf")
        return min(t.merger.bound for t in tasks)  # type: ignore[union-attr]

    def released(self, ts: float) -> bool:
        """Every victim, payee and alert partition has processed everything up to `ts`."""
        for stage in STAGES:
            if stage == NUMBER:
                continue
            tasks = [t for (s, _), t in self.tasks.items() if s == stage]
            if len(tasks) < self.ctx.partitions[stage]:
                return False
            for task in tasks:
                merger = task.merger  # type: ignore[union-attr]
                if merger.bound <= ts or len(merger):
                    return False
        return True


def _broker_cpu(broker: Tansu | RemoteBroker) -> float:
    """CPU seconds the broker process has used (Linux /proc; 0 elsewhere)."""
    if not isinstance(broker, Tansu):
        return 0.0
    try:
        fields = Path(f"/proc/{broker.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _thread_cpu() -> dict[str, float]:
    """CPU seconds of each thread of this process, by thread name (Linux /proc)."""
    out: dict[str, float] = {}
    for thread in threading.enumerate():
        try:
            stat = Path(f"/proc/self/task/{thread.native_id}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        name = thread.name if thread is not threading.main_thread() else "main (agents)"
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        out[name] = out.get(name, 0.0) + cpu
    return out


@dataclass(frozen=True)
class RemoteBroker:
    """The broker as a child process sees it (started by the parent)."""

    bootstrap: str


@dataclass
class Setup:
    broker: Tansu | RemoteBroker
    work: Path
    registry: Registry
    input_partitions: int
    partitions: int
    max_batch: int
    linger_s: float = WorkerConfig.linger_s

    def worker(
        self,
        url: str,
        refdata: RefData,
        name: str,
        *,
        on_alerts: Callable[[list[dict[str, Any]]], None] | None = None,
        watch_bounds: bool = False,
    ) -> TimedWorker:
        ctx = Context(
            self.registry,
            refdata,
            partitions=stage_partitions(self.input_partitions, self.partitions),
        )
        topics = Topics(
            events=f"{name}.events",
            alerts=f"{name}.alerts",
            dispatch=f"{name}.dispatch",
            dead_letter=f"{name}.dead",
        )
        config = WorkerConfig(
            max_batch=self.max_batch, linger_s=self.linger_s, stage_prefix=f"{name}.stage."
        )
        app = bench_app(url, self.work, f"dist-{name}")
        tune_process()  # as `fraud-warning worker` does
        return TimedWorker(app, ctx, topics, config, on_alerts=on_alerts, watch_bounds=watch_bounds)

    async def topics(self, worker: Worker) -> None:
        bootstrap = [self.broker.bootstrap]
        for topic, n in worker.topic_partitions().items():
            await ensure_topic(bootstrap, topic, n)
        for topic in (worker.topics.alerts, worker.topics.dead_letter):
            await ensure_topic(bootstrap, topic, 1)


async def _until(
    check: Callable[[], bool], timeout_s: float, every_s: float = 0.02, what: str = ""
) -> bool:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            print(f"  ! timed out after {timeout_s:.0f} s waiting for {what}", flush=True)
            return False
        await asyncio.sleep(every_s)
    return True


# -- (a) one worker drains a backlog ----------------------------------------------------


@dataclass
class Drain:
    events: int
    input_records: int
    alerts: int
    dead_letters: int
    seconds: float  # first input record taken to the last event released everywhere
    cpu_seconds: float  # this process (the worker, all threads) over the same span
    broker_cpu_seconds: float  # tansu over the same span (approximately)
    replay_events_per_s: float
    thread_cpu_seconds: dict[str, float] = field(default_factory=dict)  # of this process

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    @property
    def events_per_cpu_s(self) -> float:
        return self.events / self.cpu_seconds if self.cpu_seconds > 0 else 0.0

    def figures(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "events_per_s": self.events_per_s,
            "events_per_cpu_s": self.events_per_cpu_s,
        }


async def start_at_zero(bootstrap: str, group: str, topic: str, partitions: int) -> None:
    """Commit offset 0 for `group` on every partition of `topic`, before the backlog is
    published: the worker then starts from committed offsets and never asks tansu where
    a log begins. Records published before a new group's first assignment were
    sometimes skipped that way (tansu answers offsets wrongly after batched produce),
    and the drain then waited for ever for its last event (the "drain hang")."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.commit(dict.fromkeys(tps, 0))
    finally:
        await consumer.stop()


async def drain_worker(
    setup: Setup,
    url: str,
    events: Path,
    refdata: RefData,
    *,
    n: int,
    last_ts: float,
    batch: int,
    profile: cProfile.Profile | None = None,
) -> tuple[Drain, list[dict[str, Any]]]:
    alerts: list[dict[str, Any]] = []
    worker = setup.worker(url, refdata, "wa", on_alerts=alerts.extend)
    worker.profile = profile
    worker.until = last_ts
    await setup.topics(worker)
    await start_at_zero(
        setup.broker.bootstrap, worker.app.conf.id, worker.topics.events, setup.input_partitions
    )
    stats = await replay(
        events,
        [setup.broker.bootstrap],
        worker.topics.events,
        partitions=setup.input_partitions,
        batch=batch,
    )
    print(f"  backlog: {stats.summary()}", flush=True)
    broker_cpu = 0.0
    threads: dict[str, float] = {}
    await worker.app.start()
    try:
        await _until(lambda: worker.first_in is not None, 60, 0.005, "the first input record")
        broker_cpu, threads = _broker_cpu(setup.broker), _thread_cpu()
        if not await _until(lambda: worker.done_at is not None, 120, 0.005, "the backlog"):
            print(worker.stall_report(), flush=True)
            print(await worker.consumer_report(), flush=True)
            await _until(lambda: worker.done_at is not None, 780, 0.005, "the backlog to drain")
        broker_cpu = _broker_cpu(setup.broker) - broker_cpu
        threads = {k: v - threads.get(k, 0.0) for k, v in _thread_cpu().items()}
        # the counters must settle: nothing more may come after the last release
        await asyncio.sleep(1.0)
    finally:
        await worker.app.stop()
    if worker.first_in is None or worker.done_at is None:
        raise RuntimeError("the worker did not drain the backlog")
    run = Drain(
        events=n,
        input_records=worker.input_records,
        alerts=worker.alerts_sent,
        dead_letters=worker.dead_sent,
        seconds=worker.done_at - worker.first_in,
        cpu_seconds=worker.done_cpu - worker.first_cpu,
        broker_cpu_seconds=broker_cpu,
        replay_events_per_s=stats.events_per_s,
        thread_cpu_seconds={k: round(v, 2) for k, v in threads.items() if v > 0.005},
    )
    return run, alerts


# -- (b) the naive agent ----------------------------------------------------------------


async def naive_agent(
    setup: Setup, url: str, events: Path, registry: Registry, refdata: RefData, n: int
) -> Drain:
    """A Faust agent taking one event per record, the embedded engine one event per call."""
    name = "wb"
    topic, alerts_name = f"{name}.single", f"{name}.alerts"
    bootstrap = [setup.broker.bootstrap]
    await ensure_topic(bootstrap, alerts_name, 1)
    stats = await replay(events, bootstrap, topic, partitions=setup.input_partitions, batch=1)
    print(f"  backlog: {stats.summary()}", flush=True)
    app = bench_app(url, setup.work, f"dist-{name}")
    source = app.topic(topic, value_serializer="raw", key_serializer="raw")
    alerts_topic = app.topic(alerts_name, value_serializer="raw", key_serializer="raw")
    engine = Engine(registry, refdata)
    decoder = Decoder(topic)
    counts = {"events": 0, "records": 0, "alerts": 0, "dead": 0}
    marks: list[tuple[float, float]] = []
    done = asyncio.Event()

    async def agent(stream: Any) -> None:
        async for event in stream.events():
            if not marks:
                marks.append((time.perf_counter(), time.process_time()))
            good, bad = decoder.decode_record(event.value, event.message.offset)
            out = engine.process(good)
            for alert in out.alerts:
                await alerts_topic.send(key=alert["alert_id"].encode(), value=orjson.dumps(alert))
            counts["records"] += 1
            counts["events"] += len(good) + len(bad)
            counts["alerts"] += len(out.alerts)
            counts["dead"] += len(bad)
            if counts["events"] >= n and not done.is_set():
                marks.append((time.perf_counter(), time.process_time()))
                done.set()

    app.agent(source, name="naive")(agent)
    await app.start()
    broker_cpu = 0.0
    try:
        await _until(lambda: bool(marks), 60, what="the first record")
        broker_cpu = _broker_cpu(setup.broker)
        await asyncio.wait_for(done.wait(), timeout=1800)
        broker_cpu = _broker_cpu(setup.broker) - broker_cpu
    finally:
        await app.stop()
    return Drain(
        events=counts["events"],
        input_records=counts["records"],
        alerts=counts["alerts"],
        dead_letters=counts["dead"],
        seconds=marks[1][0] - marks[0][0],
        cpu_seconds=marks[1][1] - marks[0][1],
        broker_cpu_seconds=broker_cpu,
        replay_events_per_s=stats.events_per_s,
    )


# -- (c) latency ------------------------------------------------------------------------


def _publisher(
    bootstrap: str, topic: str, path: str, partitions: int, rate: float, batch: int, out: str
) -> None:
    """In its own process: replay `path` at `rate`, noting when each line is taken up."""
    logging.getLogger("aiokafka").addHandler(logging.NullHandler())
    times = asyncio.run(_publish_timed(bootstrap, topic, Path(path), partitions, rate, batch))
    Path(out).write_bytes(orjson.dumps(times))


async def _publish_timed(
    bootstrap: str, topic: str, path: Path, partitions: int, rate: float, batch: int
) -> list[float]:
    from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped]

    producer = AIOKafkaProducer(
        bootstrap_servers=[bootstrap],
        acks="all",
        linger_ms=0,
        max_batch_size=256 * 1024,
        request_timeout_ms=10_000,
    )
    times: list[float] = []

    def lines() -> Iterator[bytes]:
        for line in read_lines(path):
            times.append(time.time())  # the event "happens": publish() sends it now
            yield line

    await producer.start()
    try:
        await publish(lines(), producer, topic, partitions, batch=batch, rate=rate)
    finally:
        await producer.stop()
    return times


@dataclass
class Latency:
    label: str
    rate: float
    fetch_wait_ms: int
    events: int
    alerts_expected: int  # the embedded engine's alerts on the paced events
    alert_latency: list[float] = field(default_factory=list)  # seconds
    alerts_unmatched: int = 0  # alerts whose triggering event was not found
    event_latency: list[float] = field(default_factory=list)
    events_unreleased: int = 0  # events the alert stage had not passed at the end
    published_events_per_s: float = 0.0
    stage_records: int = 0  # envelopes the worker sent between its stages ...
    mark_records: int = 0  # ... of which carried only watermarks

    def figures(self) -> dict[str, Any]:
        alert = _quantiles(self.alert_latency)
        event = _quantiles(self.event_latency)
        tenth = max(1, len(self.event_latency) // 10)
        kept_up = (
            bool(self.event_latency)
            and statistics.median(self.event_latency[-tenth:])
            <= 2 * statistics.median(self.event_latency[:tenth]) + 0.05
        )
        return {
            "label": self.label,
            "rate_events_per_s": self.rate,
            "published_events_per_s": self.published_events_per_s,
            "fetch_max_wait_ms": self.fetch_wait_ms,
            "events": self.events,
            "alerts_expected": self.alerts_expected,
            "alerts_measured": len(self.alert_latency),
            "alerts_unmatched": self.alerts_unmatched,
            "events_unreleased": self.events_unreleased,
            "alert": alert,
            "event": event,
            "kept_up": kept_up,
            "stage_records": self.stage_records,
            "mark_records": self.mark_records,
        }


def _quantiles(values: list[float]) -> dict[str, float | int]:
    if not values:
        return {"samples": 0, "p50_ms": math.nan, "p99_ms": math.nan, "max_ms": math.nan}
    ordered = sorted(values)

    def q(p: float) -> float:  # nearest rank: with few samples p99 is the maximum
        return ordered[min(len(ordered) - 1, max(0, math.ceil(p * len(ordered)) - 1))] * 1000

    return {
        "samples": len(ordered),
        "p50_ms": round(q(0.50), 1),
        "p99_ms": round(q(0.99), 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


def _line_facts(lines: list[bytes]) -> tuple[list[float], list[list[str]]]:
    """Event time and parties (subscribers an alert can be about) of each line."""
    times: list[float] = []
    parties: list[list[str]] = []
    for line in lines:
        _, ts = key_of_line(line)
        times.append(ts if ts is not None else math.nan)
        obj = orjson.loads(line)
        parties.append([obj[k] for k in PARTIES if isinstance(obj.get(k), str)])
    return times, parties


async def paced_worker(
    setup: Setup,
    url: str,
    label: str,
    refdata: RefData,
    warmup: list[bytes],
    window: list[bytes],
    *,
    rate: float,
    batch: int,
    fetch_wait_ms: int,
    alerts_expected: int,
    profile_to: str | None = None,
) -> Latency:
    """A fresh worker: `warmup` as a backlog, then `window` published at `rate` by
    another process; event-to-alert latencies (and, with `profile_to`, a cProfile of the
    worker's thread over the paced window)."""
    emitted: list[tuple[float, dict[str, Any]]] = []

    def on_alerts(alerts: list[dict[str, Any]]) -> None:
        now = time.time()
        emitted.extend((now, a) for a in alerts)

    # the process id too: each latency run is a fresh process whose counter starts over,
    # and a reused name would read the previous run's records from its topics
    name = f"wc{os.getpid()}-{next(_names)}"
    worker = setup.worker(url, refdata, name, on_alerts=on_alerts, watch_bounds=True)
    await setup.topics(worker)
    bootstrap = setup.broker.bootstrap
    times, parties = _line_facts(window)
    warm_ts = float("-inf")
    if warmup:
        path = setup.work / f"{name}-warmup.jsonl"
        path.write_bytes(b"\n".join(warmup) + b"\n")
        await replay(
            path, [bootstrap], worker.topics.events, partitions=setup.input_partitions, batch=500
        )
        warm_ts = max(t for t in (key_of_line(ln)[1] for ln in warmup) if t is not None)
    window_path = setup.work / f"{name}-window.jsonl"
    window_path.write_bytes(b"\n".join(window) + b"\n")
    out_path = setup.work / f"{name}-times.json"
    await worker.app.start()
    try:
        await wait_assigned(worker.app)
        if warmup:
            ok = await _until(lambda: worker.released(warm_ts), 600, 0.05, "the warm-up backlog")
            if not ok:
                raise RuntimeError("the worker did not drain its warm-up")
        emitted.clear()  # only alerts of the paced events count
        records_before = (worker.stage_records_sent, worker.mark_records_sent)
        process = multiprocessing.get_context("spawn").Process(
            target=_publisher,
            args=(
                bootstrap,
                worker.topics.events,
                str(window_path),
                setup.input_partitions,
                rate,
                batch,
                str(out_path),
            ),
        )
        profile = cProfile.Profile() if profile_to else None
        if profile is not None:
            profile.enable()
        process.start()
        await asyncio.get_running_loop().run_in_executor(None, process.join)
        if process.exitcode != 0:
            raise RuntimeError(f"the publisher exited with {process.exitcode}")
        last = max(t for t in times if not math.isnan(t))
        await _until(lambda: worker.released(last), 120, 0.02, "the paced events to be released")
        if profile is not None and profile_to:
            profile.disable()
            profile.dump_stats(profile_to)
    finally:
        await worker.app.stop()

    published = orjson.loads(out_path.read_bytes())
    run = Latency(
        label,
        rate,
        fetch_wait_ms,
        len(window),
        alerts_expected,
        stage_records=worker.stage_records_sent - records_before[0],
        mark_records=worker.mark_records_sent - records_before[1],
        # from the publisher's own clock: its process start is not part of the pace
        published_events_per_s=(len(published) - 1) / (published[-1] - published[0])
        if len(published) > 1 and published[-1] > published[0]
        else 0.0,
    )
    # alerts: triggering event by (subscriber, event time); the earliest if several
    by_party: dict[tuple[str, float], float] = {}
    for i, ts in enumerate(times):
        for party in parties[i]:
            key = (party, round(ts, 6))
            if key not in by_party:
                by_party[key] = published[i]
    for at, alert in emitted:
        ts = datetime.fromisoformat(alert["event_ts"]).timestamp()
        sent = by_party.get((alert["subscriber"], round(ts, 6)))
        if sent is None:
            run.alerts_unmatched += 1
        else:
            run.alert_latency.append(at - sent)
    # every event: until the alert stage's bound is past its event time
    for i, ts in enumerate(times):
        k = bisect.bisect_right(worker.bounds, ts)
        if k == len(worker.bounds):
            run.events_unreleased += 1
        else:
            run.event_latency.append(worker.bound_times[k] - published[i])
    return run


def _latency_child(
    bootstrap: str,
    work: str,
    shape: tuple[int, int, int, float],
    url: str,
    label: str,
    city: str,
    warmup: str,
    window: str,
    options: dict[str, Any],
    out: str,
) -> None:
    """In a fresh process, as a worker runs in production: one latency run."""
    logging.getLogger("aiokafka").addHandler(logging.NullHandler())
    registry = load_registry(ROOT / "rules", ROOT / "models")
    setup = Setup(RemoteBroker(bootstrap), Path(work), registry, *shape)
    warm = list(read_lines(Path(warmup))) if Path(warmup).stat().st_size else []
    run = asyncio.run(
        paced_worker(
            setup,
            url,
            label,
            city_refdata(Path(city)),
            warm,
            list(read_lines(Path(window))),
            **options,
        )
    )
    Path(out).write_bytes(pickle.dumps(run))


def isolated_latency(
    setup: Setup,
    url: str,
    label: str,
    city: Path,
    warmup: list[bytes],
    window: list[bytes],
    **options: Any,
) -> Latency:
    """:func:`paced_worker` in a process of its own: the worker's heap holds only its
    own state (earlier runs' garbage would lengthen garbage-collection pauses)."""
    name = f"iso{next(_names)}"
    paths = [setup.work / f"{name}-{part}" for part in ("warmup", "window", "out")]
    paths[0].write_bytes(b"\n".join(warmup) + b"\n" if warmup else b"")
    paths[1].write_bytes(b"\n".join(window) + b"\n")
    shape = (setup.input_partitions, setup.partitions, setup.max_batch, setup.linger_s)
    process = multiprocessing.get_context("spawn").Process(
        target=_latency_child,
        args=(
            setup.broker.bootstrap,
            str(setup.work),
            shape,
            url,
            label,
            str(city),
            *map(str, paths[:2]),
            options,
            str(paths[2]),
        ),
    )
    process.start()
    process.join()
    if process.exitcode != 0:
        raise RuntimeError(f"the latency run {label!r} exited with {process.exitcode}")
    run: Latency = pickle.loads(paths[2].read_bytes())
    return run


# -- feeds and the embedded reference -----------------------------------------------------


def dense_feed(subscribers: int = 100, hours: float = 24.0, seed: int = 11) -> Path:
    """A small city with the generator's highest fraud rate: alerts at a trickle."""
    from fraud_warning.feed.generate import GENERATOR_VERSION, MAX_FRAUD_RATE, generate_feed

    name = f"bench-dense-{subscribers}-{hours:g}h-s{seed}-g{GENERATOR_VERSION}"
    out = ROOT / "feeds" / "cache" / name
    if not (out / "meta.json").is_file():
        print(f"generating a fraud-dense city of {subscribers:,} subscribers ...", flush=True)
        generate_feed(
            out,
            subscribers=subscribers,
            hours=hours,
            seed=seed,
            start=datetime(2026, 3, 2, 0, 0, tzinfo=CST),
            fraud_rate=MAX_FRAUD_RATE,
        )
    return out


def city_refdata(city: Path) -> RefData:
    return load_refdata(city / "cells.csv", None, city / "subscribers.csv")


def embedded(
    lines: list[bytes], registry: Registry, refdata: RefData, batch: int = 2000
) -> tuple[list[dict[str, Any]], float]:
    """The embedded engine's alerts over `lines`, and its events/s (decode included)."""
    engine, decoder = Engine(registry, refdata), Decoder()
    alerts: list[dict[str, Any]] = []
    started = time.perf_counter()
    for i in range(0, len(lines), batch):
        good, _ = decoder.decode_lines(enumerate(lines[i : i + batch], start=i + 1))
        alerts.extend(engine.process(good).alerts)
    return alerts, len(lines) / (time.perf_counter() - started)


def densest_window(lines: list[bytes], registry: Registry, refdata: RefData, size: int) -> int:
    """Start of the `size`-line window holding the most embedded alerts."""
    engine, decoder = Engine(registry, refdata), Decoder()
    good, _ = decoder.decode_lines(enumerate(lines))
    at: list[int] = []
    for i, item in enumerate(good):  # one event per call: the alert's line is known
        at.extend(itertools.repeat(i, len(engine.process([item]).alerts)))
    if len(lines) <= size:
        return 0
    best, best_start = -1, 0
    for start in range(0, len(lines) - size + 1):
        count = bisect.bisect_left(at, start + size) - bisect.bisect_left(at, start)
        if count > best:
            best, best_start = count, start
    return best_start


def _canon(alerts: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps(a, sort_keys=True) for a in alerts)


def _alerts_in(lines: list[bytes], start: int, registry: Registry, refdata: RefData) -> int:
    """Embedded alerts raised by lines[start:] after lines[:start] ran."""
    engine, decoder = Engine(registry, refdata), Decoder()
    good, _ = decoder.decode_lines(enumerate(lines[:start]))
    engine.process(good)
    good, _ = decoder.decode_lines(enumerate(lines[start:]))
    return len(engine.process(good).alerts)


# -- the run ----------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench distributed")
    p.add_argument("--events", type=int, default=200_000, help="events of the bench city")
    p.add_argument("--subscribers", type=int, default=20_000)
    p.add_argument("--hours", type=float, default=24.0)
    p.add_argument("--batch", type=int, default=500, help="events per input record (a, c)")
    p.add_argument("--input-partitions", type=int, default=8)
    p.add_argument("--partitions", type=int, default=8, help="of each stage topic")
    p.add_argument("--max-batch", type=int, default=WorkerConfig.max_batch)
    p.add_argument(
        "--linger-ms",
        type=float,
        default=WorkerConfig.linger_s * 1000,
        help="how long a worker micro-batch waits to fill",
    )
    p.add_argument("--naive-events", type=int, default=None, help="default: --events")
    p.add_argument("--trickle-rate", type=float, default=10.0)
    p.add_argument("--seconds", type=float, default=20.0, help="of each latency run")
    p.add_argument("--fetch-max-wait-ms", type=int, default=transport.DEFAULT_FETCH_MAX_WAIT_MS)
    p.add_argument("--paced-rate", type=float, help="events/s; default: half of (a)'s rate")
    p.add_argument(
        "--skip", nargs="*", default=[], choices=("naive", "latency", "trickle", "stock")
    )
    p.add_argument(
        "--profile",
        type=Path,
        help="cProfile the worker's drain into this file, and its paced run into FILE.paced",
    )
    p.add_argument("--out", type=Path, default=WORK / "distributed.json")
    p.add_argument("--log", type=Path, help="Faust's and aiokafka's log of the run, at INFO")
    args = p.parse_args(argv)
    logging.getLogger("aiokafka").addHandler(logging.NullHandler())
    if args.log:
        fmt = "%(asctime)s %(threadName)s %(name)s %(levelname)s %(message)s"
        logging.basicConfig(filename=args.log, level=logging.INFO, format=fmt, force=True)

    with tempfile.TemporaryDirectory(prefix="fw-bench-dist-") as tmp:
        result = run(Path(tmp), args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"written {args.out}")
    return 0 if result["alerts_equal_embedded"] else 1


def run(work: Path, args: argparse.Namespace) -> dict[str, Any]:
    city = feed(args.subscribers, args.hours)
    all_lines = list(read_lines(city / "events.jsonl"))
    lines = all_lines[: args.events]
    events = work / "events.jsonl"
    events.write_bytes(b"\n".join(lines) + b"\n")
    n = len(lines)
    last_ts = max(t for t in (key_of_line(ln)[1] for ln in lines) if t is not None)
    registry = load_registry(ROOT / "rules", ROOT / "models")
    refdata = city_refdata(city)
    load_before = os.getloadavg()
    machine = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "load_avg_before": load_before,
    }
    print(
        f"machine: {machine['platform']}, {machine['cpu_count']} CPUs, python "
        f"{machine['python']}, load average {load_before[0]:.2f} {load_before[1]:.2f}"
    )
    print(
        f"feed: {city.name}, first {n:,} events; {len(registry)} rules/models; partitions: "
        f"input {args.input_partitions}, stages {args.partitions}; worker max_batch "
        f"{args.max_batch}"
    )
    expected, embedded_rate = embedded(lines, registry, refdata)
    print(
        f"embedded engine (one process, no broker): {embedded_rate:,.0f} events/s, "
        f"{len(expected)} alerts",
        flush=True,
    )
    result: dict[str, Any] = {
        "machine": machine,
        "feed": str(city),
        "events": n,
        "rules": len(registry),
        "input_partitions": args.input_partitions,
        "stage_partitions": args.partitions,
        "batch": args.batch,
        "max_batch": args.max_batch,
        "embedded_events_per_s": embedded_rate,
        "embedded_alerts": len(expected),
    }
    with Tansu.start() as broker:
        fast = transport.faust_broker_url(broker.url, fetch_max_wait_ms=args.fetch_max_wait_ms)
        setup = Setup(
            broker,
            work,
            registry,
            args.input_partitions,
            args.partitions,
            args.max_batch,
            args.linger_ms / 1000,
        )
        result["fetch_max_wait_ms"] = args.fetch_max_wait_ms
        print(f"broker: tansu at {broker.bootstrap}; worker transport {fast}", flush=True)

        print(f"(a) one worker, backlog of {n:,} events in records of {args.batch} ...")
        profile = cProfile.Profile() if args.profile else None
        drained, got = asyncio.run(
            drain_worker(
                setup,
                fast,
                events,
                refdata,
                n=n,
                last_ts=last_ts,
                batch=args.batch,
                profile=profile,
            )
        )
        equal = _canon(got) == _canon(expected)
        result["worker"] = drained.figures()
        result["alerts_equal_embedded"] = equal
        print(
            f"    {drained.events_per_s:,.0f} events/s, {drained.events_per_cpu_s:,.0f} per "
            f"worker CPU-s ({drained.seconds:.2f} s, {drained.input_records:,} records; "
            f"broker CPU {drained.broker_cpu_seconds:.1f} s); {drained.alerts} alerts: "
            f"{'EQUAL to' if equal else 'DIFFERENT from'} the embedded engine's "
            f"({len(expected)})",
            flush=True,
        )
        print(f"    CPU by thread: {drained.thread_cpu_seconds}")
        if profile is not None:
            profile.dump_stats(str(args.profile))
            print(f"    profile written to {args.profile}")
            pstats.Stats(profile).sort_stats("tottime").print_stats(25)

        if "naive" not in args.skip:
            naive_n = min(args.naive_events or n, n)
            naive_events = events
            if naive_n < n:
                naive_events = work / "naive.jsonl"
                naive_events.write_bytes(b"\n".join(lines[:naive_n]) + b"\n")
            print(f"(b) naive agent, {naive_n:,} events one per record and per engine call ...")
            naive = asyncio.run(naive_agent(setup, fast, naive_events, registry, refdata, naive_n))
            ratio = drained.events_per_s / naive.events_per_s
            ratio_cpu = drained.events_per_cpu_s / naive.events_per_cpu_s
            result["naive"] = naive.figures()
            result["worker_over_naive"] = ratio
            result["worker_over_naive_per_cpu_s"] = ratio_cpu
            print(
                f"    {naive.events_per_s:,.0f} events/s, {naive.events_per_cpu_s:,.0f} per "
                f"CPU-s ({naive.seconds:.1f} s; {naive.alerts} alerts) -> the worker is "
                f"{ratio:.1f}x ({ratio_cpu:.1f}x per CPU-s)",
                flush=True,
            )

        if "latency" not in args.skip:
            result["latency"] = latency_runs(setup, broker, fast, args, drained, all_lines)
    load_after = os.getloadavg()
    machine["load_avg_after"] = load_after
    _table(result)
    return result


def latency_runs(
    setup: Setup,
    broker: Tansu,
    fast: str,
    args: argparse.Namespace,
    drained: Drain,
    city_lines: list[bytes],
) -> list[dict[str, Any]]:
    registry = setup.registry
    dense = dense_feed()
    dense_lines = list(read_lines(dense / "events.jsonl"))
    dense_ref = city_refdata(dense)
    size = int(args.trickle_rate * args.seconds)
    start = densest_window(dense_lines, registry, dense_ref, size)
    warmup, window = dense_lines[:start], dense_lines[start : start + size]
    trickle_expected = _alerts_in(dense_lines[: start + size], start, registry, dense_ref)
    print(
        f"(c) latency; trickle: {dense.name}, events {start:,}..{start + size:,} "
        f"({trickle_expected} embedded alerts) after a backlog of the {start:,} before",
        flush=True,
    )
    runs: list[Latency] = []
    trickles = [("trickle, fast transport", fast, args.fetch_max_wait_ms)]
    if "stock" not in args.skip:
        trickles.append(("trickle, stock transport", broker.url, STOCK_FETCH_WAIT_MS))
    if "trickle" in args.skip:
        trickles = []
    for label, url, wait in trickles:
        runs.append(
            isolated_latency(
                setup,
                url,
                label,
                dense,
                warmup,
                window,
                rate=args.trickle_rate,
                batch=args.batch,
                fetch_wait_ms=wait,
                alerts_expected=trickle_expected,
            )
        )
        _print_latency(runs[-1])

    rate = args.paced_rate or drained.events_per_s / 2
    share = "half of (a)'s rate" if args.paced_rate is None else f"{rate:,.0f} events/s"
    count = int(rate * args.seconds)
    city = feed(args.subscribers, args.hours)
    paced_lines = city_lines[:count]
    if len(paced_lines) < count:
        print(f"    (the city has {len(city_lines):,} events: pacing runs shorter)")
    paced_expected = len(embedded(paced_lines, registry, city_refdata(city))[0])
    print(f"    paced: {city.name}, first {len(paced_lines):,} events at {rate:,.0f}/s", flush=True)
    runs.append(
        isolated_latency(
            setup,
            fast,
            f"{share}, fast transport",
            city,
            [],
            paced_lines,
            rate=rate,
            batch=args.batch,
            fetch_wait_ms=args.fetch_max_wait_ms,
            alerts_expected=paced_expected,
            profile_to=f"{args.profile}.paced" if args.profile else None,
        )
    )
    _print_latency(runs[-1])
    if args.profile:
        print(f"    profile of the paced run written to {args.profile}.paced")
        pstats.Stats(f"{args.profile}.paced").sort_stats("tottime").print_stats(25)
    return [r.figures() for r in runs]


def _ms(value: object) -> str:
    v = float(value)  # type: ignore[arg-type]
    return "-" if math.isnan(v) else f"{v:,.0f} ms"


def _print_latency(run: Latency) -> None:
    fig = run.figures()
    a, e = fig["alert"], fig["event"]
    behind = "" if fig["kept_up"] else "  FELL BEHIND"
    print(
        f"    {run.label}: {fig['published_events_per_s']:,.0f} events/s published; alerts "
        f"p50 {_ms(a['p50_ms'])} p99 {_ms(a['p99_ms'])} ({a['samples']} of "
        f"{run.alerts_expected} expected, {run.alerts_unmatched} unmatched); every event "
        f"p50 {_ms(e['p50_ms'])} p99 {_ms(e['p99_ms'])} ({e['samples']:,}, "
        f"{run.events_unreleased} not released){behind}; stage records "
        f"{run.stage_records:,} ({run.mark_records:,} marks only)",
        flush=True,
    )


def _table(result: dict[str, Any]) -> None:
    m = result["machine"]
    print()
    print(
        f"== distributed runner, {m['platform']}, {m['cpu_count']} CPUs, load average "
        f"{m['load_avg_before'][0]:.2f} before, {m['load_avg_after'][0]:.2f} after =="
    )
    w = result["worker"]
    target = "met" if w["events_per_s"] >= 50_000 else "NOT met"
    rows = [
        ("embedded engine, one process, no broker", f"{result['embedded_events_per_s']:,.0f}", ""),
        (
            "(a) one worker, backlog, records of "
            f"{result['batch']}, alerts "
            f"{'equal' if result['alerts_equal_embedded'] else 'DIFFERENT'}",
            f"{w['events_per_s']:,.0f}",
            f"{w['events_per_cpu_s']:,.0f}",
        ),
    ]
    if "naive" in result:
        nv = result["naive"]
        rows.append(
            (
                "(b) naive agent, 1 event/record, 1 per engine call",
                f"{nv['events_per_s']:,.0f}",
                f"{nv['events_per_cpu_s']:,.0f}",
            )
        )
        rows.append(
            (
                "(a)/(b)",
                f"{result['worker_over_naive']:.1f}x",
                f"{result['worker_over_naive_per_cpu_s']:.1f}x",
            )
        )
    print(f"{'throughput':<62} {'events/s':>10} {'per CPU-s':>10}")
    for label, rate, cpu in rows:
        print(f"{label:<62} {rate:>10} {cpu:>10}")
    print(f"target >= 50,000 events/s through one worker: {target}", end="")
    if "naive" in result:
        print(
            f"; >= 8x the naive agent: {'met' if result['worker_over_naive'] >= 8 else 'NOT met'}"
        )
    else:
        print()
    if "latency" in result:
        print(
            f"{'latency (event to alert)':<40} {'rate/s':>8} {'wait':>6} {'alerts':>7} "
            f"{'p50':>8} {'p99':>8} {'events':>7} {'p50':>8} {'p99':>8}"
        )
        for fig in result["latency"]:
            a, e = fig["alert"], fig["event"]
            print(
                f"{fig['label']:<40} {fig['rate_events_per_s']:>8,.0f} "
                f"{fig['fetch_max_wait_ms']:>6} {a['samples']:>7} {_ms(a['p50_ms']):>8} "
                f"{_ms(a['p99_ms']):>8} {e['samples']:>7} {_ms(e['p50_ms']):>8} "
                f"{_ms(e['p99_ms']):>8}"
            )
        fast = [f for f in result["latency"] if f["fetch_max_wait_ms"] != STOCK_FETCH_WAIT_MS]
        met = all(
            f["kept_up"] and f["event"]["p99_ms"] < 1000 and not f["alert"]["p99_ms"] >= 1000
            for f in fast
        )
        print(f"target p99 < 1 s (fast transport): {'met' if met else 'NOT met'}")
    print()


__all__ = ["TimedWorker", "main"]
