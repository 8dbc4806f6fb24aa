"""The `fraud-warning` command line.

Exit codes: 0 success, 1 a check failed, 2 bad usage or unreadable input (with a
one-line reason on stderr). Every flag also reads an `FW_*` environment variable.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import NoReturn

from fraud_warning import __version__
from fraud_warning.settings import RefPaths, default_dir, env


class UsageError(Exception):
    """Bad arguments or unreadable input: exit 2 with this one-line reason."""


class CheckFailed(Exception):
    """A check the user asked for failed: exit 1."""


class _Parser(argparse.ArgumentParser):
    """Bad arguments: one line on stderr and exit 2 (the full usage is in --help)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see --help)\n")


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


def add_ref_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("reference data (shared by every runner)")
    g.add_argument("--rules", default=env("rules"), help="rules directory [FW_RULES; ./rules]")
    g.add_argument("--models", default=env("models"), help="models directory [FW_MODELS; ./models]")
    g.add_argument("--cells", default=env("cells"), help="cells CSV/JSONL [FW_CELLS]")
    g.add_argument("--units", default=env("units"), help="police units CSV/JSONL [FW_UNITS]")
    g.add_argument(
        "--subscribers", default=env("subscribers"), help="subscribers CSV/JSONL [FW_SUBSCRIBERS]"
    )
    g.add_argument(
        "--lists",
        default=env("lists"),
        help="the site's named lists, over RULES/lists (service prefixes, trusted numbers) "
        "[FW_LISTS]",
    )


