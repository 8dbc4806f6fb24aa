"""`fraud-warning demo`: a generated city through the embedded engine, as a desk sees it."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from fraud_warning.cli import UsageError
from fraud_warning.commands import summary_line
from fraud_warning.embedded import run_file
from fraud_warning.engine import Output
from fraud_warning.evaluate import evaluate, feed_meta, load_jsonl
from fraud_warning.masking import mask_msisdn
from fraud_warning.progress import Progress
from fraud_warning.settings import RefPaths, default_dir
from fraud_warning.sinks import JsonlSink
from fraud_warning.tuning import tune_process
from fraud_warning.wiring import LoadError, build_engine


def ensure_feed(
    cache: Path, subscribers: int, hours: float, seed: int, start: datetime, fraud_rate: float
) -> Path:
    """The generated city for these parameters, generated once and cached."""
    from fraud_warning.feed.generate import GENERATOR_VERSION, generate_feed

    # the generator's version is in the key: a changed generator must not serve old cities
    stamp = start.strftime("%Y%m%dT%H%M")
    name = f"city-{subscribers}-{hours:g}h-{stamp}-r{fraud_rate:g}-s{seed}-g{GENERATOR_VERSION}"
    directory = cache / name
    if (directory / "meta.json").is_file():
        print(f"using cached city {directory}", file=sys.stderr)
        return directory
    print(f"generating a city of {subscribers:,} subscribers, {hours:g} h ...", file=sys.stderr)
    progress = Progress("generating", 1.0)
    summary = generate_feed(
        directory,
        subscribers=subscribers,
        hours=hours,
        seed=seed,
        start=start,
        fraud_rate=fraud_rate,
        progress=progress.update,
    )
    progress.close()
    print(
        f"generated {summary.events:,} events in {summary.seconds:.1f} s "
        f"({summary.victims} victims, {summary.fraud_numbers} fraud numbers)",
        file=sys.stderr,
    )
    return directory


def _alert_line(alert: dict[str, Any]) -> str:
    top = alert["models"][0]
    who = mask_msisdn(alert["subscriber"])
    when = alert["event_ts"][11:19]
    reasons = "; ".join(top["reasons"])
    rev = f" r{alert['revision']}" if alert["revision"] > 1 else ""
    return (
        f"{when} {alert['priority']}{rev:<4} {alert['score']:.2f} {who:<15} "
        f"{alert['typology']:<26} {reasons}"
    )


def _task_line(task: dict[str, Any]) -> str:
    eta = f"ETA {task['eta_s'] / 60:.1f} min" if task["eta_s"] is not None else "no unit free"
    who = mask_msisdn(task["subscriber"])
    return (
        f"{task['created_at'][11:19]} dispatch {task['status']:<9} {who}"
        f" unit {task['unit_id'] or '-':<8} {eta}, target {task['target_arrival'][11:19]}"
    )


def demo(args: argparse.Namespace) -> int:
    feed = ensure_feed(
        Path(args.cache), args.subscribers, args.hours, args.seed, args.start, args.fraud_rate
    )
    paths = RefPaths(
        rules=Path(args.rules) if args.rules else default_dir("rules"),
        models=default_dir("models"),
        cells=feed / "cells.csv",
        units=feed / "units.csv",
        subscribers=feed / "subscribers.csv",
    )
    try:
        engine = build_engine(paths)
    except LoadError as exc:
        raise UsageError(exc.first_line) from None
    tune_process()
    shown = {"alerts": 0, "tasks": 0}

    def show(out: Output) -> None:
        for alert in out.alerts:
            if alert["typology"] != "fraud_number" and shown["alerts"] < args.show:
                shown["alerts"] += 1
                print(_alert_line(alert))
        for task in out.tasks:
            if shown["tasks"] < args.show:
                shown["tasks"] += 1
                print("    " + _task_line(task))

    print(f"\n== alerts as they fire (first {args.show}; subscribers masked) ==")
    alerts_path = feed / "demo-alerts.jsonl"
    with (
        JsonlSink(alerts_path) as alerts,
        JsonlSink(feed / "demo-tasks.jsonl") as tasks,
        JsonlSink(feed / "demo-dead-letter.jsonl") as dead,
    ):
        stats = run_file(
            feed / "events.jsonl",
            engine,
            alerts=alerts,
            tasks=tasks,
            dead_letters=dead,
            on_output=show,
        )
    print("\n== the desk's ranked queue (open incidents) ==")
    for incident in engine.victims.top(10):
        top = max(incident.models.values(), key=lambda v: v.score)
        print(
            f"{incident.priority} {incident.score:.2f} {mask_msisdn(incident.subscriber):<15} "
            f"{incident.typology:<26} {incident.money_cny:>9,.0f} CNY  {'; '.join(top.reasons)}"
        )
    flagged = len(engine.numbers.open)
    print(f"\n{flagged} number(s) flagged as fraud numbers by the number side")
    print("\n== summary ==")
    print(summary_line(stats))
    meta = feed_meta(feed / "labels.jsonl")
    if meta is not None:
        result = evaluate(
            load_jsonl(alerts_path),
            load_jsonl(feed / "labels.jsonl"),
            subscribers=meta[0],
            days=meta[1],
        )
        print(result.render())
    # the desk's side of the loop: units drive to the door (fraud_warning.desk.simulate)
    from fraud_warning.desk.simulate import show_visits

    show_visits(
        feed / "demo-tasks.jsonl",
        engine.refdata.units,
        feed / "labels.jsonl",
        feed / "demo-visits.jsonl",
    )
    print(f"\nalerts: {alerts_path}")
    return 0


__all__ = ["demo", "ensure_feed"]
