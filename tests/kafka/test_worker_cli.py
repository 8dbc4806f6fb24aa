"""`fraud-warning worker` as its own process: a replay's alerts come out on fw.alerts,
the same as the embedded engine's; SIGTERM stops it cleanly."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson

from fraud_warning.kafka.broker import Tansu
from fraud_warning.kafka.replay import replay
from fraud_warning.registry import load_registry

from .helpers import consume_all
from .test_worker import ROOT, embedded_alerts


def start_worker(
    broker: Tansu, feed_dir: Path, name: str, *extra: str, log: Path | None = None
) -> subprocess.Popen[bytes]:
    """A worker process; its stderr is piped, or written to `log` to be read while it runs."""
    argv = [
        sys.executable, "-m", "fraud_warning", "worker", "--broker", broker.url,
        "--partitions", "3", "--group", name, "--stage-prefix", f"{name}.stage.",
        "--events-topic", f"{name}.events", "--alerts-topic", f"{name}.alerts",
        "--dispatch-topic", f"{name}.dispatch", "--dead-letter-topic", f"{name}.dead",
        "--rules", str(ROOT / "rules"), "--models", str(ROOT / "models"),
        "--cells", str(feed_dir / "cells.csv"), "--subscribers", str(feed_dir / "subscribers.csv"),
        "--session-timeout", "3", "--idle", "0", *extra,
    ]  # fmt: skip
    err = log.open("wb") if log is not None else subprocess.PIPE
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err)


def test_worker_process_alerts_equal_the_embedded_engine(broker: Tansu, feed_dir: Path) -> None:
    expected = embedded_alerts(feed_dir, load_registry(ROOT / "rules", ROOT / "models"))
    proc = start_worker(broker, feed_dir, "cli")
    try:
        time.sleep(2)  # topics created, group joining
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        asyncio.run(replay(feed_dir / "events.jsonl", [broker.bootstrap], "cli.events",
                           partitions=3, batch=100))  # fmt: skip
        records = asyncio.run(
            consume_all(broker.bootstrap, "cli.alerts", len(expected), timeout_s=60)
        )
        got = sorted(json.dumps(orjson.loads(r.value), sort_keys=True) for r in records)
        assert got == expected
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    err = proc.stderr.read().decode() if proc.stderr else ""
    assert code in (0, -signal.SIGTERM), err
    assert "Traceback" not in err, err
    assert "+86" not in err  # no phone number in the logs


def test_worker_needs_a_broker(capsys: object) -> None:
    env = {k: v for k, v in os.environ.items() if k != "FW_BROKER"}
    out = subprocess.run(
        [sys.executable, "-m", "fraud_warning", "worker"], env=env, capture_output=True
    )
    assert out.returncode == 2
    assert b"worker needs --broker" in out.stderr
