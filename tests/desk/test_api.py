"""The API against a running `fraud-warning serve` and the shared Redis (own key prefix)."""

from __future__ import annotations

import http.client
import json
import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from fraud_warning.desk.connection import connect
from fraud_warning.desk.keys import Keys
from fraud_warning.desk.service import Desk

from .conftest import SHARED_REDIS, make_alert, north
from .server import TOKENS, Server, write_units

SUB = "+8613812345678"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Desk]]:
    client = connect(SHARED_REDIS)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        pytest.fail(f"Redis at {SHARED_REDIS} is not answering ({exc})")
    prefix = f"fwtest-api-{uuid.uuid4().hex[:10]}"
    tmp = tmp_path_factory.mktemp("api")
    lat, lon = north(400)
    units = write_units(
        tmp / "units.csv", [("U1", "Wuhou PS 1", lat, lon), ("U2", "Wuhou PS 2", lat, lon + 0.001)]
    )
    server = Server(prefix, units, tmp / "serve.log")
    engine_side = Desk(client, keys=Keys(prefix))  # what a worker's sink does
    try:
        yield server, engine_side
    finally:
        log = server.stop()
        stale = list(client.scan_iter(match=f"{prefix}:*", count=500))
        if stale:
            client.delete(*stale)
        client.close()
        for token in TOKENS.values():
            assert token not in log, "a token reached the server log"
        assert SUB not in log, "an unmasked number reached the server log"


def fresh(desk: Desk, priority: str = "P2", subscriber: str = SUB) -> str:
    alert_id = f"A-{uuid.uuid4().hex[:8]}"
    desk.ingest(make_alert(alert_id, priority=priority, subscriber=subscriber))
    return alert_id


def test_public_routes(env: tuple[Server, Desk]) -> None:
    server, _ = env
    assert server.call("GET", "/healthz")[:2] == (200, {"status": "ok"})
    assert server.call("GET", "/readyz")[:2] == (200, {"status": "ready"})
    status, text, _ = server.call("GET", "/metrics")
    assert status == 200 and "fraud_warning_api_requests_total" in text
    status, page, _ = server.call("GET", "/")
    assert status == 200 and "<title>fraud_warning" in page and "/*SCRIPT*/" not in page
    status, doc, _ = server.call("GET", "/api/openapi.json")
    assert status == 200 and doc["openapi"].startswith("3.1")
    assert {
        "/api/alerts",
        "/api/alerts/{alert_id}",
        "/api/alerts/{alert_id}/ack",
        "/api/alerts/{alert_id}/dismiss",
        "/api/alerts/{alert_id}/escalate",
        "/api/alerts/{alert_id}/warned",
        "/api/alerts/stream",
        "/api/dispatch/tasks",
        "/api/dispatch/tasks/{task_id}/status",
        "/healthz",
        "/readyz",
        "/metrics",
        "/",
        "/api/openapi.json",
    } == set(doc["paths"])


@pytest.mark.parametrize(
    ("method", "path", "role", "token", "status", "message"),
    [
        ("GET", "/api/alerts", None, None, 401, "missing bearer token"),
        ("GET", "/api/alerts", None, "not-a-real-token-at-all", 401, "unknown token"),
        ("GET", "/api/alerts", "unit", None, 403, "role unit may not"),
        ("GET", "/api/alerts/stream", "unit", None, 403, "role unit may not"),
        ("POST", "/api/alerts/x/ack", "unit", None, 403, "role unit may not"),
        ("POST", "/api/dispatch/tasks/T-x/status", "desk", None, 403, "role desk may not"),
        ("GET", "/api/alerts?unmask=1", "admin", None, 403, "only the desk role may unmask"),
    ],
)
def test_auth_refusals(
    env: tuple[Server, Desk],
    method: str,
    path: str,
    role: str | None,
    token: str | None,
    status: int,
    message: str,
) -> None:
    server, _ = env
    got, body, headers = server.call(method, path, role, token=token)
    assert got == status and message in body["error"]
    if status == 401:
        assert headers["WWW-Authenticate"].startswith("Bearer")


