"""Redis unreachable while the API serves: 503 with the documented message, counted,
never a 500 or a traceback, and the API recovers on its own once Redis is back.

A real `fraud-warning serve` talks to the shared Redis through a TCP proxy the test cuts
(connections reset and refused, as from a Redis that is down) or hangs (a network that
drops packets: connections open, nothing answered), then restores.
"""

from __future__ import annotations

import asyncio
import http.client
import re
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from fraud_warning.desk.connection import connect
from fraud_warning.desk.keys import Keys
from fraud_warning.desk.service import Desk
from fraud_warning.desk.stream import StreamHub
from tests.kafka.helpers import TcpProxy

from .conftest import SHARED_REDIS, make_alert, north
from .server import TOKENS, Server, write_units

UNREACHABLE = "the desk store (Redis) is unreachable; retry shortly"
SUB = "+8613812345670"


class Env:
    def __init__(self, server: Server, proxy: TcpProxy, desk: Desk, log: Path) -> None:
        self.server = server
        self.proxy = proxy
        self.desk = desk  # the engine side, straight to Redis (not through the proxy)
        self.log = log

    def metric(self, name: str, **labels: str) -> float:
        """The value of one series in the server's /metrics (0 when absent)."""
        status, text, _ = self.server.call("GET", "/metrics")
        assert status == 200
        total = 0.0
        for line in text.splitlines():
            m = re.match(rf"{name}\{{(.*)\}} (\S+)$", line)
            if m and all(f'{k}="{v}"' in m.group(1) for k, v in labels.items()):
                total += float(m.group(2))
        return total

    def statuses(self) -> set[str]:
        """Every status code the server's request counter has seen."""
        _, text, _ = self.server.call("GET", "/metrics")
        return set(re.findall(r'fraud_warning_api_requests_total\{[^}]*status="(\d+)"', text))


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    client = connect(SHARED_REDIS)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        pytest.fail(f"Redis at {SHARED_REDIS} is not answering ({exc})")
    proxy = TcpProxy("127.0.0.1", 6379)
    prefix = f"fwtest-outage-{uuid.uuid4().hex[:10]}"
    lat, lon = north(400)
    units = write_units(tmp_path / "units.csv", [("U1", "Wuhou PS 1", lat, lon)])
    monkeypatch.setenv("FW_REDIS", f"redis://127.0.0.1:{proxy.port}/0")
    log = tmp_path / "serve.log"
    server = Server(prefix, units, log)
    try:
        yield Env(server, proxy, Desk(client, keys=Keys(prefix)), log)
    finally:
        proxy.restore()
        text = server.stop()
        proxy.close()
        stale = list(client.scan_iter(match=f"{prefix}:*", count=500))
        if stale:
            client.delete(*stale)
        client.close()
        for token in TOKENS.values():
            assert token not in text, "a token reached the server log"


def fresh(desk: Desk, priority: str = "P2") -> str:
    alert_id = f"A-{uuid.uuid4().hex[:8]}"
    desk.ingest(make_alert(alert_id, priority=priority, subscriber=SUB))
    return alert_id


def calls(alert_id: str) -> list[tuple[str, str, str, Any]]:
    """One request of each kind that needs Redis, with a role allowed to make it."""
    return [
        ("GET", "/api/alerts", "desk", None),
        ("GET", "/api/alerts?state=all&unmask=1", "desk", None),
        ("GET", f"/api/alerts/{alert_id}", "desk", None),
        ("POST", f"/api/alerts/{alert_id}/ack", "desk", {"by": "desk-7"}),
        ("POST", f"/api/alerts/{alert_id}/dismiss", "desk", {"reason": "false_positive"}),
        ("GET", "/api/dispatch/tasks", "unit", None),
        (
            "POST",
            f"/api/dispatch/tasks/T-{alert_id}/status",
            "unit",
            {"status": "on_scene", "unit_id": "U1"},
        ),
    ]


