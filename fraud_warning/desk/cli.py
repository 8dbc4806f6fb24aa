"""The desk's commands: `serve`, `outcomes export|report`, `dispatch report`.

Only parsers here: handlers live in :mod:`fraud_warning.desk.commands` and are imported
when run, so `fraud-warning --help` does not load aiohttp or redis.
"""

from __future__ import annotations

import argparse
from typing import Any

from fraud_warning.settings import env

HANDLERS = "fraud_warning.desk.commands"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def _redis_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--redis",
        default=env("redis", DEFAULT_REDIS),
        help=f"Redis URL [FW_REDIS; {DEFAULT_REDIS}]",
    )
    p.add_argument(
        "--prefix", default=env("redis_prefix", "fw"), help="Redis key prefix [FW_REDIS_PREFIX; fw]"
    )


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a share from 0 to 1: {value}")
    return value


def register(sub: Any) -> None:
    p = sub.add_parser("serve", help="the desk API, live console and /metrics")
    _redis_flags(p)
    p.add_argument("--bind", default=env("bind", "127.0.0.1"), help="[FW_BIND; 127.0.0.1]")
    p.add_argument("--port", type=int, default=int(env("port", "8080") or 8080), help="[8080]")
    p.add_argument(
        "--dev",
        action="store_true",
        help="development mode [FW_ENV=development]: tokens may be left out (every caller may "
        "do all) on a loopback address only, and placeholder tokens are allowed; refused "
        "when FW_ENV=production",
    )
    p.add_argument("--units", default=env("units"), help="police units CSV/JSONL to load")
    p.add_argument("--subscribers", default=env("subscribers"), help="for elderly-first ranking")
    p.add_argument("--tick", type=float, default=1.0, help="seconds between deadline checks")
    p.add_argument(
        "--targets",
        default=env("dispatch_targets", "P1=300,P2=600,P3=900"),
        help="door targets in seconds per priority [FW_DISPATCH_TARGETS; P1=300,P2=600,P3=900]",
    )
    p.add_argument(
        "--ack-timeout",
        type=float,
        default=float(env("ack_timeout", "60") or 60),
        help="seconds a unit has to acknowledge before reassignment [FW_ACK_TIMEOUT; 60]",
    )
    p.set_defaults(handler=f"{HANDLERS}:serve")

    outcomes = sub.add_parser("outcomes", help="labels from desk and dispatch outcomes")
    actions = outcomes.add_subparsers(dest="outcomes_command", metavar="ACTION", required=True)
    p = actions.add_parser("export", help="write outcome labels as JSONL for `models train`")
    _redis_flags(p)
    p.add_argument("--out", required=True, help="labels JSONL")
    p.add_argument("--all", action="store_true", help="keep outcomes that decide nothing (null)")
    p.set_defaults(handler=f"{HANDLERS}:outcomes")
    p = actions.add_parser("report", help="per-model precision: which models page for nothing")
    _redis_flags(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=f"{HANDLERS}:outcomes")

    dispatch = sub.add_parser("dispatch", help="dispatch SLA figures")
    actions = dispatch.add_subparsers(dest="dispatch_command", metavar="ACTION", required=True)
    p = actions.add_parser("report", help="dispatch-to-arrival and share on time, by district")
    _redis_flags(p)
    p.add_argument("--tasks", help="read task records from this JSONL instead of Redis")
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--min-on-time", type=_share, help="exit 1 when the share on time is below this (0..1)"
    )
    p.set_defaults(handler=f"{HANDLERS}:dispatch")


__all__ = ["register"]
