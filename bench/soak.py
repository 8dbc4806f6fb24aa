"""Soak: the embedded engine at a steady paced rate for a bounded time; memory and
latency minute by minute, and whether either drifts.

The shipped registry (`rules/` and the `models/` scorers) with the city's cells, units
and subscribers and a dispatcher, so P1 alerts become dispatch tasks; alerts, tasks and
dead letters go through `JsonlSink`s to /dev/null. Events come from the generated 24 h
city (`bench.throughput.feed`), looped: each pass shifts timestamps a day on and
prefixes event ids with the pass, so event time keeps moving forward and no id repeats.
At the default 5,000 events/s a 24 h pass of the 20,000-subscriber city takes about 80 s
of wall time, so event time runs about 1,000x faster than the wall clock and a
10-minute soak covers a week of event time: state retention (26 h), incident expiry
(12 h) and the duplicate memory all turn over many times.

Before the clock starts the engine runs `--warmup-hours` of event time unpaced (past the
retention, so the store holds its whole population), printing after each 24 h pass RSS,
the store's estimate, how full the per-key chains are (a share of their caps; a payee's
up to 2, cut back to its cap when it doubles; records older than a day and two hours go
at each record, or a payee's at the store's paced sweep) and the dispatcher's task
count. Then arrivals are paced open-loop and micro-batched exactly as in
`bench/latency.py` (flush at `--flush-ms` or `--max-events`, at most `--max-batch`).
Every minute it records RSS (VmRSS), Python's allocated blocks, the state store's keys
and estimated bytes, open incidents, the dispatcher's tasks, the chains' fill, the
process's CPU time (against `busy`, the wall time spent in batches: a gap is time spent
waiting for a CPU), and the p50/p99 of event latency (scheduled arrival to end of its
batch) and of event-to-alert latency over that minute; RSS is also sampled every 5 s for
the fit.

Verdicts (simple, stated): memory is "flat" when a linear fit of RSS over the second
half of the run extrapolates to less than `MEMORY_FLAT_MIB_PER_H`; latency is "flat"
when the last minute's event p99 is at most `LATENCY_FLAT_RATIO` times the first
minute's plus `LATENCY_FLAT_SLACK_S`. Anything else is "growing".

    python -m bench soak [--minutes 10] [--rate 5000] [--subscribers 20000]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import resource
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from bench.throughput import ROOT, WORK, feed
from fraud_warning.decode import Decoder
from fraud_warning.dispatch import Dispatcher
from fraud_warning.engine import Engine
from fraud_warning.refdata import load_refdata
from fraud_warning.registry import load_registry
from fraud_warning.sinks import JsonlSink
from fraud_warning.state import MAX_INBOUND, MAX_PAYEE_INBOUND, MAX_TRANSFERS, newest_first
from fraud_warning.tuning import tune_process

Lines = list[tuple[int, bytes]]

MEMORY_FLAT_MIB_PER_H = 20.0
LATENCY_FLAT_RATIO = 1.5
LATENCY_FLAT_SLACK_S = 0.010
RSS_SAMPLE_S = 5.0
FEED_HOURS = 24.0  # whole days: a pass is shifted by rewriting the date alone

_TS = re.compile(rb'"ts":"(\d{4}-\d{2}-\d{2})')


def _later(days: int) -> Callable[[re.Match[bytes]], bytes]:
    """A regex replacement moving a `"ts":"YYYY-MM-DD` date `days` days on."""
    moved: dict[bytes, bytes] = {}

    def replace(m: re.Match[bytes]) -> bytes:
        day = m.group(1)
        if day not in moved:
            shifted = date.fromisoformat(day.decode()) + timedelta(days=days)
            moved[day] = shifted.isoformat().encode()
        return b'"ts":"' + moved[day]

    return replace


def looped(events: Path) -> Iterator[bytes]:
    """The feed's lines forever; pass k has dates k days on and ids prefixed `Lk-`."""
    k = 0
    while True:
        later = _later(k * int(FEED_HOURS // 24))
        prefix = b'"event_id":"L%d-' % k
        with events.open("rb") as fh:
            for raw in fh:
                line = raw.rstrip(b"\n")
                if k:
                    line = _TS.sub(later, line, count=1)
                    line = line.replace(b'"event_id":"', prefix, 1)
                yield line
        k += 1


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_bytes() -> int:
    """Resident set size now (VmRSS); the peak (ru_maxrss) where /proc is missing."""
    try:
        with open("/proc/self/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _q(values: list[float] | np.ndarray[Any, np.dtype[np.float64]], p: float) -> float:
    return float(np.quantile(values, p)) if len(values) else math.nan


@dataclass
class Minute:
    minute: int
    events: int
    alerts: int
    tasks: int
    dead_letters: int
    batches: int
    busy: float  # share of the minute spent processing batches (wall time)
    cpu: float  # the process's CPU time over the minute, a share of one core
    rss_bytes: int
    allocated_blocks: int
    keys: dict[str, int]
    state_bytes: int  # the store's own sampled estimate, all sides
    flags: int
    open_incidents: int
    dispatch_tasks: int  # tasks the dispatcher remembers (those of open incidents)
    seen_ids: int  # the duplicate memory
    fill: dict[str, float]  # the per-key chains' records, as a share of their caps
    event_time: str  # the watermark at the minute's end
    event_p50_s: float
    event_p99_s: float
    event_max_s: float
    alert_p50_s: float
    alert_p99_s: float


@dataclass
class _Window:
    """What one minute accumulates."""

    latencies: list[np.ndarray[Any, np.dtype[np.float64]]] = field(default_factory=list)
    alert_latencies: list[float] = field(default_factory=list)
    events: int = 0
    alerts: int = 0
    tasks: int = 0
    dead: int = 0
    batches: int = 0
    busy_s: float = 0.0
    cpu_at_start: float = field(default_factory=_cpu_s)


def build_engine(city: Path) -> Engine:
    refdata = load_refdata(city / "cells.csv", city / "units.csv", city / "subscribers.csv")
    registry = load_registry(ROOT / "rules", ROOT / "models")
    return Engine(registry, refdata, dispatcher=Dispatcher(refdata.units))


def fill(engine: Engine) -> dict[str, float]:
    """How full the per-key chains are, as a share of their caps (a payee's up to 2: it
    is cut back to its cap when it doubles, and by age at the store's paced sweep)."""
    victims = [state for _, state in engine.store.victims.items()]
    payees = [state for _, state in engine.store.payees.items()]
    v, p = max(1, len(victims)), max(1, len(payees))
    return {
        "victim_inbound": sum(len(newest_first(s.inbound)) for s in victims) / (v * MAX_INBOUND),
        "victim_transfers": sum(len(newest_first(s.transfers)) for s in victims)
        / (v * MAX_TRANSFERS),
        "payee_inbound": sum(int(s.held) for s in payees) / (p * MAX_PAYEE_INBOUND),
    }


def snapshot(engine: Engine, index: int, window: _Window) -> Minute:
    """The engine and process as they stand, with the minute's latency figures."""
    latencies = np.concatenate(window.latencies) if window.latencies else np.empty(0)
    sizes = engine.store.sizes()
    admission = getattr(engine, "admission", None)
    watermark = engine.watermark
    return Minute(
        minute=index + 1,
        events=window.events,
        alerts=window.alerts,
        tasks=window.tasks,
        dead_letters=window.dead,
        batches=window.batches,
        busy=window.busy_s / 60.0,
        cpu=(_cpu_s() - window.cpu_at_start) / 60.0,
        rss_bytes=rss_bytes(),
        allocated_blocks=sys.getallocatedblocks(),
        keys=sizes,
        state_bytes=sum(engine.store.estimate_bytes().values()),
        flags=len(engine.store.flags),
        open_incidents=len(engine.victims.open) + len(engine.numbers.open),
        dispatch_tasks=len(engine.alerter.dispatcher or ()),
        seen_ids=len(getattr(admission, "seen", ())),
        fill=fill(engine),
        event_time=time.strftime("%Y-%m-%d %H:%M", time.gmtime(watermark + 8 * 3600))
        if math.isfinite(watermark)
        else "-",
        event_p50_s=_q(latencies, 0.5),
        event_p99_s=_q(latencies, 0.99),
        event_max_s=_q(latencies, 1.0),
        alert_p50_s=_q(window.alert_latencies, 0.5),
        alert_p99_s=_q(window.alert_latencies, 0.99),
    )


def soak(args: argparse.Namespace) -> dict[str, Any]:
    city = feed(args.subscribers, FEED_HOURS)
    meta = json.loads((city / "meta.json").read_text())
    engine = build_engine(city)
    decoder = Decoder("soak")
    source = looped(city / "events.jsonl")
    offset = 0

    def take(n: int) -> Lines:
        nonlocal offset
        lines = [(offset + k + 1, next(source)) for k in range(n)]
        offset += n
        return lines

    null = Path(os.devnull)
    with JsonlSink(null) as alerts, JsonlSink(null) as tasks, JsonlSink(null) as dead:
        dead.drop_oldest = True

        def run(lines: Lines) -> tuple[list[dict[str, Any]], int, int]:
            good, bad = decoder.decode_lines(lines)
            out = engine.process(good, "soak")
            out.dead[:0] = bad
            alerts.write(out.alerts)
            tasks.write(out.tasks)
            dead.write(d.to_dict() for d in out.dead)
            return out.alerts, len(out.tasks), len(out.dead)

        warm_events = int(meta["events"] * args.warmup_hours / FEED_HOURS)
        print(
            f"feed: {city.name} ({meta['events']:,} events per 24 h pass), "
            f"{len(engine.registry)} rules and models; warming with {args.warmup_hours:g} h "
            f"of event time ({warm_events:,} events, unpaced) ...",
            flush=True,
        )
        started = time.perf_counter()
        warmup: list[dict[str, Any]] = []  # one row per pass: how state fills towards its caps
        while offset < warm_events:
            pass_end = (offset // meta["events"] + 1) * meta["events"]
            run(take(min(2000, warm_events - offset, pass_end - offset)))
            if offset in (pass_end, warm_events):
                warmup.append(_warm_row(engine, offset / meta["events"] * FEED_HOURS, started))
        warm_s = time.perf_counter() - started
        print(
            f"warm: {warm_s:.1f} s ({warm_events / warm_s:,.0f} events/s), RSS "
            f"{rss_bytes() / 2**20:,.0f} MiB, keys {engine.store.sizes()}; pacing at "
            f"{args.rate:,} events/s for {args.minutes:g} min",
            flush=True,
        )

        load_before = os.getloadavg()
        cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        interval = 1.0 / args.rate
        flush_s = args.flush_ms / 1000
        duration = args.minutes * 60.0
        t0 = time.perf_counter() + 0.01
        minutes: list[Minute] = []
        rss_samples: list[tuple[float, int]] = [(0.0, rss_bytes())]
        next_rss = RSS_SAMPLE_S
        window = _Window()
        i = 0  # events handed over so far; event i arrives at t0 + i * interval
        in_run = math.ceil(duration / interval)  # arrivals inside the run
        total_events = 0
        while i < in_run:
            first = t0 + i * interval
            due = min(first + flush_s, t0 + (min(i + args.max_events, in_run) - 1) * interval)
            now = time.perf_counter()
            if now < due:
                time.sleep(due - now)
                now = time.perf_counter()
            arrived = int((now - t0) / interval) + 1
            j = max(i + 1, min(i + args.max_batch, arrived, in_run))
            lines = take(j - i)
            began = time.perf_counter()
            emitted, n_tasks, n_dead = run(lines)
            done = time.perf_counter()
            arrival = t0 + np.arange(i, j) * interval
            window.latencies.append(done - arrival)
            if emitted:
                index = {_event_id(line): i + k for k, (_, line) in enumerate(lines)}
                for alert in emitted:
                    here = [index[e] for e in alert["evidence"] if e in index]
                    if here:
                        window.alert_latencies.append(done - (t0 + max(here) * interval))
            window.events += j - i
            window.alerts += len(emitted)
            window.tasks += n_tasks
            window.dead += n_dead
            window.batches += 1
            window.busy_s += done - began
            total_events += j - i
            i = j
            elapsed = done - t0
            if elapsed >= next_rss:
                rss_samples.append((elapsed, rss_bytes()))
                next_rss += RSS_SAMPLE_S
            if elapsed >= 60.0 * (len(minutes) + 1) or i >= in_run:
                minutes.append(snapshot(engine, len(minutes), window))
                _print_minute(minutes[-1], header=len(minutes) == 1)
                window = _Window()
        wall = time.perf_counter() - t0
        cpu_after = resource.getrusage(resource.RUSAGE_SELF)
        load_after = os.getloadavg()
    rss_samples.append((wall, rss_bytes()))

    growth = memory_growth(rss_samples)
    first_p99, last_p99 = minutes[0].event_p99_s, minutes[-1].event_p99_s
    memory_flat = growth < MEMORY_FLAT_MIB_PER_H
    latency_flat = last_p99 <= LATENCY_FLAT_RATIO * first_p99 + LATENCY_FLAT_SLACK_S
    cpu_s = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
    return {
        "machine": f"{platform.node()} {platform.machine()} python {platform.python_version()}",
        "cpus": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": load_after,
        "feed": str(city),
        "rules": len(engine.registry),
        "rate_events_per_s": args.rate,
        "minutes_asked": args.minutes,
        "wall_s": wall,
        "events": total_events,
        "achieved_events_per_s": total_events / wall,
        "process_cpu_share": cpu_s / wall,
        "warmup_hours": args.warmup_hours,
        "warmup_per_pass": warmup,
        "warmup_events_per_s": warm_events / warm_s,
        "flush_ms": args.flush_ms,
        "max_events": args.max_events,
        "max_batch": args.max_batch,
        "per_minute": [asdict(m) for m in minutes],
        "rss_samples": [[round(t, 2), b] for t, b in rss_samples],
        "memory_growth_mib_per_h": growth,
        "memory_verdict": "flat" if memory_flat else "growing",
        "memory_threshold_mib_per_h": MEMORY_FLAT_MIB_PER_H,
        "event_p99_first_minute_s": first_p99,
        "event_p99_last_minute_s": last_p99,
        "latency_verdict": "flat" if latency_flat else "growing",
        "latency_threshold": f"last p99 <= {LATENCY_FLAT_RATIO:g} x first + "
        f"{LATENCY_FLAT_SLACK_S * 1000:g} ms",
        "unwritten": alerts.pending + tasks.pending,
        # where the growth is, first minute to last: the store's estimate and its keys
        "rss_growth_mib": (minutes[-1].rss_bytes - minutes[0].rss_bytes) / 2**20,
        "state_growth_mib": (minutes[-1].state_bytes - minutes[0].state_bytes) / 2**20,
        "keys_first_last": [minutes[0].keys, minutes[-1].keys],
        "allocated_blocks_growth": minutes[-1].allocated_blocks - minutes[0].allocated_blocks,
        "event_hours_per_wall_minute": args.rate * 60 / meta["events"] * FEED_HOURS,
    }


def _warm_row(engine: Engine, hours: float, started: float) -> dict[str, Any]:
    row = {
        "event_hours": round(hours, 1),
        "wall_s": round(time.perf_counter() - started, 1),
        "rss_bytes": rss_bytes(),
        "state_bytes": sum(engine.store.estimate_bytes().values()),
        "dispatch_tasks": len(engine.alerter.dispatcher or ()),
        "fill": fill(engine),
    }
    f = row["fill"]
    print(
        f"  warm-up {hours / 24:5.1f} days: RSS {row['rss_bytes'] / 2**20:,.0f} MiB, state "
        f"estimate {row['state_bytes'] / 2**20:,.0f} MiB; capped lists at: victim inbound "
        f"{f['victim_inbound']:.0%}, transfers {f['victim_transfers']:.0%}, payee inbound "
        f"{f['payee_inbound']:.0%}; dispatcher holds {row['dispatch_tasks']} task(s)",
        flush=True,
    )
    return row


def _event_id(line: bytes) -> str:
    """The event id of a raw line, without parsing the whole line ('' if none)."""
    start = line.find(b'"event_id":"') + 12
    end = line.find(b'"', start)
    return line[start:end].decode(errors="replace") if start >= 12 and end > 0 else ""


def memory_growth(samples: list[tuple[float, int]]) -> float:
    """MiB per hour: the slope of a least-squares line through the second half's RSS."""
    half = samples[-1][0] / 2
    later = [(t, b) for t, b in samples if t >= half]
    if len(later) < 2:
        return math.nan
    t = np.array([s for s, _ in later]) / 3600.0
    mib = np.array([b for _, b in later], dtype=np.float64) / 2**20
    slope, _ = np.polyfit(t, mib, 1)
    return float(slope)


def _ms(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds * 1000:,.1f}"


def _print_minute(m: Minute, *, header: bool) -> None:
    if header:
        print(
            f"{'min':>3} {'events':>8} {'busy':>5} {'cpu':>4} {'RSS MiB':>8} {'blocks':>9} "
            f"{'victims':>8} {'numbers':>8} {'payees':>7} {'state MiB':>9} {'open':>5} "
            f"{'ev p50':>7} {'ev p99':>7} {'ev max':>7} {'al p50':>7} {'al p99':>7} "
            f"{'alerts':>6}  event time",
            flush=True,
        )
    print(
        f"{m.minute:>3} {m.events:>8,} {m.busy:>5.0%} {m.cpu:>4.0%} {m.rss_bytes / 2**20:>8,.1f} "
        f"{m.allocated_blocks:>9,} {m.keys['victims']:>8,} {m.keys['numbers']:>8,} "
        f"{m.keys['payees']:>7,} {m.state_bytes / 2**20:>9,.1f} {m.open_incidents:>5,} "
        f"{_ms(m.event_p50_s):>7} {_ms(m.event_p99_s):>7} {_ms(m.event_max_s):>7} "
        f"{_ms(m.alert_p50_s):>7} {_ms(m.alert_p99_s):>7} {m.alerts:>6,}  {m.event_time}",
        flush=True,
    )


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench soak")
    p.add_argument("--minutes", type=float, default=10.0, help="paced run length")
    p.add_argument("--rate", type=int, default=5000, help="events per second")
    p.add_argument("--subscribers", type=int, default=20_000, help="the generated city")
    p.add_argument("--warmup-hours", type=float, default=30.0, help="event time, unpaced")
    p.add_argument("--flush-ms", type=float, default=50.0, help="flush a batch this old")
    p.add_argument("--max-events", type=int, default=500, help="or this full")
    p.add_argument("--max-batch", type=int, default=2000, help="most events in one batch")
    args = p.parse_args(argv)
    if args.minutes <= 0 or args.rate <= 0:
        p.error("--minutes and --rate must be positive")

    # as the runners do: the soak is what shows nothing builds up without full passes
    tune_process()
    result = soak(args)
    growth = result["memory_growth_mib_per_h"]
    print(
        f"{result['events']:,} events in {result['wall_s']:.0f} s "
        f"({result['achieved_events_per_s']:,.0f}/s asked {args.rate:,}/s); process CPU "
        f"{result['process_cpu_share']:.0%} of one core; load average "
        f"{result['load_average_before'][0]:.2f} before, {result['load_average_after'][0]:.2f} "
        f"after, {result['cpus']} CPUs"
    )
    print(
        f"memory: {growth:+,.1f} MiB/h (linear fit of RSS over the second half) -> "
        f"{result['memory_verdict']} (flat below {MEMORY_FLAT_MIB_PER_H:g} MiB/h)"
    )
    print(
        f"  first to last minute: RSS {result['rss_growth_mib']:+,.1f} MiB, the state store's "
        f"estimate {result['state_growth_mib']:+,.1f} MiB, allocated blocks "
        f"{result['allocated_blocks_growth']:+,}; keys {result['keys_first_last'][0]} -> "
        f"{result['keys_first_last'][1]}; event time runs "
        f"{result['event_hours_per_wall_minute']:,.1f} h per wall minute"
    )
    print(
        f"latency: event p99 {_ms(result['event_p99_first_minute_s'])} ms in the first minute, "
        f"{_ms(result['event_p99_last_minute_s'])} ms in the last -> "
        f"{result['latency_verdict']} ({result['latency_threshold']})"
    )
    WORK.mkdir(parents=True, exist_ok=True)
    path: Path = WORK / "soak.json"
    path.write_text(json.dumps(result, indent=2))
    print(f"written {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
