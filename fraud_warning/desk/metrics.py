"""The desk's Prometheus metrics, behind an injected registry like the engine's.

Labels are small closed sets: priorities, actions, task events, ladder steps, districts
(from the police units file, a dozen or so) and API routes. Never a phone number, alert
id or unit id.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# Dispatch-to-arrival: 1 to 20 minutes around the 5-minute door target.
ARRIVAL_BUCKETS = (60, 120, 180, 240, 300, 360, 480, 600, 900, 1200)
REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


class DeskMetrics:
    """Desk, dispatch and API metrics. Each says what to look at when it moves."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        # result="stale" high: producers re-send (at-least-once); fine unless it dominates
        self.alerts_stored = Counter(
            "fraud_warning_desk_alerts_stored",
            "Alerts written to the desk store, by outcome (new, revised, stale)",
            ["priority", "result"],
            registry=r,
        )
        # dismiss with reason=false_positive climbing: a rule pages for nothing
        self.actions = Counter(
            "fraud_warning_desk_actions",
            "Desk actions on alerts",
            ["action", "reason"],
            registry=r,
        )
        self.open_alerts = Gauge(
            "fraud_warning_desk_open_alerts", "Alerts waiting on the desk", registry=r
        )
        # reassigned rising: units do not acknowledge within the timeout
        self.task_events = Counter(
            "fraud_warning_desk_task_events",
            "Dispatch task events (created, escalated, reassigned, acknowledged, on_scene, "
            "resolved)",
            ["event"],
            registry=r,
        )
        # the SLA: p90 above 300 s or on_time="false" rising means too few units
        self.arrival = Histogram(
            "fraud_warning_dispatch_arrival_seconds",
            "Task creation to the unit on scene",
            ["district"],
            buckets=ARRIVAL_BUCKETS,
            registry=r,
        )
        self.arrivals = Counter(
            "fraud_warning_dispatch_arrivals",
            "Units on scene, by whether they beat the target arrival",
            ["district", "on_time"],
            registry=r,
        )
        # expired rising on sms/phone: the desk is not keeping up with the ladder
        self.ladder = Counter(
            "fraud_warning_desk_ladder_steps",
            "Escalation-ladder steps (opened, answered, expired)",
            ["step", "event"],
            registry=r,
        )
        # non-zero for long: Redis is away and alerts wait in memory
        self.buffered = Gauge(
            "fraud_warning_desk_buffered_writes",
            "Writes held in memory while Redis is unreachable",
            registry=r,
        )
        self.store_errors = Counter(
            "fraud_warning_desk_store_errors",
            "Redis calls that failed with a connection or timeout error",
            ["op"],
            registry=r,
        )
        self.requests = Counter(
            "fraud_warning_api_requests",
            "API requests by route template and status code",
            ["route", "status"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "fraud_warning_api_request_seconds",
            "API request handling time",
            ["route"],
            buckets=REQUEST_BUCKETS,
            registry=r,
        )
        # rising invalid: someone is guessing tokens
        self.auth_failures = Counter(
            "fraud_warning_api_auth_failures",
            "Requests refused by authentication or role",
            ["reason"],
            registry=r,
        )
        self.stream_clients = Gauge(
            "fraud_warning_api_stream_clients", "Live-stream (SSE) clients connected", registry=r
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


__all__ = ["ARRIVAL_BUCKETS", "DeskMetrics"]
