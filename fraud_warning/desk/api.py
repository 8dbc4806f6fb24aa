"""The desk's HTTP API (aiohttp): alerts, actions, the live stream, dispatch, the console.

Public: `/healthz`, `/readyz`, `/metrics` (no phone numbers in any label), `/` (the
console page, which asks for a token before it fetches anything) and `/api/openapi.json`.
Everything under `/api/` else needs `Authorization: Bearer <token>`: no or an unknown
token is 401, a known token of the wrong role 403. Phone numbers are masked unless a
desk-role caller asks with `?unmask=1`.

Desk calls are blocking Redis round trips of a millisecond or two; they run in the
default thread pool so the event loop keeps serving the live stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson
from aiohttp import web

from fraud_warning.desk.auth import DEV, Principal, Tokens
from fraud_warning.desk.connection import STORE_ERRORS
from fraud_warning.desk.console import page
from fraud_warning.desk.dispatcher import UNIT_REPORTS
from fraud_warning.desk.errors import DeskError, Invalid
from fraud_warning.desk.openapi import document
from fraud_warning.desk.service import Desk
from fraud_warning.desk.stream import Entry, StreamHub, stream_id
from fraud_warning.masking import mask_msisdn

DESK = ("desk", "admin")
UNITS = ("unit", "desk", "admin")
ACTIONS = ("ack", "dismiss", "escalate", "warned")
KEEPALIVE_S = 15.0
log = logging.getLogger("fraud_warning.desk.api")
_T = TypeVar("_T")

DESK_KEY = web.AppKey("desk", Desk)
TOKENS_KEY = web.AppKey("tokens", Tokens)
HUB_KEY = web.AppKey("hub", StreamHub)
DEV_KEY = web.AppKey("dev", bool)
TICK_KEY = web.AppKey("tick_s", float)
TASKS_KEY = web.AppKey("tasks", list)


def _json(data: object, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


def _error(status: int, message: str, **headers: str) -> web.Response:
    response = _json({"error": message}, status)
    response.headers.update(headers)
    return response


async def _blocking(fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
    return await asyncio.to_thread(fn, *args, **kwargs)


def mask(data: Any) -> Any:
    """A copy with every `subscriber` masked (alerts, tasks, nested task of a detail)."""
    if isinstance(data, dict):
        return {
            k: mask_msisdn(v) if k == "subscriber" and isinstance(v, str) else mask(v)
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [mask(v) for v in data]
    return data


# -- middleware -------------------------------------------------------------------------


@web.middleware
async def _errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    started = time.perf_counter()
    route = request.match_info.route.resource
    name = route.canonical if route is not None else "unmatched"
    desk = request.app[DESK_KEY]
    try:
        response = await handler(request)
    except DeskError as exc:
        response = _error(exc.status, str(exc))
        if exc.status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="fraud_warning"'

    except STORE_ERRORS:
        desk.metrics.store_errors.labels("api").inc()
        response = _error(503, "the desk store (Redis) is unreachable; retry shortly")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = _error(exc.status, exc.reason)
    desk.metrics.requests.labels(name, str(response.status)).inc()
    desk.metrics.request_seconds.labels(name).observe(time.perf_counter() - started)
    return response


def _principal(request: web.Request, roles: tuple[str, ...]) -> Principal:
    """The caller, if its token is known and its role is one of `roles`; else 401/403."""
    desk = request.app[DESK_KEY]
    if request.app[DEV_KEY] and not len(request.app[TOKENS_KEY]):
        return DEV
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        desk.metrics.auth_failures.labels("missing").inc()
        raise _Refused(401, "missing bearer token (Authorization: Bearer <token>)")
    principal = request.app[TOKENS_KEY].check(token.strip())
    if principal is None:
        desk.metrics.auth_failures.labels("invalid").inc()
        raise _Refused(401, "unknown token")
    if not principal.has(roles):
        desk.metrics.auth_failures.labels("role").inc()
        raise _Refused(403, f"role {principal.role} may not do this (needs {' or '.join(roles)})")
    return principal


class _Refused(DeskError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _unmask(request: web.Request, principal: Principal) -> bool:
    wanted = request.query.get("unmask", "0").lower() in ("1", "true", "yes")
    if wanted and not principal.may_unmask:
        raise _Refused(403, "only the desk role may unmask phone numbers")
    return wanted


def _limit(request: web.Request, default: int = 100, top: int = 1000) -> int:
    raw = request.query.get("limit", str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= top:
        raise Invalid(f"limit must be a whole number from 1 to {top}, got {raw!r}")
    return int(raw)


async def _body(request: web.Request, allowed: tuple[str, ...]) -> dict[str, Any]:
    """The JSON object body (empty allowed); Invalid for bad JSON or unknown fields."""
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise Invalid("body is not valid JSON") from None
    if not isinstance(body, dict):
        raise Invalid("body must be a JSON object")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise Invalid(f"unknown field(s) {', '.join(unknown)} (allowed: {', '.join(allowed)})")
    return body


def _field(body: dict[str, Any], name: str, kind: type, *, required: bool = False) -> Any:
    value = body.get(name)
    if value is None:
        if required:
            raise Invalid(f"missing field {name!r}")
        return None
    numeric = kind is float and isinstance(value, int) and not isinstance(value, bool)
    if not (isinstance(value, kind) and not isinstance(value, bool)) and not numeric:
        raise Invalid(f"{name} must be a {'number' if kind is float else 'string'}")
    return float(value) if numeric else value


# -- handlers ---------------------------------------------------------------------------


async def healthz(request: web.Request) -> web.Response:
    return _json({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    try:
        await _blocking(request.app[DESK_KEY].ping)
    except STORE_ERRORS:
        return _json({"status": "redis unreachable"}, 503)
    return _json({"status": "ready"})


async def metrics(request: web.Request) -> web.Response:
    desk = request.app[DESK_KEY]
    desk.metrics.stream_clients.set(request.app[HUB_KEY].clients)
    return web.Response(
        body=desk.metrics.exposition(), headers={"Content-Type": "text/plain; version=0.0.4"}
    )


async def console(request: web.Request) -> web.Response:
    return web.Response(text=page(), content_type="text/html", charset="utf-8")


async def openapi(request: web.Request) -> web.Response:
    return _json(document())


async def list_alerts(request: web.Request) -> web.Response:
    principal = _principal(request, DESK)
    unmask = _unmask(request, principal)
    state = request.query.get("state", "open")
    if state not in ("open", "all"):
        raise Invalid(f"state must be open or all, got {state!r}")
    records = await _blocking(
        request.app[DESK_KEY].store.ranked, active=state == "open", limit=_limit(request)
    )
    alerts = [r.to_dict() for r in records]
    viewer = {"role": principal.role, "name": principal.name, "unmasked": unmask}
    return _json(
        {"alerts": alerts if unmask else mask(alerts), "count": len(alerts), "viewer": viewer}
    )


async def get_alert(request: web.Request) -> web.Response:
    principal = _principal(request, DESK)
    unmask = _unmask(request, principal)
    detail = await _blocking(request.app[DESK_KEY].detail, request.match_info["alert_id"])
    return _json(detail if unmask else mask(detail))


async def act(request: web.Request) -> web.Response:
    principal = _principal(request, DESK)
    action = request.match_info["action"]
    body = await _body(request, ("by", "reason", "note"))
    desk = request.app[DESK_KEY]
    alert_id = request.match_info["alert_id"]
    await _blocking(
        desk.act,
        alert_id,
        action,
        principal=principal.name,
        by=_field(body, "by", str),
        reason=_field(body, "reason", str),
        note=_field(body, "note", str),
    )
    detail = await _blocking(desk.detail, alert_id)
    return _json(detail if _unmask(request, principal) else mask(detail))


async def list_tasks(request: web.Request) -> web.Response:
    principal = _principal(request, UNITS)
    unmask = _unmask(request, principal)
    raw = request.query.get("status")
    statuses = raw.split(",") if raw else None
    desk = request.app[DESK_KEY]
    tasks = await _blocking(desk.dispatch.tasks, statuses, _limit(request, 200))
    districts = await _blocking(desk.districts)
    return _json(
        {"tasks": tasks if unmask else mask(tasks), "count": len(tasks), "districts": districts}
    )


async def task_status(request: web.Request) -> web.Response:
    principal = _principal(request, ("unit", "admin"))
    body = await _body(request, ("status", "unit_id", "outcome", "lat", "lon", "note"))
    status = _field(body, "status", str, required=True)
    if status not in UNIT_REPORTS:
        raise Invalid(f"status must be one of {', '.join(UNIT_REPORTS)}, got {status!r}")
    task = await _blocking(
        request.app[DESK_KEY].report,
        request.match_info["task_id"],
        status,
        unit_id=_field(body, "unit_id", str, required=principal.role == "unit"),
        outcome=_field(body, "outcome", str),
        lat=_field(body, "lat", float),
        lon=_field(body, "lon", float),
        note=_field(body, "note", str),
    )
    return _json(mask(task))


async def stream(request: web.Request) -> web.StreamResponse:
    principal = _principal(request, DESK)
    unmask = _unmask(request, principal)
    hub = request.app[HUB_KEY]
    last = request.headers.get("Last-Event-ID", "").strip()
    if last:
        try:
            stream_id(last)
        except ValueError:
            raise Invalid(f"Last-Event-ID is not a stream id: {last!r}") from None
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    queue = hub.subscribe()
    desk = request.app[DESK_KEY]
    desk.metrics.stream_clients.set(hub.clients)

    async def send(entry: Entry) -> None:
        data = entry.data if unmask else mask(entry.data)
        await response.write(
            f"id: {entry.id}\nevent: {entry.kind}\ndata: ".encode() + orjson.dumps(data) + b"\n\n"
        )

    try:
        await response.write(b"retry: 2000\n: connected\n\n")
        seen = stream_id(last) if last else (0, 0)
        if last:
            for entry in await _blocking(hub.backlog, last):
                await send(entry)
                seen = stream_id(entry.id)
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), timeout=KEEPALIVE_S)
            except TimeoutError:
                await response.write(b": keepalive\n\n")
                continue
            if item is None:
                break  # dropped (too slow) or shutting down: the client reconnects
            if stream_id(item.id) > seen:
                await send(item)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        hub.unsubscribe(queue)
        desk.metrics.stream_clients.set(hub.clients)
    return response


# -- the app ----------------------------------------------------------------------------


async def _ticker(app: web.Application) -> None:
    """Handles due deadlines (ack timeouts, ladder rungs) every `tick_s`."""
    desk = app[DESK_KEY]
    while True:
        await asyncio.sleep(app[TICK_KEY])
        try:
            await _blocking(desk.tick)
        except STORE_ERRORS:
            desk.metrics.store_errors.labels("tick").inc()
        except Exception:  # a bug in one deadline must not stop every later one
            log.exception("deadline tick failed")


async def _start(app: web.Application) -> None:
    app[TASKS_KEY].extend(
        [asyncio.create_task(app[HUB_KEY].run()), asyncio.create_task(_ticker(app))]
    )


async def _shutdown(app: web.Application) -> None:
    app[HUB_KEY].close()  # ends open streams now instead of at the shutdown timeout


async def _stop(app: web.Application) -> None:
    for task in app[TASKS_KEY]:
        task.cancel()
    for task in app[TASKS_KEY]:
        with contextlib.suppress(asyncio.CancelledError):
            await task


def build_app(
    desk: Desk, tokens: Tokens, *, dev: bool = False, tick_s: float = 1.0
) -> web.Application:
    """The API; refuses to build without tokens unless `dev` (then every caller is `dev`)."""
    if not len(tokens) and not dev:
        raise ValueError("no API tokens: set FW_API_TOKENS=role:token,… (or --dev to run open)")
    app = web.Application(middlewares=[_errors], client_max_size=64 * 1024)
    app[DESK_KEY] = desk
    app[TOKENS_KEY] = tokens
    app[DEV_KEY] = dev
    app[TICK_KEY] = tick_s
    app[HUB_KEY] = StreamHub(desk.client, desk.keys)
    app[TASKS_KEY] = []
    app.on_startup.append(_start)
    app.on_shutdown.append(_shutdown)
    app.on_cleanup.append(_stop)
    r = app.router
    r.add_get("/healthz", healthz)
    r.add_get("/readyz", readyz)
    r.add_get("/metrics", metrics)
    r.add_get("/", console)
    r.add_get("/api/openapi.json", openapi)
    r.add_get("/api/alerts", list_alerts)
    r.add_get("/api/alerts/stream", stream)  # before {alert_id}, which would match "stream"
    r.add_get("/api/alerts/{alert_id}", get_alert)
    r.add_post("/api/alerts/{alert_id}/{action:ack|dismiss|escalate|warned}", act)
    r.add_get("/api/dispatch/tasks", list_tasks)
    r.add_post("/api/dispatch/tasks/{task_id}/status", task_status)
    return app


__all__ = ["ACTIONS", "build_app", "mask"]
