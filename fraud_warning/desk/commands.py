"""Handlers of `serve`, `outcomes` and `dispatch` (parsers in :mod:`fraud_warning.desk.cli`)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import redis

from fraud_warning.cli import CheckFailed, UsageError
from fraud_warning.desk.connection import STORE_ERRORS, connect
from fraud_warning.desk.keys import Keys
from fraud_warning.desk.service import Desk
from fraud_warning.masking import url_host
from fraud_warning.refdata import RefData
from fraud_warning.settings import env


def _client(args: argparse.Namespace, *, required: bool = True) -> redis.Redis:
    try:
        client = connect(args.redis)
        client.ping()
    except ValueError as exc:
        raise UsageError(f"--redis is not a Redis URL: {exc}") from None
    except STORE_ERRORS as exc:
        if required:
            raise UsageError(f"cannot reach Redis at {url_host(args.redis)}: {exc}") from None
        print(f"warning: Redis at {url_host(args.redis)} not answering yet", file=sys.stderr)
    return client


def _keys(args: argparse.Namespace) -> Keys:
    try:
        return Keys(args.prefix)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def connect_desk(url: str, prefix: str, refdata: RefData) -> Desk:
    """A desk on the Redis at `url` (which must answer) under `prefix`, with these units."""
    args = argparse.Namespace(redis=url, prefix=prefix)
    return Desk(
        _client(args),
        keys=_keys(args),
        subscribers=refdata.subscribers,
        units=refdata.units,
    )


def serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from fraud_warning.desk.api import build_app
    from fraud_warning.desk.auth import Tokens
    from fraud_warning.desk.dispatcher import ServiceConfig, parse_targets
    from fraud_warning.desk.exposure import check_exposure
    from fraud_warning.desk.service import DeskConfig
    from fraud_warning.dispatch import DispatchConfig
    from fraud_warning.refdata import RefDataError, load_refdata

    try:
        tokens = Tokens.parse(os.environ.get("FW_API_TOKENS"))
        dev = check_exposure(tokens, bind=args.bind, dev=args.dev, environment=env("env"))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if not 1 <= args.port <= 65535:
        raise UsageError(f"--port must be 1..65535, got {args.port}")
    if not args.tick > 0:
        raise UsageError(f"--tick must be positive, got {args.tick}")
    if not args.ack_timeout > 0:
        raise UsageError(f"--ack-timeout must be positive, got {args.ack_timeout}")
    try:
        targets = parse_targets(args.targets)
    except ValueError as exc:
        raise UsageError(f"--targets: {exc}") from None
    config = DeskConfig(
        service=ServiceConfig(DispatchConfig(targets_s=targets), ack_timeout_s=args.ack_timeout)
    )
    try:
        refdata = load_refdata(None, args.units, args.subscribers)
    except RefDataError as exc:
        raise UsageError(str(exc).splitlines()[0]) from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    desk = Desk(
        _client(args, required=False),
        keys=_keys(args),
        config=config,
        subscribers=refdata.subscribers,
        units=refdata.units,
    )
    app = build_app(desk, tokens, dev=dev, tick_s=args.tick)
    mode = " DEV MODE: no tokens, every caller may do everything" if not len(tokens) else ""
    print(
        f"desk on http://{args.bind}:{args.port}/ (Redis {url_host(args.redis)}, "
        f"prefix {args.prefix}){mode}",
        file=sys.stderr,
        flush=True,
    )
    # the access log shows method, path and status: never headers, so never a token
    web.run_app(
        app,
        host=args.bind,
        port=args.port,
        print=None,
        access_log_format='%a "%r" %s %b %Tfs',
        shutdown_timeout=2.0,
    )
    return 0


def outcomes(args: argparse.Namespace) -> int:
    from fraud_warning.desk.outcomes import export, precision_report, render
    from fraud_warning.desk.store import AlertStore

    store = AlertStore(_client(args), _keys(args))
    records = store.outcomes()
    if args.outcomes_command == "export":
        try:
            written = export(records, Path(args.out), unknown=args.all)
        except OSError as exc:
            raise UsageError(f"cannot write {args.out}: {exc.strerror}") from None
        print(f"wrote {written} label(s) to {args.out}", file=sys.stderr)
        return 0
    alerts = [r.alert for r in store.ranked(active=False, limit=1_000_000)]
    report = precision_report(records, alerts)
    if args.json:
        print(json.dumps([r.to_dict() for r in report], indent=2))
    else:
        print(render(report))
    return 0


def _read_tasks(path: Path) -> list[dict[str, Any]]:
    from fraud_warning.evaluate import load_jsonl

    if not path.is_file():
        raise UsageError(f"tasks file not found: {path}")
    try:
        return list(load_jsonl(path))
    except ValueError as exc:
        raise UsageError(f"{path}: {str(exc).splitlines()[0]}") from None


def dispatch(args: argparse.Namespace) -> int:
    from fraud_warning.desk.dispatcher import DispatchService
    from fraud_warning.desk.sla import report

    if args.tasks:
        tasks = _read_tasks(Path(args.tasks))
    else:
        from fraud_warning.clock import WallClock

        tasks = DispatchService(_client(args), _keys(args), WallClock()).tasks(limit=1_000_000)
    try:
        sla = report(tasks, now=time.time())
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"not a task record: {exc}") from None
    if args.json:
        print(json.dumps(sla.to_dict(), indent=2))
    else:
        print(sla.render())
    share = sla.total.on_time_share
    if args.min_on_time is not None and (share is None or share < args.min_on_time):
        shown = "no arrivals" if share is None else f"{share:.0%}"
        raise CheckFailed(f"on time {shown}, below the {args.min_on_time:.0%} asked for")
    return 0


__all__ = ["dispatch", "outcomes", "serve"]
