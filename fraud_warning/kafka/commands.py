"""Handlers of the Kafka commands (`feed replay`, `worker`); parsers live in
:mod:`fraud_warning.cli` and :mod:`fraud_warning.kafka.cli`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

from fraud_warning.cli import UsageError
from fraud_warning.kafka.replay import ReplayError, feed_file
from fraud_warning.kafka.replay import replay as run_replay
from fraud_warning.kafka.topics import bootstrap_servers
from fraud_warning.masking import url_host
from fraud_warning.progress import Progress

log = logging.getLogger("fraud_warning.worker")


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
        raise _broker_error(servers, exc) from None
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


def worker(args: argparse.Namespace) -> int:
    """`worker --broker URL ...`: the stage agents of one worker, until SIGINT/SIGTERM;
    with `--processes N`, N of them in one consumer group, supervised."""
    if args.processes > 1:
        if not args.state_redis:
            raise UsageError(
                "--processes above 1 needs --state-redis: partitions move between the "
                "processes, and their state must move with them"
            )
        return _supervise(args)
    return _run_worker(args)


def _run_worker(args: argparse.Namespace) -> int:
    from aiokafka.errors import KafkaError

    from fraud_warning.cli import ref_paths
    from fraud_warning.kafka.topics import topics_from_args
    from fraud_warning.wiring import LoadError, load_parts

    logging.getLogger("aiokafka").addHandler(logging.NullHandler())
    if not args.broker:
        raise UsageError("worker needs --broker URL (or FW_BROKER), e.g. kafka://127.0.0.1:9092")
    try:
        servers = bootstrap_servers(args.broker)
        registry, refdata, features = load_parts(ref_paths(args))
    except ValueError as exc:  # LoadError is a ValueError
        raise UsageError(exc.first_line if isinstance(exc, LoadError) else str(exc)) from None
    topics = topics_from_args(args)
    try:
        app, stages = asyncio.run(
            _build_worker(args, servers, topics, registry, refdata, features)  # makes topics
        )
    except KafkaError as exc:
        raise _broker_error(servers, exc) from None
    except ReplayError as exc:
        raise UsageError(str(exc)) from None
    if args.metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(args.metrics_port, addr="127.0.0.1", registry=stages.ctx.metrics.registry)
    import faust

    from fraud_warning.tuning import tune_process

    tune_process()
    # runs until SIGINT / SIGTERM, then exits the process itself
    faust.Worker(app, loglevel=args.log_level.upper(), quiet=True).execute_from_commandline()


def _child(args: argparse.Namespace, index: int) -> None:
    """One supervised worker process (a fresh interpreter: spawn, not fork)."""
    args.processes = 1
    args.fresh = args.fresh and index == 0  # one process forgets; the others start after
    if args.metrics_port is not None:
        args.metrics_port += index  # one /metrics per process: consecutive ports
    try:
        sys.exit(_run_worker(args))
    except UsageError as exc:
        print(f"fraud-warning: {exc}", file=sys.stderr)
        sys.exit(2)


def _supervise(args: argparse.Namespace) -> int:
    """Run `args.processes` workers in one group; restart one that dies; stop them all on
    SIGINT / SIGTERM. One process per core: a worker is one Python thread of work."""
    import multiprocessing
    import signal
    import time

    ctx = multiprocessing.get_context("spawn")
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    children: list[Any] = []
    for index in range(args.processes):
        child = ctx.Process(target=_child, args=(args, index), name=f"fraud-warning-{index}")
        child.start()
        children.append(child)
        if index == 0 and args.fresh:
            time.sleep(2)  # let the first forget old checkpoints before others load them
    restarts = 0
    while not stopping:
        time.sleep(0.2)
        for index, child in enumerate(children):
            if child.exitcode is None or stopping:
                continue
            if child.exitcode == 2 and restarts == 0:
                stopping = True  # a usage error: every process would fail the same way
                break
            restarts += 1
            log.warning(
                "worker process %d exited with %s; restarting it (restart %d)",
                index,
                child.exitcode,
                restarts,
            )
            args.fresh = False
            children[index] = ctx.Process(
                target=_child, args=(args, index), name=f"fraud-warning-{index}"
            )
            children[index].start()
    for child in children:
        if child.exitcode is None:
            child.terminate()  # SIGTERM: each stops cleanly and checkpoints what it holds
    for child in children:
        child.join(timeout=30)
        if child.exitcode is None:
            child.kill()
    codes = {child.exitcode for child in children}
    return 2 if 2 in codes else 0


async def _build_worker(
    args: argparse.Namespace,
    servers: list[str],
    topics: Any,
    registry: Any,
    refdata: Any,
    features: Any,
) -> tuple[Any, Any]:
    import faust

    from fraud_warning.kafka import transport
    from fraud_warning.kafka.replay import ensure_topic, partition_count
    from fraud_warning.kafka.worker import Worker, WorkerConfig, stage_partitions
    from fraud_warning.stages.tasks import Context

    await ensure_topic(servers, topics.events, args.partitions)
    inputs = await partition_count(servers, topics.events)
    ctx = Context(
        registry,
        refdata,
        partitions=stage_partitions(inputs, args.partitions),
        features=features,
        idle_s=args.idle or None,
    )
    transport.register()
    app = faust.App(
        args.group,
        broker=transport.faust_broker_url(args.broker, fetch_max_wait_ms=args.fetch_wait_ms),
        web_enabled=False,
        web_bind="127.0.0.1",
        web_host="127.0.0.1",
        consumer_auto_offset_reset="earliest",
        topic_partitions=args.partitions,
        broker_session_timeout=args.session_timeout,
        broker_heartbeat_interval=args.session_timeout / 6,
        datadir=str(Path(tempfile.gettempdir()) / f"fraud-warning-{args.group}"),
    )
    sink = _desk_sink(args, refdata) if args.desk else None
    checkpoints = _checkpoints(args) if args.state_redis else None
    watcher = None
    if args.reload_every:
        from fraud_warning.cli import ref_paths
        from fraud_warning.reload import RegistryWatcher

        paths = ref_paths(args)
        watcher = RegistryWatcher(
            paths.rules, paths.models, lists_dir=paths.lists, metrics=ctx.metrics
        )
    worker = Worker(
        app,
        ctx,
        topics,
        WorkerConfig(
            stage_prefix=args.stage_prefix,
            checkpoint_s=args.checkpoint_every or 5.0,
            reload_every_s=args.reload_every or 2.0,
            linger_s=args.linger_ms / 1000,
        ),
        on_alerts=_desk_handoff(sink) if sink is not None else None,
        checkpoints=checkpoints,
        watcher=watcher,
    )
    for topic, n in worker.topic_partitions().items():
        await ensure_topic(servers, topic, n)
    for topic in (topics.alerts, topics.dispatch, topics.dead_letter, topics.shadow):
        await ensure_topic(servers, topic, args.partitions)
    if checkpoints is None:
        log.warning(
            "worker %s: no --state-redis: nothing is checkpointed and no offset committed, "
            "so a restarted worker re-reads its topics from the start (slow, and only as "
            "far back as the topics keep)",
            args.group,
        )
    log.info("worker %s: %d input partitions, %d per stage", args.group, inputs, args.partitions)
    return app, worker


def _broker_error(servers: list[str], exc: Exception) -> UsageError:
    """One line for the user: the broker and the first line of what it said."""
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return UsageError(f"broker {','.join(servers)}: {reason}")


def _checkpoints(args: argparse.Namespace) -> Any:
    import redis

    from fraud_warning.stages.checkpoints import Checkpoints

    client = redis.Redis.from_url(args.state_redis, socket_timeout=10)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise UsageError(f"state Redis {url_host(args.state_redis)}: {exc}") from None
    checkpoints = Checkpoints(client, args.desk_prefix, args.group)
    if args.fresh:
        log.warning("worker %s: %d checkpoint(s) forgotten", args.group, checkpoints.clear())
    return checkpoints


def _desk_handoff(sink: Any) -> Any:
    """Alerts into the desk; back come the dispatch tasks the desk made for them, in the
    wire contract, for `fw.dispatch`. A task's id is `T-` and its alert's id."""
    from fraud_warning.contracts import DispatchTask

    def handoff(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        sink.write(alerts)
        tasks = []
        for alert in alerts:
            if alert["priority"] != "P1":
                continue
            task = sink.desk.dispatch.task(f"T-{alert['alert_id']}")
            if task is not None:
                tasks.append(DispatchTask.model_validate(task).model_dump(mode="json"))
        return tasks

    return handoff


def _desk_sink(args: argparse.Namespace, refdata: Any) -> Any:
    from fraud_warning.desk.commands import connect_desk
    from fraud_warning.desk.sink import DeskSink

    return DeskSink(connect_desk(args.desk, args.desk_prefix, refdata))


__all__ = ["replay", "worker"]
