"""The API's OpenAPI 3.1 document, served at `/api/openapi.json`.

Alert and task schemas come from the wire contracts (pydantic), so the document cannot
drift from what `fraud-warning schema` prints.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from fraud_warning import __version__
from fraud_warning.contracts import json_schema
from fraud_warning.desk.actions import DISMISS_REASONS
from fraud_warning.desk.dispatcher import OUTCOMES, UNIT_REPORTS

_ERRORS = {
    "400": {"$ref": "#/components/responses/Invalid"},
    "401": {"$ref": "#/components/responses/Unauthorized"},
    "403": {"$ref": "#/components/responses/Forbidden"},
    "404": {"$ref": "#/components/responses/NotFound"},
    "409": {"$ref": "#/components/responses/Conflict"},
    "503": {"$ref": "#/components/responses/Unavailable"},
}
_UNMASK = {
    "name": "unmask",
    "in": "query",
    "schema": {"type": "boolean", "default": False},
    "description": "show full phone numbers (desk role only)",
}
_LIMIT = {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1}}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _op(summary: str, roles: str, ok: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "summary": summary,
        "description": f"Roles: {roles}.",
        "responses": {"200": ok, **_ERRORS},
        **extra,
    }


def _body(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    return {"required": bool(required), "content": {"application/json": {"schema": schema}}}


def _path_id(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


@cache
def document() -> dict[str, Any]:
    text = {"type": "string", "maxLength": 500}
    alert = {"$ref": "#/components/schemas/DeskAlert"}
    task = {"$ref": "#/components/schemas/DeskTask"}
    action_body = _body({"by": text, "note": text, "reason": {"enum": list(DISMISS_REASONS)}})
    paths: dict[str, Any] = {
        "/healthz": {
            "get": {
                "summary": "liveness",
                "security": [],
                "responses": {"200": {"description": "alive"}},
            }
        },
        "/readyz": {
            "get": {
                "summary": "ready when Redis answers",
                "security": [],
                "responses": {
                    "200": {"description": "ready"},
                    "503": {"description": "Redis unreachable"},
                },
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus exposition",
                "security": [],
                "responses": {"200": {"description": "text/plain"}},
            }
        },
        "/": {
            "get": {
                "summary": "the desk console (HTML)",
                "security": [],
                "responses": {"200": {"description": "text/html"}},
            }
        },
        "/api/openapi.json": {
            "get": {
                "summary": "this document",
                "security": [],
                "responses": {"200": {"description": "OpenAPI 3.1"}},
            }
        },
        "/api/alerts": {
            "get": _op(
                "the ranked alert queue (priority, score, urgency, vulnerability)",
                "desk, admin",
                _json(
                    {
                        "type": "object",
                        "properties": {
                            "alerts": {"type": "array", "items": alert},
                            "count": {"type": "integer"},
                            "viewer": {"type": "object"},
                        },
                    }
                ),
                parameters=[
                    {
                        "name": "state",
                        "in": "query",
                        "schema": {"enum": ["open", "all"], "default": "open"},
                    },
                    _LIMIT,
                    _UNMASK,
                ],
            )
        },
        "/api/alerts/stream": {
            "get": _op(
                "live changes as Server-Sent Events (event: alert | task | ladder; id: stream id)",
                "desk, admin",
                {"description": "text/event-stream", "content": {"text/event-stream": {}}},
                parameters=[
                    {"name": "Last-Event-ID", "in": "header", "schema": {"type": "string"}},
                    _UNMASK,
                ],
            )
        },
        "/api/alerts/{alert_id}": {
            "get": _op(
                "one alert with its actions, ladder and task",
                "desk, admin",
                _json(alert),
                parameters=[_path_id("alert_id"), _UNMASK],
            )
        },
        "/api/dispatch/tasks": {
            "get": _op(
                "dispatch tasks (newest first) and the district summary",
                "unit, desk, admin",
                _json(
                    {
                        "type": "object",
                        "properties": {
                            "tasks": {"type": "array", "items": task},
                            "count": {"type": "integer"},
                            "districts": {"type": "array"},
                        },
                    }
                ),
                parameters=[
                    {
                        "name": "status",
                        "in": "query",
                        "schema": {"type": "string"},
                        "description": "comma-separated statuses",
                    },
                    _LIMIT,
                    _UNMASK,
                ],
            )
        },
        "/api/dispatch/tasks/{task_id}/status": {
            "post": _op(
                "a unit reports on its task",
                "unit (unit_id required), admin",
                _json(task),
                parameters=[_path_id("task_id")],
                requestBody=_body(
                    {
                        "status": {"enum": list(UNIT_REPORTS)},
                        "unit_id": {"type": "string"},
                        "outcome": {"enum": list(OUTCOMES), "description": "with resolved"},
                        "lat": {"type": "number"},
                        "lon": {"type": "number"},
                        "note": text,
                    },
                    ["status"],
                ),
            )
        },
    }
    for action, what in (
        ("ack", "acknowledge"),
        ("dismiss", "dismiss with a reason"),
        ("escalate", "escalate: send a unit at the P1 target"),
        ("warned", "mark the subscriber warned by phone"),
    ):
        paths[f"/api/alerts/{{alert_id}}/{action}"] = {
            "post": _op(
                what,
                "desk, admin",
                _json(alert),
                parameters=[_path_id("alert_id")],
                requestBody=action_body,
            )
        }
    error = _json(
        {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}
    )
    return {
        "openapi": "3.1.0",
        "info": {"title": "fraud_warning desk API", "version": __version__},
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "DeskAlert": {
                    "description": "The alert contract plus `desk` (state, district, …); "
                    "the detail adds actions, ladder and task.",
                    "allOf": [
                        json_schema("alert"),
                        {"type": "object", "properties": {"desk": {"type": "object"}}},
                    ],
                },
                "DeskTask": {
                    "description": "The task contract plus history, district, reason and outcome.",
                    "allOf": [json_schema("task")],
                },
            },
            "responses": {
                "Invalid": {**error, "description": "bad input; the message names the field"},
                "Unauthorized": {**error, "description": "no bearer token or an unknown one"},
                "Forbidden": {**error, "description": "the token's role may not do this"},
                "NotFound": {**error, "description": "no such alert or task"},
                "Conflict": {**error, "description": "not allowed in the current state"},
                "Unavailable": {**error, "description": "Redis unreachable; retry"},
            },
        },
    }


__all__ = ["document"]