def wait_until_ok(server: Server, timeout_s: float = 10.0) -> float:
    """Seconds until GET /api/alerts answers 200 again (fails the test past the timeout)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if server.call("GET", "/api/alerts", "desk")[0] == 200:
            return time.monotonic() - started
        time.sleep(0.1)
    pytest.fail(f"the API did not recover within {timeout_s:g} s of Redis coming back")


def assert_clean_log(log: Path) -> None:
    text = log.read_text(errors="replace")
    assert "Traceback" not in text, text[-3000:]
    assert '" 500 ' not in text, "a request answered 500"


def test_redis_down_gives_503_counted_then_recovers(env: Env) -> None:
    server, proxy = env.server, env.proxy
    alert_id = fresh(env.desk, "P1")  # a P1: its task exists for the status report
    assert server.call("GET", "/api/alerts", "desk")[0] == 200
    assert server.call("GET", "/readyz")[:2] == (200, {"status": "ready"})
    errors_before = env.metric("fraud_warning_desk_store_errors_total", op="api")

    proxy.cut()
    for method, path, role, body in calls(alert_id):
        status, payload, _ = server.call(method, path, role, body)
        assert (status, payload) == (503, {"error": UNREACHABLE}), (method, path)
    # what needs no Redis still answers, and the auth check still comes first
    assert server.call("GET", "/healthz")[:2] == (200, {"status": "ok"})
    assert server.call("GET", "/readyz")[:2] == (503, {"status": "redis unreachable"})
    assert server.call("GET", "/api/alerts")[0] == 401
    assert server.call("GET", "/api/dispatch/tasks", token="not-a-token-at-all")[0] == 401
    status, text, _ = server.call("GET", "/")
    assert status == 200 and "<title>fraud_warning" in text
    counted = env.metric("fraud_warning_desk_store_errors_total", op="api") - errors_before
    assert counted == len(calls(alert_id))
    # the calls, and /readyz saying "redis unreachable"
    assert env.metric("fraud_warning_api_requests_total", status="503") == len(calls(alert_id)) + 1
    assert proxy.refused > 0  # the server kept trying Redis, it did not answer from memory

    # the engine side kept writing meanwhile (its own connection): nothing was lost
    later = fresh(env.desk, "P2")
    proxy.restore()
    took = wait_until_ok(server)
    assert took < 5.0
    assert server.call("GET", "/readyz")[:2] == (200, {"status": "ready"})
    status, listing, _ = server.call("GET", "/api/alerts", "desk")
    assert status == 200 and {alert_id, later} <= {a["alert_id"] for a in listing["alerts"]}
    # every request of the outage works now, in order: ack, dismiss, the unit's report
    for method, path, role, body in calls(alert_id):
        status, payload, _ = server.call(method, path, role, body)
        assert status == 200, (method, path, payload)
    assert env.desk.store.require(alert_id).state == "dismissed"
    assert env.desk.dispatch.require(f"T-{alert_id}")["status"] == "on_scene"
    assert env.statuses() <= {"200", "401", "503"}
    assert_clean_log(env.log)


def test_live_stream_resumes_after_an_outage(env: Env) -> None:
    """Alerts written after Redis returns reach a console's live stream.

    The stream's reader retries on its own schedule, so alerts are written every 0.3 s
    until one arrives (not once after a fixed sleep, which a loaded machine outran):
    the stream must deliver one within 10 s, and in the order written."""
    server, proxy = env.server, env.proxy
    proxy.cut()
    time.sleep(1.5)  # the stream's reader fails at least once
    proxy.restore()
    wait_until_ok(server)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=15)
    conn.request("GET", "/api/alerts/stream", headers={"Authorization": f"Bearer {TOKENS['desk']}"})
    resp = conn.getresponse()
    assert resp.status == 200
    assert resp.readline() == b"retry: 2000\n"
    written: list[str] = []
    stop = threading.Event()

    def write() -> None:
        while not stop.is_set() and len(written) < 40:
            written.append(fresh(env.desk, "P2"))
            stop.wait(0.3)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    deadline = time.monotonic() + 10
    seen = b""
    try:
        while time.monotonic() < deadline and not any(a.encode() in seen for a in written):
            seen += resp.readline()
    finally:
        stop.set()
        writer.join(timeout=5)
        conn.close()
    got = [a for a in written if a.encode() in seen]
    assert got, seen[-500:]
    # what arrived is a run of consecutive writes: nothing skipped once tailing
    first = written.index(got[0])
    assert got == written[first : first + len(got)]
    assert_clean_log(env.log)


def test_a_hung_redis_answers_503_within_the_client_timeouts(env: Env) -> None:
    """Packets dropped: each Redis call waits out its 5 s socket timeout (one retry), so a
    request answers 503 in about 10 s instead of hanging the caller."""
    server, proxy = env.server, env.proxy
    assert server.call("GET", "/api/alerts", "desk")[0] == 200
    proxy.cut(hang=True)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    started = time.monotonic()
    conn.request("GET", "/api/alerts", headers={"Authorization": f"Bearer {TOKENS['desk']}"})
    resp = conn.getresponse()
    took = time.monotonic() - started
    payload = resp.read()
    conn.close()
    assert resp.status == 503 and UNREACHABLE.encode() in payload
    assert took < 15.0
    assert server.call("GET", "/healthz")[0] == 200  # the event loop was never blocked
    proxy.restore()
    wait_until_ok(server)
    assert env.metric("fraud_warning_desk_store_errors_total", op="api") >= 1
    assert_clean_log(env.log)


def test_a_hub_started_while_redis_is_unreachable_delivers_what_was_written_meanwhile() -> None:
    """The live feed used to start at the latest entry it could read: a hub that could
    not reach Redis at first started wherever the stream stood when Redis returned, and
    an alert the engine wrote in between (it still reached Redis) never reached a
    console. It now starts at the hub's start time."""
    client = connect(SHARED_REDIS)
    proxy = TcpProxy("127.0.0.1", 6379)
    proxied = connect(f"redis://127.0.0.1:{proxy.port}/0")
    keys = Keys(f"fwtest-hub-{uuid.uuid4().hex[:10]}")
    desk = Desk(client, keys=keys)
    before = fresh(desk, "P2")  # written before the hub starts: not part of its feed

    async def scenario() -> list[str]:
        hub = StreamHub(proxied, keys, block_ms=200)
        queue = hub.subscribe()
        proxy.cut()
        task = asyncio.create_task(hub.run())
        await asyncio.sleep(0.5)  # the hub's first read of the stream fails
        written = fresh(desk, "P2")  # straight to Redis: the engine side is not cut off
        proxy.restore()
        got: list[str] = []
        try:
            while written not in got:
                entry = await asyncio.wait_for(queue.get(), timeout=10)
                assert entry is not None
                got.append(entry.item)
        finally:
            task.cancel()
        return got

    try:
        got = asyncio.run(scenario())
    finally:
        proxy.restore()
        proxy.close()
        proxied.close()
        stale = list(client.scan_iter(match=f"{keys.prefix}:*", count=500))
        if stale:
            client.delete(*stale)
        client.close()
    assert before not in got and len(got) == len(set(got))
