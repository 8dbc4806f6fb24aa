"""Prometheus metrics behind an injected registry; labels are small closed sets.

Never a phone number, account or cell id as a label: model ids, event types,
dead-letter reasons, priorities, typologies and statuses only.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from fraud_warning.model_stats import ModelStats

# 1 ms .. 60 s: from a hot batch to a stuck pipeline.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    """The engine's metrics. Each says what to look at when it moves."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        # falls to zero: the feed stopped; per type shows a missing upstream
        self.events = Counter(
            "fraud_warning_events_consumed", "Events decoded and processed", ["type"], registry=r
        )
        # rises: an upstream sends bad records; the reason says which kind
        self.dead = Counter(
            "fraud_warning_events_dead_lettered",
            "Records rejected to the dead letter",
            ["reason"],
            registry=r,
        )
        # a model firing far more than its peers pages the desk for nothing; one far slower
        # than its peers needs a look: fraud_warning_model_evaluations_total,
        # fraud_warning_model_hits_total and fraud_warning_model_seconds, counted per batch
        # for all the rules evaluated together (see fraud_warning.model_stats)
        self.models = ModelStats(r, LATENCY_BUCKETS)
        self.alerts = Counter(
            "fraud_warning_alerts",
            "Alert emissions (new incidents and revisions)",
            ["priority", "typology"],
            registry=r,
        )
        self.open_alerts = Gauge(
            "fraud_warning_open_alerts", "Incidents open on the desk", registry=r
        )
        self.tasks = Counter(
            "fraud_warning_dispatch_tasks", "Dispatch tasks created", ["status"], registry=r
        )
        # p99 above 1 s: warnings come too late to stop the money
        self.processing = Histogram(
            "fraud_warning_processing_latency_seconds",
            "Wall time from a record's arrival to the end of its batch",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        # event time -> alert emitted (wall clock in live runners; lag behind the watermark
        # in event-time replays): above 1 s the warning may come after the money left
        self.event_to_alert = Histogram(
            "fraud_warning_event_to_alert_seconds",
            "From the triggering event's time to the alert leaving the engine",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.stage = Histogram(
            "fraud_warning_stage_seconds",
            "Wall time per batch and stage",
            ["stage"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        # grows without bound: eviction is not keeping up
        self.state_keys = Gauge(
            "fraud_warning_state_keys", "Keys held in state", ["side"], registry=r
        )

        # grows while keys stay flat: per-key containers are not capped as they should be
        self.state_bytes = Gauge(
            "fraud_warning_state_bytes",
            "Estimated bytes of state (sampled per-key size x keys)",
            ["side"],
            registry=r,
        )
        # follows events per second x the allowed lateness; 56-112 bytes each
        # (fraud_warning/admitted.py): size the worker's memory by it
        self.admitted_ids = Gauge(
            "fraud_warning_admitted_ids",
            "Event ids held to refuse re-sent records (those admitted within the lateness)",
            registry=r,
        )
        # 1: a flood of bad records tripped the breaker and input waits for an operator
        self.input_paused = Gauge(
            "fraud_warning_input_paused",
            "1 while the bad-input breaker holds the input (resume: SIGUSR1 to the worker)",
            registry=r,
        )
        # rising: the worker falls behind its input; flat while events stop: a silent feed
        self.consumer_lag = Gauge(
            "fraud_warning_consumer_lag",
            "Records on a partition the worker has not taken yet (distributed runner)",
            ["topic", "partition"],
            registry=r,
        )
        # result="ok" | "failure" (fraud_warning.reload.RegistryWatcher); a failure: a rule
        # file was refused and the previous registry kept running
        self.rule_reloads = Counter(
            "fraud_warning_rule_reloads",
            "Registry reloads by result",
            ["result"],
            registry=r,
        )

        self._checkpoints: CheckpointMetrics | None = None

    @property
    def checkpoints(self) -> CheckpointMetrics:
        """The checkpoint metrics, registered on first use: only a runner that checkpoints
        (the worker with `--state-redis`) exposes them; in `score` they would only ever
        read zero."""
        if self._checkpoints is None:
            self._checkpoints = CheckpointMetrics(self.registry)
        return self._checkpoints

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class CheckpointMetrics:
    """Task checkpoints in the state Redis (the distributed worker)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        # rising: the state Redis is unreachable or refusing writes. Processing and alerts
        # go on, but a crash now re-reads everything since the last good checkpoint.
        # operation="write" (one stage's checkpoint) | "restore" (loading a task)
        self.failures = Counter(
            "fraud_warning_checkpoint_failures",
            "Checkpoint writes and task restores that failed (state Redis unreachable)",
            ["operation"],
            registry=registry,
        )
        # alert on time() minus this: checkpoints stopped landing (a hung Redis fails
        # slowly, so the failure counter alone can stay flat for a while)
        self.last_success = Gauge(
            "fraud_warning_checkpoint_last_success_timestamp_seconds",
            "Unix time of the last checkpoint written to the state Redis",
            registry=registry,
        )


__all__ = ["LATENCY_BUCKETS", "CheckpointMetrics", "Metrics"]
