"""The engine: decode → join → features → models → risk → rank → dispatch, per batch.

One object, no broker: the embedded runner feeds it batches from a file, the Faust
agents feed it batches from topics. Processing is in event time: windows, re-alert
windows and dispatch deadlines read event timestamps, never the wall clock, so the
same events in the same order give the same alerts and tasks, whatever the batching.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from fraud_warning.admission import Admission, AdmissionConfig
from fraud_warning.alerting import FRAUD_NUMBER, Alerter, Output, Trigger
from fraud_warning.clock import Clock
from fraud_warning.decode import Decoded
from fraud_warning.dispatch import Dispatcher
from fraud_warning.epoch import Epochs
from fraud_warning.features import CATALOGUE, FeatureConfig
from fraud_warning.join import Joiner
from fraud_warning.metrics import Metrics
from fraud_warning.rank import IncidentBook
from fraud_warning.refdata import RefData
from fraud_warning.registry import Registry
from fraud_warning.risk import Verdict
from fraud_warning.routing import Row, route
from fraud_warning.scoring import Models
from fraud_warning.state import StateStore
from fraud_warning.wire import WireEvent


@dataclass(frozen=True)
class EngineConfig:
    allowed_lateness_s: float = 600.0  # older than watermark − this: dead-lettered as late
    max_ahead_s: float = 7 * 86_400.0  # newer than watermark + this: a broken clock

    def admission(self) -> Admission:
        return Admission(AdmissionConfig(self.allowed_lateness_s, self.max_ahead_s))

    state_retention_s: float = 26 * 3600.0  # idle keys are evicted after this
    incident_ttl_s: float = 12 * 3600.0  # an incident with no new evidence closes
    housekeeping_every_s: float = 600.0  # event-time interval between eviction sweeps


class Engine:
    def __init__(
        self,
        registry: Registry,
        refdata: RefData | None = None,
        *,
        dispatcher: Dispatcher | None = None,
        metrics: Metrics | None = None,
        config: EngineConfig | None = None,
        features: FeatureConfig | None = None,
        clock: Clock | None = None,
    ) -> None:
        """`clock=None` stamps `emitted_at` with event time (deterministic replays);
        a live runner passes a wall clock."""
        self.registry = registry
        self.refdata = refdata or RefData.empty()
        self.config = config or EngineConfig()
        self.metrics = metrics or Metrics()
        self.store = StateStore(self.config.state_retention_s)
        self.joiner = Joiner(
            self.store, self.refdata, wanted_kinds(registry), features, registry.windows
        )
        self.models = Models(registry, self.metrics)
        self.alerter = Alerter(
            registry,
            self.refdata,
            self.metrics,
            incident_ttl_s=self.config.incident_ttl_s,
            dispatcher=dispatcher,
            clock=clock,
        )
        self.admission = self.config.admission()
        self.epochs = Epochs()  # event times to epoch seconds, the last one remembered
        self.watermark = float("-inf")
        self._seq = 0
        self._next_housekeeping = float("-inf")
        self._next_size_estimate = float("-inf")
        self._estimated_at_seq = -SIZE_ESTIMATE_EVENTS  # so the first housekeeping estimates
        self._m_events = {t: self.metrics.events.labels(t) for t in ("call", "sms", "transfer")}

    def swap_registry(self, registry: Registry) -> None:
        """Activate another registry between two batches, keeping all state.

        The state store, open incidents (with their re-alert clocks), the watermark and
        the admission's duplicate memory stay as they are; what is rebuilt is what the
        registry decides: which trigger rows the joiner builds and their event gates, the
        models (and their metric children), and the per-model re-alert windows. A rule
        added by the swap therefore sees events that arrived before it, within its
        windows. Call it from the thread that calls `process`, never during a batch.
        Loading and validating the new registry is the caller's (see
        :class:`fraud_warning.reload.RegistryWatcher`); this only activates it.
        """
        models = Models(registry, self.metrics)
        wanted = wanted_kinds(registry)
        self.registry = registry
        self.models = models
        self.joiner.set_wanted(wanted, registry.windows)
        self.alerter.set_registry(registry)

    @property
    def victims(self) -> IncidentBook:
        return self.alerter.victims

    @property
    def numbers(self) -> IncidentBook:
        return self.alerter.numbers

    # -- the batch ---------------------------------------------------------------------

    def process(self, batch: Sequence[Decoded], source: str = "-") -> Output:
        """Run one batch of decoded events through every stage."""
        started = time.perf_counter()
        out = Output()
        routed = route(self, batch, source, out, self.joiner, self.admission, self.store.victims)
        for name, n in (
            ("call", routed.calls),
            ("sms", routed.sms),
            ("transfer", routed.transfers),
        ):
            if n:
                self._m_events[name].inc(n)
        self.models.count_number_rows()
        self.store.sweep(self.watermark, len(batch))  # idle keys, a slice paced by event time
        joined = time.perf_counter()

        hits = routed.hits
        values = routed.values
        for trigger, trigger_rows in routed.rows.items():
            hits.extend(self._evaluate(trigger, trigger_rows, values[trigger], out))
        hits.sort(key=lambda h: h[0])
        modelled = time.perf_counter()

        alerter = self.alerter
        for _seq, row, verdicts in hits:
            at = Trigger.of(row.event, row.ts)
            alerter.emit(row.subscriber, at, row.watermark, row.cell, verdicts, out)
        done = time.perf_counter()

        m = self.metrics
        m.stage.labels("join").observe(joined - started)
        m.stage.labels("models").observe(modelled - joined)
        m.stage.labels("rank").observe(done - modelled)
        for dl in out.dead:
            m.dead.labels(dl.reason).inc()
        m.open_alerts.set(self.alerter.open_incidents)
        return out

    # -- models ------------------------------------------------------------------------

    def _number_verdicts(
        self, row: list[float], number: str, ev: WireEvent, ts: float, kind: str, out: Output
    ) -> list[Verdict]:
        fired = self.models.number(row, kind)
        if fired.shadow:
            out.add_shadow(kind, number, Trigger.of(ev, ts), fired.shadow)
        if fired.pages:
            state = self.store.numbers.get(number, ts)
            if state is not None and not state.flagged(ts):
                state.flagged_at = self.store.flags[number] = ts
        return fired.pages

    def _evaluate(
        self, kind: str, rows: list[Row], values: list[list[float]], out: Output
    ) -> list[tuple[int, Row, list[Verdict]]]:
        per_row, shadow = self.models.evaluate(kind, values)
        for i in sorted(shadow):
            row = rows[i]
            out.add_shadow(kind, row.subscriber, Trigger.of(row.event, row.ts), shadow[i])
        return [(rows[i].seq, rows[i], v) for i, v in per_row.items()]

    def _housekeeping(self, watermark: float) -> None:
        self.alerter.expire(watermark)
        self.store.expire_flags(watermark)
        for side, n in self.store.sizes().items():
            self.metrics.state_keys.labels(side).set(n)
        self.metrics.admitted_ids.set(len(self.admission.ids))
        if (
            watermark >= self._next_size_estimate
            and self._seq - self._estimated_at_seq >= SIZE_ESTIMATE_EVENTS
        ):
            # deep sizes are slow (a fraud number holds a thousand callees): hourly, sampled,
            # and not more often than the events allow (a replay crosses hours in moments)
            self._estimated_at_seq = self._seq
            for side, n in self.store.estimate_bytes().items():
                self.metrics.state_bytes.labels(side).set(n)
            self._next_size_estimate = watermark + 3600.0
        self._next_housekeeping = watermark + self.config.housekeeping_every_s


#: Events between two state-size estimates, at least (see Engine._housekeeping).
SIZE_ESTIMATE_EVENTS = 200_000

#: Per trigger kind, the feature read straight off the event: its gate is checked before
#: any state is read, so a short call or a small transfer costs no feature work.
EVENT_GATES = {"call": "call_duration_s", "transfer": "amount_cny"}


def wanted_kinds(registry: Registry) -> dict[str, float]:
    """Trigger kinds with models, each with the least gate value any of its models needs."""
    wanted: dict[str, float] = {}
    for kind, rules in registry.by_kind.items():
        if not rules:
            continue
        name = EVENT_GATES.get(kind)
        index = CATALOGUE[kind].index(name) if name else -1
        wanted[kind] = dict(registry.gate(kind)).get(index, float("-inf"))
    for kind, scorers in registry.scorers.items():
        if scorers:  # a scorer reads every row above its own prefilter, not the rules' gate
            gate = min(scorer.event_gate(EVENT_GATES.get(kind)) for scorer in scorers)
            wanted[kind] = min(wanted.get(kind, gate), gate)
    return wanted


__all__ = ["FRAUD_NUMBER", "Engine", "EngineConfig", "Output", "wanted_kinds"]
