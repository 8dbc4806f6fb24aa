"""Embedded-runner throughput: shipped, 215-rule and 1,000-rule registries, each with the
shipped LightGBM scorers, and a naive baseline (a pydantic object per event, every rule
checked in Python and every scorer run on one row at a time, per trigger) measured in
the same run on the same feed, twice: once on the engine's compiled joins,
and once in plain Python throughout (the package without its compiled modules, in a
child process), the obvious way end to end.

    python -m bench [--subscribers N] [--hours H]

The default feed is a generated city of 100,000 subscribers over 24 h (about 2 million
events): the size the operations issue asks the throughput figures to come from, with
state for the whole population in window, not a small city's.
"""

from __future__ import annotations

import argparse
import gc
import json
import operator
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import TypeAdapter

from bench.registries import build
from fraud_warning.contracts import CallEvent, Event, SmsEvent, TransferEvent
from fraud_warning.decode import Decoder
from fraud_warning.embedded import read_batches
from fraud_warning.engine import Engine, wanted_kinds
from fraud_warning.features import CATALOGUE
from fraud_warning.join import Joiner
from fraud_warning.models.scorer import Scorer
from fraud_warning.refdata import load_refdata
from fraud_warning.registry import Registry, load_registry
from fraud_warning.state import StateStore
from fraud_warning.tuning import tune_process
from fraud_warning.wire import Call, Sms, Transfer, derive_origin

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "results"
MODELS = ROOT / "models"


def registry_at(rules: Path) -> Registry:
    """A rules directory with the shipped models, as `fraud-warning score` loads them."""
    return load_registry(rules, MODELS)


def scorer_count(registry: Registry) -> int:
    """The LightGBM scorers the registry runs in the stream."""
    return sum(len(s) for s in registry.scorers.values())


def describe(registry: Registry) -> str:
    return f"{len(registry):>5} rules + {scorer_count(registry)} scorers"


def feed(subscribers: int, hours: float, seed: int = 3) -> Path:
    from fraud_warning.feed.generate import GENERATOR_VERSION, generate_feed

    name = f"bench-{subscribers}-{hours:g}h-s{seed}-g{GENERATOR_VERSION}"
    out = ROOT / "feeds" / "cache" / name
    if not (out / "meta.json").is_file():
        print(f"generating {subscribers:,} subscribers x {hours:g} h ...", flush=True)
        generate_feed(out, subscribers=subscribers, hours=hours, seed=seed)
    return out


def fast(events: Path, registry: Registry, city: Path) -> tuple[float, int, int]:
    """Seconds, events and alerts for the engine as shipped (decode included)."""
    refdata = load_refdata(city / "cells.csv", None, city / "subscribers.csv")
    engine = Engine(registry, refdata)
    decoder = Decoder()
    n = alerts = 0
    batches = list(read_batches(events, 2000))
    started = time.perf_counter()
    for batch in batches:
        good, _ = decoder.decode_lines(batch)
        out = engine.process(good)
        n += len(good)
        alerts += len(out.alerts)
    return time.perf_counter() - started, n, alerts


_OPS = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
    "eq": operator.eq,
    "ne": operator.ne,
}


def naive_matches(rule: Any, row: list[float]) -> bool:
    """One rule on one row, checked the obvious way in Python. The naive baseline's own:
    `Rule.matches` is compiled (number_rules.py) and belongs to the engine."""
    if not all(_OPS[op](row[i], v) for i, op, v in rule.all_of):
        return False
    if rule.any_of and not any(
        all(_OPS[op](row[i], v) for i, op, v in group) for group in rule.any_of
    ):
        return False
    return rule.condition is None or bool(rule.condition.holds(row))


def naive_scores(scorer: Scorer, row: list[float]) -> bool:
    """One LightGBM scorer on one row the obvious way: its features picked by name, its
    prefilter checked, then a model call for this row alone."""
    catalogue = CATALOGUE[scorer.card.trigger]
    values = {name: row[catalogue.index(name)] for name in scorer.feature_names}
    if any(values[name] < bound for name, bound in scorer.card.prefilter.items()):
        return False
    matrix = np.array([[values[name] for name in scorer.feature_names]], dtype=np.float64)
    return bool(scorer.predict(matrix)[0] >= scorer.card.threshold)


