"""Redis goes away mid-replay and comes back: nothing lost, nothing duplicated.

Runs its own redis-server on a free loopback port (append-only file on, so a restart
keeps what was written), never the shared one.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from fraud_warning.desk.connection import connect
from fraud_warning.desk.keys import Keys
from fraud_warning.desk.metrics import DeskMetrics
from fraud_warning.desk.service import Desk
from fraud_warning.desk.sink import DeskSink

from .conftest import FakeClock, make_alert, unit


class OwnRedis:
    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed (Debian package redis-server)")
        self.binary = binary
        self.directory = directory
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
                "--protected-mode",
                "yes",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        probe = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        for _ in range(100):
            try:
                if probe.ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.05)
        pytest.fail(f"own redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()  # SIGTERM: redis flushes its append-only file and exits
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    server.stop()


def alerts() -> list[dict]:
    """40 incidents, every 4th a P1, every 5th re-emitted with a higher revision."""
    out = []
    for i in range(40):
        priority = "P1" if i % 4 == 0 else "P2"
        sub = f"+86138{i:08d}"
        out.append(make_alert(f"A-{i}", priority=priority, subscriber=sub, metres_north=i * 10))
        if i % 5 == 0:
            out.append(
                make_alert(
                    f"A-{i}",
                    revision=2,
                    priority=priority,
                    subscriber=sub,
                    score=0.9,
                    metres_north=i * 10,
                )
            )
    return out


def test_outage_mid_replay_loses_and_duplicates_nothing(own_redis: OwnRedis) -> None:
    client = connect(own_redis.url, timeout_s=1.0)
    keys = Keys("fwrel")
    units = tuple(unit(f"U{k:02d}", k * 150) for k in range(12))
    desk = Desk(client, keys=keys, clock=FakeClock(), metrics=DeskMetrics(), units=units)
    sink = DeskSink(desk, retry_every_s=0.0)
    feed = alerts()
    batches = [feed[i : i + 6] for i in range(0, len(feed), 6)]

    for batch in batches[:2]:
        sink.write(batch)
    assert sink.pending == 0
    own_redis.stop()
    for batch in batches[2:5]:
        sink.write(batch)  # Redis is away: buffered, not raised
    assert sink.pending == sum(len(b) for b in batches[2:5])
    assert "fraud_warning_desk_buffered_writes 18.0" in desk.metrics.exposition().decode()
    own_redis.start()
    for batch in batches[5:]:
        sink.write(batch)
    assert sink.close(timeout_s=10) == 0

    # every incident once, at its highest revision
    ids = {a["alert_id"] for a in feed}
    stored = {r.alert_id: r.alert["revision"] for r in desk.store.ranked(active=False, limit=999)}
    assert set(stored) == ids
    assert all(stored[f"A-{i}"] == 2 for i in range(0, 40, 5))
    # the live stream carries each (alert, revision) once
    entries = [f for _, f in client.xrange(keys.stream) if f["kind"] == "alert"]
    revisions = Counter((f["id"], f["data"].count('"revision":2')) for f in entries)
    assert max(revisions.values()) == 1 and len(entries) == len(feed)
    # one task per P1 incident, each with its own unit
    tasks = desk.dispatch.tasks()
    assert sorted(t["alert_id"] for t in tasks) == sorted(f"A-{i}" for i in range(0, 40, 4))
    busy = desk.dispatch.fleet.busy()
    assert len(set(busy.values())) == len(busy)

    # a replay of everything (at-least-once delivery) changes nothing
    before = client.xlen(keys.stream)
    replay = DeskSink(desk, retry_every_s=0.0)
    replay.write(feed)
    assert replay.pending == 0 and client.xlen(keys.stream) == before
    assert len(desk.dispatch.tasks()) == len(tasks)
    client.close()


def test_a_write_cut_between_alert_and_task_is_finished_once(
    make_desk: Any, client: redis.Redis, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    desk = make_desk((unit("U1", 200),))
    sink = DeskSink(desk, retry_every_s=0.0)
    real_create = desk.dispatch.create
    calls = {"n": 0}

    def flaky_create(**kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise redis.ConnectionError("connection reset mid-write")
        return real_create(**kwargs)

    monkeypatch.setattr(desk.dispatch, "create", flaky_create)
    sink.write([make_alert("A-1", priority="P1")])
    assert sink.pending == 1  # the alert is stored, its task is not: kept for a retry
    assert sink.flush()
    assert [t["unit_id"] for t in desk.dispatch.tasks()] == ["U1"]
    assert [f["id"] for _, f in client.xrange(keys.stream) if f["kind"] == "alert"] == ["A-1"]
