"""Memory: bytes of state per tracked subscriber, and peak RSS, with a million in window.

Synthetic events (decoded by the engine's own decoder, so state holds the strings a
live run would) touch `--subscribers` distinct subscribers within two hours of event
time, far inside the 26 h retention, so nothing is evicted. Each subscriber calls one
of their contacts per round, every other one gets an SMS from a stranger, every tenth
pays someone: a light day, about two events per subscriber per round.

Each figure comes from its own child process, so one run's memory never shows in
another's peak RSS:
- engine, traced with tracemalloc: bytes of state (all three viewpoints) per subscriber;
- engine, untraced: peak RSS (tracemalloc's own bookkeeping would inflate it);
- baseline, a plain dict `msisdn → last-seen time` fed the same events, both ways: the
  least any Python process holds per tracked subscriber;
- engine, traced, on the generated 24 h city: bytes per subscriber after a realistic day.

    python -m bench memory [--subscribers N] [--rounds R]
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import resource
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bench.throughput import ROOT, WORK, feed
from fraud_warning.decode import Decoder
from fraud_warning.embedded import read_batches
from fraud_warning.engine import Engine
from fraud_warning.registry import load_registry
from fraud_warning.wire import Call, Sms, WireEvent

START = datetime.fromisoformat("2026-03-02T08:00:00+08:00")
SPAN_S = 2 * 3600
BATCH = 2000
CONTACT_STEPS = (1, 7, 31, 127, 509)  # round r calls subscriber i + step: a fixed circle
TARGET_BYTES = 500


def msisdn(i: int) -> str:
    return f"+86138{i:08d}"


def synthetic(subscribers: int, rounds: int) -> Iterator[list[tuple[int, bytes]]]:
    """Batches of (offset, JSON line), in event-time order, deterministic."""
    total = subscribers * rounds
    stamps = [(START + timedelta(seconds=s)).isoformat() for s in range(SPAN_S + 1)]
    batch: list[tuple[int, bytes]] = []
    seq = 0
    for r in range(rounds):
        step = CONTACT_STEPS[r % len(CONTACT_STEPS)]
        for i in range(subscribers):
            ts = stamps[(r * subscribers + i) * SPAN_S // total]
            me, cell = msisdn(i), f"C{i % 80:05d}"
            lines = [
                f'{{"event_id":"m{seq}c","type":"call","ts":"{ts}","caller":"{me}",'
                f'"callee":"{msisdn((i + step) % subscribers)}","duration_s":{60 + i % 240},'
                f'"caller_cell":"{cell}"}}'
            ]
            if i % 2 == 0:
                stranger = msisdn((i * 7919 + r + 3) % subscribers)
                lines.append(
                    f'{{"event_id":"m{seq}s","type":"sms","ts":"{ts}","sender":"{stranger}",'
                    f'"receiver":"{me}","has_url":false}}'
                )
            if i % 10 == 0:
                payee = f"MCH{i % 1000:010d}" if i % 20 else f"6222{(i + step) % subscribers:015d}"
                lines.append(
                    f'{{"event_id":"m{seq}t","type":"transfer","ts":"{ts}","payer":"{me}",'
                    f'"payer_account":"6222{i:015d}","payee_account":"{payee}",'
                    f'"amount_cny":{50 + i % 500},"channel":"mobile_banking"}}'
                )
            for line in lines:
                seq += 1
                batch.append((seq, line.encode()))
            if len(batch) >= BATCH:
                yield batch
                batch = []
    if batch:
        yield batch


def _subscribers_of(ev: WireEvent) -> tuple[str, ...]:
    if type(ev) is Call:
        return (ev.caller, ev.callee)
    if type(ev) is Sms:
        return (ev.sender, ev.receiver)
    return (ev.payer,)  # type: ignore[union-attr]


def child(kind: str, source: str, trace: bool, subscribers: int, rounds: int) -> dict[str, Any]:
    """One measurement in this process: `kind` engine or dict, fed from `source`."""
    decoder = Decoder()
    engine = Engine(load_registry(ROOT / "rules")) if kind == "engine" else None
    plain: dict[str, float] = {}
    if source == "synthetic":
        batches = synthetic(subscribers, rounds)
    else:
        batches = read_batches(feed(20_000, 24.0) / "events.jsonl", BATCH)
    gc.collect()
    rss_start_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if trace:
        tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0] if trace else 0
    events = 0
    started = time.perf_counter()
    for batch in batches:
        good, _ = decoder.decode_lines(batch)
        events += len(good)
        if engine is not None:
            engine.process(good)
        else:
            for item in good:
                ts = item.event.ts.timestamp()
                for key in _subscribers_of(item.event):
                    plain[key] = ts
        del good, batch
    seconds = time.perf_counter() - started
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before if trace else 0
    if trace:
        tracemalloc.stop()
    sizes = engine.store.sizes() if engine is not None else {"victims": len(plain)}
    result: dict[str, Any] = {
        "events": events,
        "seconds": seconds,
        "keys": sizes,
        "tracked_subscribers": sizes["victims"],
        "rss_start_bytes": rss_start_kib * 1024,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }
    if trace:
        result["state_bytes"] = held
        result["bytes_per_subscriber"] = held / max(1, sizes["victims"])
    if engine is not None:
        estimate = {
            side: engine.metrics.registry.get_sample_value(
                "fraud_warning_state_bytes", {"side": side}
            )
            for side in sizes
        }
        if all(v is not None for v in estimate.values()):
            result["engine_estimate_bytes"] = estimate  # its gauge, last hourly sample
    return result


def _run_child(kind: str, source: str, trace: bool, args: argparse.Namespace) -> dict[str, Any]:
    argv = [sys.executable, "-m", "bench.memory", "--child", kind, "--source", source]
    argv += ["--subscribers", str(args.subscribers), "--rounds", str(args.rounds)]
    argv += ["--trace"] if trace else []
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    traced = ", traced" if trace else ""
    print(f"  {kind} on {source}{traced}: {time.perf_counter() - started:.0f} s", flush=True)
    if done.returncode != 0:
        raise SystemExit(f"memory child {kind}/{source} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def _mib(n: float) -> str:
    return f"{n / 2**20:,.0f} MiB"


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench memory")
    p.add_argument("--subscribers", type=int, default=1_000_000)
    p.add_argument("--rounds", type=int, default=1, help="calls per subscriber")
    p.add_argument("--child", choices=("engine", "dict"), help=argparse.SUPPRESS)
    p.add_argument(
        "--source", choices=("synthetic", "feed"), default="synthetic", help=argparse.SUPPRESS
    )
    p.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        out = child(args.child, args.source, args.trace, args.subscribers, args.rounds)
        print(json.dumps(out))
        return 0

    print(f"{args.subscribers:,} subscribers, {args.rounds} round(s) of synthetic events")
    runs = {
        "engine_traced": _run_child("engine", "synthetic", True, args),
        "engine_rss": _run_child("engine", "synthetic", False, args),
        "dict_traced": _run_child("dict", "synthetic", True, args),
        "dict_rss": _run_child("dict", "synthetic", False, args),
        "engine_day_traced": _run_child("engine", "feed", True, args),
    }
    eng, base, day = runs["engine_traced"], runs["dict_traced"], runs["engine_day_traced"]
    per_sub = float(eng["bytes_per_subscriber"])
    print(
        f"engine:   {per_sub:>7,.0f} bytes/subscriber ({_mib(eng['state_bytes'])} of state for "
        f"{eng['tracked_subscribers']:,} subscribers; keys {eng['keys']}; "
        f"{eng['events']:,} events)"
    )
    print(
        f"baseline: {base['bytes_per_subscriber']:>7,.0f} bytes/subscriber "
        f"(plain dict msisdn -> last seen) -> engine holds "
        f"{per_sub / base['bytes_per_subscriber']:.1f}x the baseline"
    )
    print(
        f"peak RSS: engine {_mib(runs['engine_rss']['peak_rss_bytes'])} "
        f"(started at {_mib(runs['engine_rss']['rss_start_bytes'])}), "
        f"baseline {_mib(runs['dict_rss']['peak_rss_bytes'])} "
        f"(started at {_mib(runs['dict_rss']['rss_start_bytes'])})"
    )
    print(
        f"a generated day (20,000 subscribers x 24 h, {day['events']:,} events): "
        f"{day['bytes_per_subscriber']:,.0f} bytes/subscriber ({day['keys']})"
    )
    estimate = eng.get("engine_estimate_bytes")
    if estimate:  # the engine's own sampled gauge, per key of each side: where bytes go
        per_key = ", ".join(
            f"{side} {estimate[side] / max(1, n):,.0f}" for side, n in eng["keys"].items()
        )
        print(f"engine's own estimate (fraud_warning_state_bytes), bytes per key: {per_key}")
    met = per_sub < TARGET_BYTES
    print(f"target < {TARGET_BYTES} bytes per subscriber: {'met' if met else 'NOT met'}")
    result = {
        "machine": f"{platform.node()} {platform.machine()} python {platform.python_version()}",
        "subscribers": args.subscribers,
        "rounds": args.rounds,
        "bytes_per_subscriber": per_sub,
        "baseline_bytes_per_subscriber": base["bytes_per_subscriber"],
        "day_bytes_per_subscriber": day["bytes_per_subscriber"],
        "peak_rss_bytes": runs["engine_rss"]["peak_rss_bytes"],
        "baseline_peak_rss_bytes": runs["dict_rss"]["peak_rss_bytes"],
        "target_met": met,
        "runs": runs,
    }
    WORK.mkdir(parents=True, exist_ok=True)
    path: Path = WORK / "memory.json"
    path.write_text(json.dumps(result, indent=2))
    print(f"written {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