def naive(events: Path, registry: Registry, city: Path) -> tuple[float, int, int]:
    """The obvious way: pydantic per event, then each rule checked and each scorer run
    per trigger row."""
    refdata = load_refdata(city / "cells.csv", None, city / "subscribers.csv")
    adapter: TypeAdapter[CallEvent | SmsEvent | TransferEvent] = TypeAdapter(Event)
    joiner = Joiner(StateStore(), refdata, wanted_kinds(registry), None, registry.windows)
    lines = events.read_bytes().splitlines()
    n = hits = 0
    started = time.perf_counter()
    for line in lines:
        ev = adapter.validate_json(line)
        ts = ev.ts.timestamp()
        n += 1
        rows: list[tuple[str, list[float] | None]]
        if isinstance(ev, CallEvent):
            call = Call(
                ev.event_id,
                ev.ts,
                ev.caller,
                ev.callee,
                ev.duration_s,
                ev.caller_cell,
                ev.callee_cell,
                ev.origin or derive_origin(ev.caller),
            )
            victim_row, number_row = joiner.call(call, ts)
            rows = [("call", victim_row), ("number", number_row)]
        elif isinstance(ev, SmsEvent):
            sms = Sms(ev.event_id, ev.ts, ev.sender, ev.receiver, ev.text, ev.has_url)
            victim_row, sender_row = joiner.sms(sms, ts)
            rows = [("sms", victim_row), ("number_sms", sender_row)]
        else:
            transfer = Transfer(
                ev.event_id,
                ev.ts,
                ev.payer,
                ev.payer_account,
                ev.payee_account,
                ev.amount_cny,
                ev.channel,
            )
            rows = [("transfer", joiner.transfer(transfer, ts))]
        for kind, row in rows:
            if row is not None:
                hits += sum(1 for rule in registry.by_kind[kind] if naive_matches(rule, row))
                hits += sum(1 for scorer in registry.scorers[kind] if naive_scores(scorer, row))
    return time.perf_counter() - started, n, hits


def naive_plain(events: Path, rules: Path, city: Path) -> tuple[float, int, int]:
    """:func:`naive` with the package interpreted: a copy of `fraud_warning` without its
    compiled modules, first on the path of a child process (this one has the compiled
    ones loaded)."""
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(
            ROOT / "fraud_warning",
            Path(tmp) / "fraud_warning",
            ignore=shutil.ignore_patterns("*.so", "__pycache__"),
        )
        env = {"PYTHONPATH": os.pathsep.join([tmp, str(ROOT)])}
        return _child("--naive-plain", [events, rules, city], env, Path(tmp))


def page_sizes(events: Path, rules: Path, city: Path, repeat: int) -> dict[str, float]:
    """:func:`fast` with the heap on huge pages and on 4 KiB pages (FW_HUGE_PAGES=0), in
    child processes (the allocator cannot be taken out of this one), alternated so that
    the machine's drift falls on both: medians of each, and the median of the paired
    ratios."""
    huge, small = [], []
    for _ in range(repeat):
        for setting, rates in (("1", huge), ("0", small)):
            env = {"PYTHONPATH": str(ROOT), "FW_HUGE_PAGES": setting}
            seconds, n, _ = _child("--page-size", [events, rules, city], env, ROOT)
            rates.append(n / seconds)
    return {
        "huge_events_per_s": statistics.median(huge),
        "small_events_per_s": statistics.median(small),
        "paired_gain": statistics.median(h / s for h, s in zip(huge, small, strict=True)),
    }


def _child(flag: str, args: list[Path], env: dict[str, str], cwd: Path) -> tuple[float, int, int]:
    """Run this module with `flag` in a child process; its last line is (seconds, n, k)."""
    child = subprocess.run(
        [sys.executable, "-m", "bench.throughput", flag, *(str(a.resolve()) for a in args)],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
    )
    if child.returncode != 0:
        raise RuntimeError(f"the {flag} run failed:\n{child.stderr[-2000:]}")
    seconds, n, k = json.loads(child.stdout.splitlines()[-1])
    return float(seconds), int(n), int(k)


def _page_size_child(events: Path, rules: Path, city: Path) -> None:
    status = tune_process()
    wanted = "on" if os.environ["FW_HUGE_PAGES"] == "1" else "off (FW_HUGE_PAGES=0)"
    if status != wanted:
        raise SystemExit(f"expected huge pages {wanted}, got {status}")
    print(json.dumps(fast(events, registry_at(rules), city)))


