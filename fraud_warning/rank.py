"""Rank and dedup stage: one open incident per subscriber, updated by new evidence.

Every model that fires on a subscriber joins the same incident: the strongest names the
typology, the most urgent sets the priority. The alert is re-emitted
(same `alert_id`, next `revision`) only when the evidence changes what a desk would do:
a higher priority, a higher score, or a model that had not fired yet. A model that fires
again inside its re-alert window is absorbed silently.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from fraud_warning.risk import Verdict, combined_score, strongest
from fraud_warning.rules import PRIORITY_RANK

MAX_EVIDENCE = 32
SCORE_STEP = 0.01  # smaller score changes do not re-page the desk


@dataclass
class Incident:
    alert_id: str
    subscriber: str
    opened_ts: float
    last_ts: float
    revision: int = 0
    score: float = 0.0
    priority: str = "P3"
    typology: str = ""
    event_ts: float = 0.0
    money_cny: float = 0.0
    models: dict[str, Verdict] = field(default_factory=dict)
    last_fired: dict[str, float] = field(default_factory=dict)
    evidence: list[str] = field(default_factory=list)

    def rank_key(self) -> tuple[int, float, float, float]:
        """Sort key: priority, then score, money at stake, and recency of evidence."""
        return (PRIORITY_RANK[self.priority], -self.score, -self.money_cny, -self.last_ts)


def alert_id_for(subscriber: str, opening_event_id: str) -> str:
    digest = hashlib.blake2b(f"{subscriber}|{opening_event_id}".encode(), digest_size=10)
    return "A-" + digest.hexdigest()


class IncidentBook:
    """Open incidents by subscriber; closes an incident after `ttl_s` without evidence."""

    def __init__(self, ttl_s: float = 12 * 3600.0) -> None:
        self.ttl_s = ttl_s
        self.open: dict[str, Incident] = {}

    def update(
        self,
        subscriber: str,
        verdicts: list[Verdict],
        realert_s: dict[str, float],
        event_id: str,
        ts: float,
        money_cny: float,
    ) -> Incident | None:
        """Add evidence; returns the incident when it should be (re-)emitted."""
        if not verdicts:
            return None  # nothing fired: no evidence, and no empty incident left open
        incident = self.open.get(subscriber)
        if incident is not None and ts - incident.last_ts > self.ttl_s:
            incident = None
        if incident is None:
            incident = Incident(alert_id_for(subscriber, event_id), subscriber, ts, ts)
            self.open[subscriber] = incident
        fired = incident.last_fired
        fresh = [
            v
            for v in verdicts
            if v.model_id not in fired or ts - fired[v.model_id] >= realert_s.get(v.model_id, 0.0)
        ]
        incident.last_ts = max(incident.last_ts, ts)  # absorbed evidence keeps it open
        if not fresh:
            return None
        joined = any(v.model_id not in incident.models for v in fresh)
        for v in fresh:
            incident.last_fired[v.model_id] = ts
            held = incident.models.get(v.model_id)
            if held is None or v.score >= held.score:
                incident.models[v.model_id] = v
        incident.money_cny += money_cny
        if event_id not in incident.evidence and len(incident.evidence) < MAX_EVIDENCE:
            incident.evidence.append(event_id)
        models = list(incident.models.values())
        score = combined_score([v.score for v in models])
        # the most urgent model sets the priority (a met P1 condition dispatches even when a
        # higher-scoring P2 model fired too); the strongest names the typology
        priority = min((v.priority for v in models), key=PRIORITY_RANK.__getitem__)
        raised = (
            incident.revision == 0
            or PRIORITY_RANK[priority] < PRIORITY_RANK[incident.priority]
            or score >= incident.score + SCORE_STEP
            or joined
        )
        incident.score = max(incident.score, score)
        incident.priority = priority
        incident.typology = strongest(models).typology
        if not raised:
            return None
        incident.revision += 1
        incident.event_ts = ts
        return incident

    def expire(self, watermark: float) -> int:
        """Close incidents idle for longer than the TTL."""
        stale = [s for s, i in self.open.items() if watermark - i.last_ts > self.ttl_s]
        for s in stale:
            del self.open[s]
        return len(stale)

    def top(self, n: int) -> list[Incident]:
        return sorted(self.open.values(), key=Incident.rank_key)[:n]


__all__ = ["Incident", "IncidentBook", "alert_id_for"]
