"""Embedded event-to-alert latency at a paced rate of half the measured maximum.

Events arrive on a fixed wall-clock schedule (open loop: a slow batch does not slow the
arrivals, so queueing shows up in the figures instead of being hidden). The runner
flushes a micro-batch once its oldest event is `--flush-ms` old or `--max-events` have
arrived, whichever comes first, and takes everything that has arrived by then, up to
`--max-batch` (after a slow batch the next one is larger, as a consumer's poll would
return). A batch is decoded, run through the engine and its alerts serialised as a sink
would. An event's latency is from its scheduled arrival to the end of its batch; an
alert's is from its triggering event's arrival to the end of that batch.

Measured in the same run, on the same feed and registry (the first quarter of the feed
warms the engine's state unpaced; everything after runs on the next part):
- the maximum rate (unpaced, batches of `--max-batch`), which sets the pace;
- baseline 1, fixed batches of 2,000 events and no flush timer (how `score` batches);
- baseline 2, one event per engine call (the obvious streaming loop), over a short slice.

    python -m bench latency [--subscribers N] [--hours H] [--flush-ms N] [--max-events M]
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from bench.registries import build
from bench.throughput import ROOT, WORK, describe, feed, registry_at
from fraud_warning.decode import Decoder
from fraud_warning.engine import Engine
from fraud_warning.refdata import RefData, load_refdata
from fraud_warning.registry import Registry
from fraud_warning.tuning import tune_process

Lines = list[tuple[int, bytes]]


@dataclass
class Paced:
    """What one paced run measured (seconds)."""

    events: int
    alerts: int
    batches: int
    event_latency: np.ndarray[Any, np.dtype[np.float64]]
    alert_latency: np.ndarray[Any, np.dtype[np.float64]]
    kept_up: bool  # latency at the end of the run no worse than at its start

    def figures(self) -> dict[str, float | int | bool]:
        def q(values: np.ndarray[Any, np.dtype[np.float64]], p: float) -> float:
            return float(np.quantile(values, p)) if len(values) else math.nan

        return {
            "events": self.events,
            "alerts": self.alerts,
            "batches": self.batches,
            "event_p50_s": q(self.event_latency, 0.5),
            "event_p99_s": q(self.event_latency, 0.99),
            "event_max_s": q(self.event_latency, 1.0),
            "alert_p50_s": q(self.alert_latency, 0.5),
            "alert_p99_s": q(self.alert_latency, 0.99),
            "kept_up": self.kept_up,
        }


def max_rate(
    warmup: Lines, lines: Lines, registry: Registry, refdata: RefData, batch: int
) -> float:
    """Events/s over `lines` with no pacing (decode + engine, batches of `batch` lines),
    on an engine warmed with `warmup`."""
    engine, decoder = warmed(warmup, registry, refdata)
    started = time.perf_counter()
    for i in range(0, len(lines), batch):
        good, _ = decoder.decode_lines(lines[i : i + batch])
        engine.process(good)
    return len(lines) / (time.perf_counter() - started)


def warmed(lines: Lines, registry: Registry, refdata: RefData) -> tuple[Engine, Decoder]:
    """An engine that has seen `lines` unpaced, so the paced part runs on grown state."""
    gc.collect()  # the previous run's engine (full passes are rare once tuned)
    engine = Engine(registry, refdata)
    decoder = Decoder()
    for i in range(0, len(lines), 2000):
        good, _ = decoder.decode_lines(lines[i : i + 2000])
        engine.process(good)
    return engine, decoder


def paced(
    lines: Lines,
    engine: Engine,
    decoder: Decoder,
    *,
    rate: float,
    flush_s: float,
    max_events: int,
    max_batch: int,
) -> Paced:
    """Hand `lines` to the engine as they arrive at `rate`/s, in micro-batches."""
    n = len(lines)
    interval = 1.0 / rate
    t0 = time.perf_counter() + 0.01
    arrival = t0 + np.arange(n) * interval
    event_latency = np.empty(n)
    alert_latency: list[float] = []
    batches = 0
    i = 0
    done = t0
    while i < n:
        # flush when the oldest waiting event is flush_s old or max_events have arrived
        due = min(arrival[i] + flush_s, arrival[min(i + max_events, n) - 1])
        now = time.perf_counter()
        if now < due:
            time.sleep(due - now)
            now = time.perf_counter()
        arrived = int((now - t0) / interval) + 1  # events whose arrival time has passed
        j = max(i + 1, min(n, i + max_batch, arrived))
        good, _ = decoder.decode_lines(lines[i:j])
        out = engine.process(good)
        _sink = [orjson.dumps(alert) for alert in out.alerts]  # what a sink does per alert
        done = time.perf_counter()
        event_latency[i:j] = done - arrival[i:j]
        if out.alerts:
            index = {item.event.event_id: i + k for k, item in enumerate(good)}
            for alert in out.alerts:
                # the triggering event is the latest evidence from this batch
                here = [index[e] for e in alert["evidence"] if e in index]
                if here:
                    alert_latency.append(done - arrival[max(here)])
        batches += 1
        i = j
    tenth = max(1, n // 10)
    first, last = np.median(event_latency[:tenth]), np.median(event_latency[-tenth:])
    kept_up = bool(last <= 2 * first + 0.05)  # a queue that keeps growing is falling behind
    return Paced(n, len(alert_latency), batches, event_latency, np.asarray(alert_latency), kept_up)


def _ms(value: object) -> str:
    return f"{float(value) * 1000:,.1f} ms"  # type: ignore[arg-type]


def _print(name: str, fig: dict[str, float | int | bool]) -> None:
    behind = "" if fig["kept_up"] else "  FELL BEHIND (latency grows with the run's length)"
    print(
        f"{name:<34} events p50 {_ms(fig['event_p50_s']):>11} p99 {_ms(fig['event_p99_s']):>11}"
        f" | alerts p50 {_ms(fig['alert_p50_s']):>11} p99 {_ms(fig['alert_p99_s']):>11}"
        f" ({fig['alerts']} alerts, {fig['batches']:,} batches){behind}"
    )


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench latency")
    p.add_argument("--subscribers", type=int, default=20_000)
    p.add_argument("--hours", type=float, default=24.0)
    p.add_argument("--rules", choices=("shipped", "215", "1000"), default="215")
    p.add_argument("--flush-ms", type=float, default=50.0, help="flush a batch this old")
    p.add_argument("--max-events", type=int, default=500, help="or this full")
    p.add_argument("--max-batch", type=int, default=2000, help="most events in one batch")
    p.add_argument("--warmup", type=float, default=0.25, help="share of the feed run unpaced")
    p.add_argument("--seconds", type=float, default=20.0, help="paced arrivals to measure")
    p.add_argument("--baseline-seconds", type=float, default=1.0, help="for one-at-a-time")
    args = p.parse_args(argv)

    city = feed(args.subscribers, args.hours)
    lines = list(enumerate((city / "events.jsonl").read_bytes().splitlines(), start=1))
    WORK.mkdir(parents=True, exist_ok=True)
    # with the shipped scorers, as the runners load a registry (and the throughput bench)
    if args.rules == "shipped":
        registry = registry_at(ROOT / "rules")
    else:
        registry = registry_at(build(int(args.rules), WORK / f"rules-{args.rules}"))
    refdata = load_refdata(city / "cells.csv", None, city / "subscribers.csv")
    tune_process()  # as the runners do

    print(f"feed: {city.name} ({len(lines):,} events), {describe(registry).strip()}")
    split = int(len(lines) * args.warmup)
    top = max_rate(lines[:split], lines[split:], registry, refdata, args.max_batch)
    rate = top / 2
    print(
        f"maximum rate: {top:,.0f} events/s (unpaced, batches of {args.max_batch:,}); "
        f"pacing at half: {rate:,.0f} events/s"
    )
    measured = lines[split : split + int(rate * args.seconds)]
    # name: (flush after s, flush at events, largest batch, events)
    runs: dict[str, tuple[float, int, int, Lines]] = {
        f"micro-batches ({args.flush_ms:g} ms or {args.max_events})": (
            args.flush_ms / 1000,
            args.max_events,
            args.max_batch,
            measured,
        ),
        "baseline: fixed batches of 2,000": (math.inf, 2000, 2000, measured),
        "baseline: one event per call": (
            0.0,
            1,
            1,
            measured[: int(rate * args.baseline_seconds)],
        ),
    }
    results: dict[str, dict[str, float | int | bool]] = {}
    for name, (flush_s, max_events, max_batch, slice_) in runs.items():
        engine, decoder = warmed(lines[:split], registry, refdata)
        run = paced(
            slice_,
            engine,
            decoder,
            rate=rate,
            flush_s=flush_s,
            max_events=max_events,
            max_batch=max_batch,
        )
        results[name] = run.figures()
        _print(name, results[name])

    main_fig = next(iter(results.values()))
    met = bool(main_fig["kept_up"]) and float(main_fig["event_p99_s"]) < 1.0
    if main_fig["alerts"]:
        met = met and float(main_fig["alert_p99_s"]) < 1.0
    print(f"target p99 < 1 s at half the maximum rate: {'met' if met else 'NOT met'}")
    result = {
        "machine": f"{platform.node()} {platform.machine()} python {platform.python_version()}",
        "feed": str(city),
        "rules": len(registry),
        "max_events_per_s": top,
        "paced_events_per_s": rate,
        "flush_ms": args.flush_ms,
        "max_events": args.max_events,
        "max_batch": args.max_batch,
        "runs": results,
        "target_met": met,
    }
    path: Path = WORK / "latency.json"
    path.write_text(json.dumps(result, indent=2))
    print(f"written {path}")
    return 0
