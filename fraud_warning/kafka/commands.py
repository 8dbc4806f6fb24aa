"""Handlers of the Kafka commands (`feed replay`); parsing lives in :mod:`fraud_warning.cli`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from fraud_warning.cli import UsageError
from fraud_warning.kafka.replay import ReplayError, feed_file
from fraud_warning.kafka.replay import replay as run_replay
from fraud_warning.kafka.topics import bootstrap_servers
from fraud_warning.progress import Progress


def replay(args: argparse.Namespace) -> int:
    """`feed replay DIR --broker URL [--rate N] [--batch N] [--topic T] [--partitions N]`."""
    from aiokafka.errors import KafkaError  # type: ignore[import-untyped]

    # aiokafka logs each failed connection attempt; the user gets one line from us instead
    logging.getLogger("aiokafka").addHandler(logging.NullHandler())
    if not args.broker:
        raise UsageError(
            "feed replay needs --broker URL (or FW_BROKER), e.g. kafka://127.0.0.1:9092"
        )
    try:
        servers = bootstrap_servers(args.broker)
        events = feed_file(Path(args.dir))
    except (ValueError, ReplayError) as exc:
        raise UsageError(str(exc)) from None
    progress = None if args.quiet else Progress("replaying", events.stat().st_size)
    try:
        stats = asyncio.run(
            run_replay(
                events,
                servers,
                args.topic,
                partitions=args.partitions,
                batch=args.batch,
                rate=args.rate,
                progress=progress.update if progress else None,
            )
        )
    except KafkaError as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UsageError(f"broker {','.join(servers)}: {reason}") from None
    except ReplayError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"cannot read {events}: {exc.strerror or exc}") from None
    finally:
        if progress:
            progress.close()
    if not args.quiet:
        print(f"{stats.summary()} to {args.topic}", file=sys.stderr)
    return 0


__all__ = ["replay"]