def test_ranked_list_masks_unless_desk_unmasks(env: tuple[Server, Desk]) -> None:
    server, desk = env
    low = fresh(desk, "P3")
    high = fresh(desk, "P1")
    status, body, _ = server.call("GET", "/api/alerts?limit=1000", "desk")
    assert status == 200 and body["viewer"]["role"] == "desk"
    order = [a["alert_id"] for a in body["alerts"]]
    assert order.index(high) < order.index(low)
    assert all(a["subscriber"] == "+86*********78" for a in body["alerts"])
    status, body, _ = server.call("GET", "/api/alerts?unmask=1&limit=1000", "desk")
    assert SUB in {a["subscriber"] for a in body["alerts"]}
    assert server.call("GET", "/api/alerts?limit=0", "desk")[0] == 400
    assert server.call("GET", "/api/alerts?state=closed", "desk")[0] == 400


def test_actions_and_their_errors(env: tuple[Server, Desk]) -> None:
    server, desk = env
    alert_id = fresh(desk)
    path = f"/api/alerts/{alert_id}"
    status, body, _ = server.call("POST", f"{path}/ack", "desk", {"by": "Officer Li"})
    assert status == 200 and body["desk"]["state"] == "acknowledged"
    assert body["actions"][0]["by"] == "Officer Li" and body["actions"][0]["principal"] == "desk#1"
    status, body, _ = server.call("POST", f"{path}/ack", "desk")
    assert status == 409 and "is acknowledged" in body["error"]
    status, body, _ = server.call("POST", f"{path}/dismiss", "desk", {})
    assert status == 400 and "needs a reason" in body["error"]
    status, body, _ = server.call("POST", f"{path}/dismiss", "desk", {"reasn": "x"})
    assert status == 400 and "unknown field(s) reasn" in body["error"]
    status, body, _ = server.call("POST", f"{path}/dismiss", "desk", raw=b"{not json")
    assert status == 400 and "not valid JSON" in body["error"]
    status, body, _ = server.call("POST", f"{path}/dismiss", "desk", {"reason": 3})
    assert status == 400 and "reason must be a string" in body["error"]
    status, body, _ = server.call("POST", f"{path}/dismiss", "admin", {"reason": "false_positive"})
    assert status == 200 and body["desk"]["state"] == "dismissed"
    assert server.call("GET", "/api/alerts/A-nope", "desk")[0] == 404
    assert server.call("POST", "/api/alerts/A-nope/ack", "desk")[0] == 404
    assert server.call("POST", f"{path}/delete", "desk")[0] in (404, 405)


def test_escalation_dispatch_and_unit_reports(env: tuple[Server, Desk]) -> None:
    server, desk = env
    alert_id = fresh(desk)
    status, body, _ = server.call("POST", f"/api/alerts/{alert_id}/escalate", "desk")
    unit = body["task"]["unit_id"]  # U1 or U2: the other test's P1 may hold U1
    assert status == 200 and unit in ("U1", "U2")
    task_id = body["task"]["task_id"]
    status, body, _ = server.call("GET", "/api/dispatch/tasks", "unit")
    mine = [t for t in body["tasks"] if t["task_id"] == task_id]
    assert status == 200 and mine and mine[0]["subscriber"] == "+86*********78"
    assert any(d["district"] == "Wuhou" for d in body["districts"])
    path = f"/api/dispatch/tasks/{task_id}/status"
    status, body, _ = server.call("POST", path, "unit", {"status": "acknowledged"})
    assert status == 400 and "unit_id" in body["error"]
    status, body, _ = server.call("POST", path, "unit", {"status": "acknowledged", "unit_id": "U9"})
    assert status == 409 and f"assigned to {unit}, not U9" in body["error"]
    status, body, _ = server.call("POST", path, "unit", {"status": "flying", "unit_id": unit})
    assert status == 400 and "status must be one of" in body["error"]
    status, body, _ = server.call("POST", path, "unit", {"status": "acknowledged", "unit_id": unit})
    assert status == 200 and body["status"] == "acknowledged"
    status, body, _ = server.call(
        "POST", path, "unit", {"status": "on_scene", "unit_id": unit, "lat": "north"}
    )
    assert status == 400 and "lat must be a number" in body["error"]
    assert server.call("POST", path, "unit", {"status": "on_scene", "unit_id": unit})[0] == 200
    status, body, _ = server.call(
        "POST", path, "unit", {"status": "resolved", "unit_id": unit, "outcome": "warned"}
    )
    assert status == 200 and body["outcome"] == "warned"
    assert (
        server.call(
            "POST", "/api/dispatch/tasks/T-nope/status", "admin", {"status": "acknowledged"}
        )[0]
        == 404
    )
    _, text, _ = server.call("GET", "/metrics")
    assert 'fraud_warning_dispatch_arrivals_total{district="Wuhou",on_time="true"} 1.0' in text