def _naive_plain_child(events: Path, rules: Path, city: Path) -> None:
    import fraud_warning.join

    if not str(fraud_warning.join.__file__).endswith(".py"):
        raise SystemExit(f"expected the interpreted join, got {fraud_warning.join.__file__}")
    tune_process()
    print(json.dumps(naive(events, registry_at(rules), city)))


def _against(engine_rate: float, naive_rate: float, how: str, what: str) -> dict[str, float]:
    """Print a naive run's rate beside the engine's; its figures for the JSON result."""
    ratio = engine_rate / naive_rate
    print(f"naive,  {what}, {how + ':':<30} {naive_rate:>10,.0f} events/s", end="")
    print(f" -> engine is {ratio:.1f}x faster")
    return {"events_per_s": naive_rate, "speedup": ratio}


def median_run(fn, *args, repeat: int):  # type: ignore[no-untyped-def]
    runs = []
    for _ in range(repeat):
        gc.collect()  # the previous run's engine, outside the timing (full passes are rare)
        runs.append(fn(*args))
    seconds = statistics.median(r[0] for r in runs)
    return seconds, runs[0][1], runs[0][2]


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench")
    p.add_argument("--subscribers", type=int, default=100_000)
    p.add_argument("--hours", type=float, default=24.0)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    city = feed(args.subscribers, args.hours)
    events = city / "events.jsonl"
    WORK.mkdir(parents=True, exist_ok=True)
    registries = {
        "shipped": registry_at(ROOT / "rules"),
        "215": registry_at(build(215, WORK / "rules-215")),
        "1000": registry_at(build(1000, WORK / "rules-1000")),
    }
    # as the runners do (fraud_warning.tuning), for the engine and the naive way
    huge_pages = tune_process()
    result: dict[str, object] = {
        "machine": f"{platform.node()} {platform.machine()} python {platform.python_version()}",
        "feed": str(city),
        "huge_pages": huge_pages,
    }
    meta = json.loads((city / "meta.json").read_text())
    events_n, subscribers_n = meta["events"], meta["subscribers"]
    print(f"feed: {city.name} ({events_n:,} events from {subscribers_n:,} subscribers)")
    print(f"heap on huge pages: {huge_pages}")
    for name, registry in registries.items():
        seconds, n, alerts = median_run(fast, events, registry, city, repeat=args.repeat)
        rate = n / seconds
        result[f"engine_{name}"] = {
            "rules": len(registry),
            "scorers": scorer_count(registry),
            "events_per_s": rate,
        }
        print(
            f"engine, {describe(registry)}: {rate:>10,.0f} events/s ({n:,} events, "
            f"{alerts} alert emissions, median of {args.repeat})"
        )
    engine_rate = result["engine_215"]["events_per_s"]  # type: ignore[index]
    if huge_pages == "on":
        pages = page_sizes(events, WORK / "rules-215", city, args.repeat)
        result["engine_215_page_sizes"] = pages
        print(
            f"engine, {describe(registries['215'])}, alternated in child processes: huge pages "
            f"{pages['huge_events_per_s']:,.0f} events/s, 4 KiB pages "
            f"{pages['small_events_per_s']:,.0f} (FW_HUGE_PAGES=0) -> huge pages "
            f"{pages['paired_gain']:.2f}x (median of {args.repeat} pairs)"
        )
    seconds, n, hits = median_run(naive, events, registries["215"], city, repeat=1)
    what = describe(registries["215"])
    result["naive_215"] = _against(engine_rate, n / seconds, "the engine's compiled joins", what)
    seconds, n, plain_hits = naive_plain(events, WORK / "rules-215", city)
    if plain_hits != hits:  # the same rules on the same rows, compiled or not
        raise SystemExit(f"naive rule hits differ: {hits} compiled, {plain_hits} interpreted")
    result["naive_plain_215"] = _against(engine_rate, n / seconds, "plain Python throughout", what)
    (WORK / "throughput.json").write_text(json.dumps(result, indent=2))
    print(f"written {WORK / 'throughput.json'}")
    return 0


if __name__ == "__main__" and sys.argv[1:2] == ["--naive-plain"]:
    _naive_plain_child(*(Path(arg) for arg in sys.argv[2:5]))
if __name__ == "__main__" and sys.argv[1:2] == ["--page-size"]:
    _page_size_child(*(Path(arg) for arg in sys.argv[2:5]))
