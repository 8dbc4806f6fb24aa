"""Handlers of the command line's subcommands (parsing lives in :mod:`fraud_warning.cli`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from fraud_warning.cli import CheckFailed, UsageError, print_json, ref_paths
from fraud_warning.embedded import RunStats, run_file
from fraud_warning.evaluate import evaluate as evaluate_alerts
from fraud_warning.evaluate import feed_meta, load_jsonl
from fraud_warning.progress import Progress
from fraud_warning.registry import RegistryError, load_registry
from fraud_warning.settings import default_dir
from fraud_warning.sinks import JsonlSink
from fraud_warning.tuning import tune_process
from fraud_warning.wiring import LoadError, build_engine

if TYPE_CHECKING:
    from fraud_warning.desk.sink import DeskSink
    from fraud_warning.engine import Engine


def _readable(path: Path, what: str) -> Path:
    if not path.is_file():
        raise UsageError(f"{what} not found: {path}")
    try:
        with path.open("rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror}") from None
    return path


def dead_letter_path(out: Path) -> Path:
    """Default dead-letter file: beside the output, `alerts.jsonl` → `alerts.dead-letter.jsonl`."""
    return out.with_name(out.stem + ".dead-letter.jsonl")


def score(args: argparse.Namespace) -> int:
    events = _readable(Path(args.events), "events file")
    out = Path(args.out)
    try:
        engine = build_engine(ref_paths(args), dispatch=not args.desk)
    except LoadError as exc:
        raise UsageError(exc.first_line) from None
    tune_process()  # after loading: the registry and models are frozen out of the collector
    desk_sink = _desk_sink(args, engine) if args.desk else None
    dead_path = Path(args.dead_letter) if args.dead_letter else dead_letter_path(out)
    progress = Progress("scoring", events.stat().st_size) if not args.quiet else None
    try:
        with (
            JsonlSink(out) as alerts,
            JsonlSink(Path(args.dispatch_out) if args.dispatch_out else None) as tasks,
            JsonlSink(Path(args.shadow_out) if args.shadow_out else None) as shadow,
            JsonlSink(dead_path) as dead,
        ):
            stats = run_file(
                events,
                engine,
                alerts=alerts,
                tasks=tasks,
                shadow=shadow,
                dead_letters=dead,
                batch_size=args.batch,
                progress=progress.update if progress else None,
                on_output=(lambda o: desk_sink.write(o.alerts)) if desk_sink else None,
            )
    except OSError as exc:
        raise UsageError(f"cannot write output: {exc}") from None
    finally:
        if progress:
            progress.close()
    if args.metrics_out:
        Path(args.metrics_out).write_bytes(engine.metrics.exposition())
    if not args.quiet:
        print(summary_line(stats, dead_path), file=sys.stderr)
    if desk_sink is not None:
        if not desk_sink.flush():
            raise CheckFailed(f"{desk_sink.pending} alert(s) not yet written to the desk")
        if not args.quiet:
            print(f"{desk_sink.written} alert(s) handed to the desk", file=sys.stderr)
    return 0


def _desk_sink(args: argparse.Namespace, engine: Engine) -> DeskSink:
    """The desk on --desk's Redis: it stores, ranks and dispatches what the engine emits."""
    from fraud_warning.desk.commands import connect_desk
    from fraud_warning.desk.sink import DeskSink

    desk = connect_desk(args.desk, args.desk_prefix, engine.refdata)
    return DeskSink(desk)


def summary_line(stats: RunStats, dead_path: Path | None = None) -> str:
    p50, p99 = stats.latency_quantiles()
    prio = ", ".join(f"{k} {v}" for k, v in stats.by_priority.items()) or "none"
    dead = f" ({dead_path})" if dead_path is not None and stats.dead_letters else ""
    return (
        f"{stats.events:,} events in {stats.seconds:.1f} s ({stats.events_per_s:,.0f}/s), "
        f"processing latency p50 {p50 * 1000:.1f} ms p99 {p99 * 1000:.1f} ms; "
        f"incidents: {prio} ({stats.alerts} alert emissions); {stats.tasks} dispatch task(s); "
        f"{stats.dead_letters} dead letter(s){dead}"
    )