def ref_paths(args: argparse.Namespace) -> RefPaths:
    return RefPaths(
        rules=_path(args.rules) or default_dir("rules"),
        models=_path(args.models) or default_dir("models"),
        cells=_path(args.cells),
        units=_path(args.units),
        subscribers=_path(args.subscribers),
        lists=_path(args.lists),
    )


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {value}")
    return value


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be zero or more: {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive: {value}")
    return value


def rfc3339(text: str) -> datetime:
    """An aware timestamp such as 2026-03-02T09:00:00+08:00 (argparse type)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an RFC 3339 time: {text!r}") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"needs a UTC offset, e.g. {text}+08:00")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="fraud-warning",
        description="Telecom-fraud early-warning engine.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("score", help="score an events file (embedded, event time, deterministic)")
    p.add_argument("events", help="events JSONL")
    add_ref_flags(p)
    p.add_argument("--out", default=env("out"), required=env("out") is None, help="alerts JSONL")
    p.add_argument("--dispatch-out", default=env("dispatch_out"), help="dispatch tasks JSONL")
    p.add_argument(
        "--shadow-out",
        default=env("shadow_out"),
        help="shadow log JSONL: what shadow and experimental models fired on [FW_SHADOW_OUT]",
    )
    p.add_argument("--dead-letter", default=env("dead_letter"), help="dead letters [beside --out]")
    p.add_argument("--metrics-out", default=env("metrics_out"), help="final Prometheus text")
    p.add_argument(
        "--desk",
        default=env("desk_redis"),
        help="also hand alerts to the desk on this Redis URL; the desk dispatches [FW_DESK_REDIS]",
    )
    p.add_argument(
        "--desk-prefix",
        default=env("redis_prefix", "fw"),
        help="the desk's Redis key prefix [FW_REDIS_PREFIX; fw]",
    )
    p.add_argument("--batch", type=positive_int, default=int(env("batch", "2000") or 2000))
    p.add_argument("--quiet", action="store_true", help="no progress or summary on stderr")

    p = sub.add_parser("evaluate", help="score alerts against a feed's labels")
    p.add_argument("--alerts", required=True)
    p.add_argument("--labels", required=True)
    p.add_argument("--subscribers-count", type=positive_int, help="[meta.json beside labels]")
    p.add_argument("--days", type=positive_float, help="[meta.json beside labels]")
    p.add_argument("--json", action="store_true", help="one JSON object")

    p = sub.add_parser("demo", help="generate a small city and show the desk's view")
    p.add_argument("--subscribers", type=positive_int, default=20_000)
    p.add_argument("--hours", type=positive_float, default=2.0)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument(
        "--start", type=rfc3339, default="2026-03-02T09:00:00+08:00", help="RFC 3339 start"
    )
    p.add_argument(
        "--fraud-rate",
        type=positive_float,
        default=10.0,
        help="victims per 1,000 subscribers per day",
    )
    p.add_argument("--cache", default=env("cache", "feeds/cache"), help="generated feeds cache")
    p.add_argument("--rules", default=env("rules"))
    p.add_argument("--show", type=positive_int, default=15, help="alerts to print as they fire")

    p = sub.add_parser("schema", help="print a contract's JSON Schema")
    p.add_argument("name", choices=["events", "alert", "task"])

    feed = sub.add_parser("feed", help="synthetic feeds").add_subparsers(
        dest="feed_command", metavar="ACTION", required=True
    )
    p = feed.add_parser("generate", help="generate a synthetic city")
    p.add_argument("--subscribers", type=positive_int, required=True)
    p.add_argument("--hours", type=positive_float, required=True)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--fraud-rate",
        type=positive_float,
        default=3.0,
        help="victims per 1,000 subscribers per day",
    )
    p.add_argument("--start", type=rfc3339, help="RFC 3339 start [2026-03-02T00:00:00+08:00]")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--quiet", action="store_true")
    p = feed.add_parser("replay", help="publish a feed to Kafka in event-time order")
    p.add_argument("dir", help="feed directory (its events.jsonl) or an events JSONL file")
    p.add_argument("--broker", default=env("broker"), help="kafka://HOST:PORT [FW_BROKER]")
    p.add_argument("--rate", type=positive_float, help="events per second [as fast as possible]")
    p.add_argument(
        "--batch", type=positive_int, default=1, help="events per record, as a JSON array [1]"
    )
    p.add_argument(
        "--topic",
        default=env("events_topic", "fw.events"),
        help="input topic [FW_EVENTS_TOPIC; fw.events]",
    )
    p.add_argument(
        "--partitions",
        type=positive_int,
        default=env("partitions", "8"),  # a string default goes through `type` too
        help="partitions if the topic is created [FW_PARTITIONS; 8]",
    )
    p.add_argument("--quiet", action="store_true", help="no progress or summary on stderr")
    p.set_defaults(handler="fraud_warning.kafka.commands:replay")

    rules = sub.add_parser("rules", help="the rule registry").add_subparsers(
        dest="rules_command", metavar="ACTION", required=True
    )
    for name, text in (
        ("validate", "load and check every rule"),
        ("list", "list the rules"),
        ("lint", "findings with severities (error, warning, info); exit 1 on an error"),
    ):
        p = rules.add_parser(name, help=text)
        p.add_argument("dir", nargs="?", default=env("rules"))
    p = rules.add_parser(
        "test", help="backtest rules alone on a recorded, labelled feed (see --feed)"
    )
    p.add_argument("paths", nargs="+", metavar="RULES", help="rule files or directories")
    p.add_argument(
        "--feed",
        required=True,
        help="feed directory: events.jsonl, labels.jsonl, meta.json, cells.csv, subscribers.csv",
    )
    p.add_argument("--against", help="an older version (rule file or directory) to compare with")
    p.add_argument(
        "--lists", default=env("lists"), help="the site's named lists, as for score [FW_LISTS]"
    )
    p.add_argument("--batch", type=positive_int, default=2000, help="events per engine batch")
    p.add_argument("--json", action="store_true", help="one JSON object")

    for module in GROUPS:
        importlib.import_module(module).register(sub)
    for name, reason in NOT_YET.items():
        if name not in sub.choices:
            p = sub.add_parser(name, help="(not yet)")
            p.add_argument("rest", nargs=argparse.REMAINDER)
            p.set_defaults(not_yet=reason)
    return parser


#: Command groups that live in their own packages. Each module has `register(sub)`, which
#: adds its parsers and names each handler as "module:function" in `set_defaults(handler=)`;
#: handlers are imported only when run, so `--help` stays fast.
GROUPS: tuple[str, ...] = (
    "fraud_warning.models.cli",
    "fraud_warning.desk.cli",
    "fraud_warning.kafka.cli",
)

#: Commands of the contract not built yet: they exit 2 saying which issue builds them.
NOT_YET: dict[str, str] = {}

_BUILTIN = {
    "score": "fraud_warning.commands:score",
    "evaluate": "fraud_warning.commands:evaluate",
    "demo": "fraud_warning.demo:demo",
    "schema": "fraud_warning.commands:schema",
    "feed": "fraud_warning.commands:feed",
    "rules": "fraud_warning.commands:rules",
}


def _dispatch(args: argparse.Namespace) -> int:
    if getattr(args, "not_yet", None):
        raise UsageError(args.not_yet)
    target = getattr(args, "handler", None) or _BUILTIN[args.command]
    module, _, function = target.partition(":")
    handler: Callable[[argparse.Namespace], int] = getattr(
        importlib.import_module(module), function
    )
    return handler(args)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    # a command that is not built yet takes any flags and still says so
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "not_yet", None):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return _dispatch(args)
    except UsageError as exc:
        print(f"fraud-warning: {exc}", file=sys.stderr)
        return 2
    except CheckFailed as exc:
        print(f"fraud-warning: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("fraud-warning: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


def print_json(obj: object) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False))


__all__ = ["CheckFailed", "UsageError", "build_parser", "main"]