def read_events(resp: http.client.HTTPResponse, want: int, timeout_s: float) -> list[dict]:
    events: list[dict] = []
    block: dict[str, str] = {}
    deadline = time.monotonic() + timeout_s
    while len(events) < want and time.monotonic() < deadline:
        line = resp.readline().decode().rstrip("\n")
        if not line:
            if "data" in block:
                events.append({**block, "data": json.loads(block["data"])})
            block = {}
        elif not line.startswith(":"):
            key, _, value = line.partition(": ")
            block[key] = value
    return events


def test_live_stream_and_resume(env: tuple[Server, Desk]) -> None:
    server, desk = env
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", "/api/alerts/stream", headers={"Authorization": f"Bearer {TOKENS['desk']}"})
    resp = conn.getresponse()
    assert resp.status == 200 and resp.getheader("Content-Type") == "text/event-stream"
    assert resp.readline().startswith(b"retry:")
    alert_id = fresh(desk, "P2")
    events = [e for e in read_events(resp, 1, 5) if e.get("event") == "alert"]
    conn.close()
    assert events and events[0]["data"]["alert_id"] == alert_id
    assert events[0]["data"]["subscriber"] == "+86*********78"
    first_id = events[0]["id"]
    # a reconnect with Last-Event-ID gets what happened after it
    desk.act(alert_id, "ack", principal="desk#1")
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request(
        "GET",
        "/api/alerts/stream?unmask=1",
        headers={"Authorization": f"Bearer {TOKENS['desk']}", "Last-Event-ID": first_id},
    )
    resp = conn.getresponse()
    replayed = [e for e in read_events(resp, 2, 5) if e.get("event") == "alert"]
    conn.close()
    assert replayed[0]["data"]["desk"]["state"] == "acknowledged"
    assert replayed[0]["data"]["subscriber"] == SUB


def test_a_stray_stream_entry_is_skipped_and_the_live_feed_goes_on(
    env: tuple[Server, Desk],
) -> None:
    """An entry the desk did not write (no `kind`, data that is not JSON) used to end the
    hub's task, and with it the live feed of every console, until a restart."""
    server, desk = env
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", "/api/alerts/stream", headers={"Authorization": f"Bearer {TOKENS['desk']}"})
    resp = conn.getresponse()
    assert resp.readline().startswith(b"retry:")
    desk.client.xadd(desk.keys.stream, {"note": "written by hand"})
    desk.client.xadd(desk.keys.stream, {"kind": "alert", "id": "A-x", "data": "{not json"})
    alert_id = fresh(desk, "P2")
    events = [e for e in read_events(resp, 1, 5) if e.get("event") == "alert"]
    conn.close()
    assert [e["data"]["alert_id"] for e in events] == [alert_id]


def test_serve_refuses_to_start_without_tokens(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from fraud_warning.cli import main

    monkeypatch.setenv("FW_API_TOKENS", "")
    assert main(["serve", "--port", "1"]) == 2
    assert "no API tokens" in capsys.readouterr().err
    monkeypatch.setenv("FW_API_TOKENS", "desk:tooshort99")
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "shorter than 16" in err and "tooshort99" not in err
    monkeypatch.setenv("FW_API_TOKENS", "pilot:" + "p" * 20)
    assert main(["serve"]) == 2
    assert "role one of desk, unit, admin" in capsys.readouterr().err