def evaluate(args: argparse.Namespace) -> int:
    alerts_path = _readable(Path(args.alerts), "alerts file")
    labels_path = _readable(Path(args.labels), "labels file")
    try:
        meta = feed_meta(labels_path)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    subscribers = args.subscribers_count or (meta[0] if meta else None)
    days = args.days or (meta[1] if meta else None)
    if subscribers is None or days is None:
        raise UsageError("no meta.json beside the labels: give --subscribers-count and --days")
    try:
        result = evaluate_alerts(
            load_jsonl(alerts_path), load_jsonl(labels_path), subscribers=subscribers, days=days
        )
    except ValueError as exc:
        raise UsageError(str(exc).splitlines()[0]) from None
    if args.json:
        print(json.dumps(result.to_dict(), sort_keys=True))
    else:
        print(result.render())
    return 0


def schema(args: argparse.Namespace) -> int:
    from fraud_warning.contracts import json_schema

    print_json(json_schema(args.name))
    return 0


def feed(args: argparse.Namespace) -> int:
    from fraud_warning.feed.generate import generate_feed

    progress = Progress("generating", 1.0) if not args.quiet else None
    try:
        summary = generate_feed(
            Path(args.out),
            subscribers=args.subscribers,
            hours=args.hours,
            seed=args.seed,
            start=args.start,
            fraud_rate=args.fraud_rate,
            progress=progress.update if progress else None,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"cannot write {args.out}: {exc.strerror}") from None
    finally:
        if progress:
            progress.close()
    if not args.quiet:
        print(
            f"wrote {summary.events:,} events, {summary.victims} victims, "
            f"{summary.fraud_numbers} fraud numbers to {args.out} in {summary.seconds:.1f} s",
            file=sys.stderr,
        )
    return 0


def rules(args: argparse.Namespace) -> int:
    if args.rules_command == "test":
        return _backtest(args)
    directory = Path(args.dir) if args.dir else default_dir("rules")
    if args.rules_command == "lint":
        return _lint(directory)
    try:
        registry = load_registry(directory)
    except RegistryError as exc:
        if args.rules_command == "validate":
            print(str(exc), file=sys.stderr)
            raise CheckFailed(f"{len(str(exc).splitlines())} problem(s) in {directory}") from None
        raise UsageError(str(exc).splitlines()[0]) from None
    if args.rules_command == "validate":
        from fraud_warning.ruletests import run_registry_tests

        count, failures = run_registry_tests(registry)
        for failure in failures:
            print(failure, file=sys.stderr)
        if failures:
            raise CheckFailed(f"{len(failures)} of {count} rule test(s) failed in {directory}")
        print(f"{len(registry)} rule(s) in {directory}: ok; {count} rule test(s) passed")
        return 0
    for rule in sorted(registry, key=lambda r: r.spec.id):
        s = rule.spec
        print(f"{rule.key:<45} {s.status:<12} {s.priority} on {s.on:<9} {s.typology:<28} {s.title}")
    return 0


def _backtest(args: argparse.Namespace) -> int:
    """`rules test RULES... --feed DIR [--against OLD]`: a report, exit 0; bad input, exit 2."""
    from fraud_warning.backtest import BacktestError, backtest
    from fraud_warning.lists import LISTS_DIR, ListError, feature_config, items_of, load_lists

    try:
        lists = load_lists(
            default_dir("rules") / LISTS_DIR, Path(args.lists) if args.lists else None
        )
    except ListError as exc:
        raise UsageError(str(exc).splitlines()[0]) from None
    try:
        result = backtest(
            [Path(p) for p in args.paths],
            Path(args.feed),
            against=[Path(args.against)] if args.against else [],
            batch_size=args.batch,
            features=feature_config(lists),
            lists=items_of(lists),
        )
    except BacktestError as exc:
        lines = str(exc).splitlines() or ["backtest failed"]
        more = f" (and {len(lines) - 1} more problem(s))" if len(lines) > 1 else ""
        raise UsageError(lines[0] + more) from None
    if args.json:
        print(json.dumps(result.to_dict(), sort_keys=True, ensure_ascii=False))
    else:
        print(result.render())
    return 0


def _lint(directory: Path) -> int:
    from fraud_warning.lint import counts, lint_directory
    from fraud_warning.registry import rule_files

    if not directory.is_dir():
        raise UsageError(f"rules directory not found: {directory}")
    findings = lint_directory(directory)
    for finding in findings:
        print(finding)
    n = counts(findings)
    total = f"{n['error']} error(s), {n['warning']} warning(s), {n['info']} info"
    if n["error"]:
        raise CheckFailed(f"{total} in {directory}")
    print(f"{len(rule_files(directory))} rule file(s) in {directory}: {total}")
    return 0


__all__ = ["dead_letter_path", "evaluate", "feed", "rules", "schema", "score", "summary_line"]
