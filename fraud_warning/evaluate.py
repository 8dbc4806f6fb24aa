"""Scores an alerts file against a feed generator's labels.

Victim side: which labelled victims got an alert, how many got it before their first
loss and with how much lead time, and how many alerted subscribers were not victims at
all (the false alerts a desk has to work through). Number side: alerts with typology
`fraud_number` name a calling number in `subscriber` and are scored against the
labelled fraud numbers, separately, so they neither help nor hurt victim precision.

Alerts are re-emitted with the same `alert_id` and a higher `revision` as evidence
grows. Timing uses each id's earliest `emitted_at` (when the desk first heard of it);
priority, typology and subscriber come from its highest revision (what the desk saw
last).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

PRIORITIES = ("P1", "P2", "P3")
NUMBER_TYPOLOGY = "fraud_number"
# Label kinds: a line without `kind` (or `victim`) is a victim; others are ignored.
_VICTIM_KINDS = frozenset({None, "victim"})


@dataclass(frozen=True)
class Evaluation:
    """The scores; `to_dict()` keys are a contract (`fraud-warning evaluate --json`).

    Ratios are None when their denominator is zero. `by_priority` counts each alerted
    subscriber once, at the most urgent priority any of its alerts reached, so the rows
    add up to `alerted_subscribers`. `by_typology_recall` counts a victim as alerted by
    any alert, whatever typology the alert named.
    """

    victims: int
    victims_alerted: int
    victims_with_loss: int
    alerted_by_loss: int
    alerted_before_loss: int
    recall: float | None
    recall_by_loss: float | None
    recall_before_loss: float | None
    median_lead_time_s: float | None
    alerted_subscribers: int
    false_alerted_subscribers: int
    precision: float | None
    false_alerts_per_10k_per_day: float
    by_priority: dict[str, dict[str, int]]
    by_typology_recall: dict[str, dict[str, int]]
    fraud_numbers: int
    fraud_numbers_flagged: int
    number_precision: float | None
    number_recall: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def render(self) -> str:
        """A plain-text table for people; `to_dict()` is the form for scripts."""
        lead = "-" if self.median_lead_time_s is None else f"{self.median_lead_time_s:,.0f} s"
        lines = [
            "Victim side",
            _row("victims", self.victims),
            _row("alerted", self.victims_alerted, "recall", self.recall),
            _row("with a loss", self.victims_with_loss),
            _row("alerted by first loss", self.alerted_by_loss, "recall", self.recall_by_loss),
            _row(
                "alerted before loss",
                self.alerted_before_loss,
                "recall before loss",
                self.recall_before_loss,
            ),
            f"  {'median lead time':<24}{lead:>10}",
            _row("alerted subscribers", self.alerted_subscribers, "precision", self.precision),
            _row("false alerted", self.false_alerted_subscribers),
            f"  {'false / 10k subs / day':<24}{self.false_alerts_per_10k_per_day:>10.3f}",
            "",
            f"{'By priority':<26}{'alerted':>8}{'true':>8}{'precision':>11}",
        ]
        for priority, counts in self.by_priority.items():
            ratio = _ratio(counts["true"], counts["alerted"])
            lines.append(
                f"  {priority:<24}{counts['alerted']:>8}{counts['true']:>8}{_pct(ratio):>11}"
            )
        lines += ["", f"{'By typology':<26}{'victims':>8}{'alerted':>8}{'recall':>11}"]
        for typology, counts in self.by_typology_recall.items():
            ratio = _ratio(counts["alerted"], counts["victims"])
            lines.append(
                f"  {typology:<24}{counts['victims']:>8}{counts['alerted']:>8}{_pct(ratio):>11}"
            )
        lines += [
            "",
            "Number side",
            _row("fraud numbers", self.fraud_numbers, "recall", self.number_recall),
            _row("flagged", self.fraud_numbers_flagged, "precision", self.number_precision),
        ]
        return "\n".join(lines)


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _row(label: str, count: int, ratio_name: str = "", ratio: float | None = None) -> str:
    line = f"  {label:<24}{count:>10,}"
    return f"{line}   {ratio_name} {_pct(ratio)}" if ratio_name else line


def _timestamp(value: Any, what: str) -> datetime:
    """An aware datetime from RFC 3339 text (or a datetime, as `model_dump()` gives)."""
    if isinstance(value, str):
        try:
            # fromisoformat accepts the RFC 3339 profile, `Z` included, from Python 3.11.
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{what}: {value!r} is not an RFC 3339 timestamp") from None
    elif isinstance(value, datetime):
        parsed = value
    else:
        raise ValueError(f"{what}: expected an RFC 3339 timestamp, got {value!r}")
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError(f"{what}: {value!r} has no UTC offset")
    return parsed


def _field(record: Mapping[str, Any], name: str, what: str) -> Any:
    if name not in record:
        raise ValueError(f"{what}: missing {name!r}")
    return record[name]


@dataclass(frozen=True, slots=True)
class AlertView:
    """One alert id after folding its revisions."""

    subscriber: str
    priority: str
    typology: str
    revision: int
    first_emitted_at: datetime


def fold_alerts(alerts: Iterable[Mapping[str, Any]]) -> dict[str, AlertView]:
    folded: dict[str, AlertView] = {}
    for n, alert in enumerate(alerts, start=1):
        what = f"alert record {n}"
        alert_id = str(_field(alert, "alert_id", what))
        emitted_at = _timestamp(_field(alert, "emitted_at", what), f"{what} emitted_at")
        revision = alert.get("revision", 1)
        if isinstance(revision, bool) or not isinstance(revision, int):
            raise ValueError(f"{what}: revision must be an integer, got {revision!r}")
        view = AlertView(
            subscriber=str(_field(alert, "subscriber", what)),
            priority=str(_field(alert, "priority", what)),
            typology=str(_field(alert, "typology", what)),
            revision=revision,
            first_emitted_at=emitted_at,
        )
        seen = folded.get(alert_id)
        if seen is None:
            folded[alert_id] = view
            continue
        latest = view if revision > seen.revision else seen
        folded[alert_id] = AlertView(
            subscriber=latest.subscriber,
            priority=latest.priority,
            typology=latest.typology,
            revision=latest.revision,
            first_emitted_at=min(seen.first_emitted_at, emitted_at),
        )
    return folded


def first_alerts(folded: Mapping[str, AlertView]) -> dict[str, datetime]:
    """Victim side: each alerted subscriber's earliest alert (number-side alerts left out).

    The keys are the alerted subscribers `evaluate` counts; `fraud-warning rules test`
    compares them between two rule versions."""
    first: dict[str, datetime] = {}
    for view in folded.values():
        if view.typology == NUMBER_TYPOLOGY:
            continue
        who = view.subscriber
        if who not in first or view.first_emitted_at < first[who]:
            first[who] = view.first_emitted_at
    return first


@dataclass
class LabelledVictim:
    typologies: set[str]
    first_loss_ts: datetime | None


def read_labels(labels: Iterable[Mapping[str, Any]]) -> tuple[dict[str, LabelledVictim], set[str]]:
    """Victims by subscriber and the set of fraud numbers; other kinds are skipped."""
    victims: dict[str, LabelledVictim] = {}
    numbers: set[str] = set()
    for n, label in enumerate(labels, start=1):
        what = f"label record {n}"
        kind = label.get("kind")
        if kind == NUMBER_TYPOLOGY:
            numbers.add(str(_field(label, "number", what)))
            continue
        if kind not in _VICTIM_KINDS:
            continue  # mule accounts and future kinds: no alert type scores them yet
        subscriber = str(_field(label, "subscriber", what))
        raw_loss = label.get("first_loss_ts")
        loss = None if raw_loss is None else _timestamp(raw_loss, f"{what} first_loss_ts")
        typology = str(label.get("typology") or "unknown")
        victim = victims.setdefault(subscriber, LabelledVictim(set(), None))
        victim.typologies.add(typology)
        # A subscriber labelled twice (two scams) lost money first at the earlier loss.
        if loss is not None and (victim.first_loss_ts is None or loss < victim.first_loss_ts):
            victim.first_loss_ts = loss
    return victims, numbers


def evaluate(
    alerts: Iterable[Mapping[str, Any]],
    labels: Iterable[Mapping[str, Any]],
    *,
    subscribers: int,
    days: float,
) -> Evaluation:
    """Scores `alerts` (Alert contract records) against generator `labels`.

    `subscribers` and `days` are the size and span of the feed, the denominator of the
    false-alert rate. Raises ValueError naming the record on a malformed alert or label.
    """
    if subscribers <= 0:
        raise ValueError(f"subscribers must be > 0, got {subscribers}")
    if days <= 0:
        raise ValueError(f"days must be > 0, got {days}")
    folded = fold_alerts(alerts)
    victims, fraud_numbers = read_labels(labels)

    first_alert = first_alerts(folded)
    top_priority: dict[str, str] = {}
    flagged_numbers: set[str] = set()
    for view in folded.values():
        if view.typology == NUMBER_TYPOLOGY:
            flagged_numbers.add(view.subscriber)
            continue
        who = view.subscriber
        # "P1" < "P2" < "P3" as strings, and the most urgent is the smallest.
        if who not in top_priority or view.priority < top_priority[who]:
            top_priority[who] = view.priority

    with_loss = {s: v.first_loss_ts for s, v in victims.items() if v.first_loss_ts is not None}
    # "by" the loss includes an alert raised by the first loss transfer itself (a bank can
    # still hold it); "before" means warned while no money had moved yet
    by_loss = [s for s, loss in with_loss.items() if s in first_alert and first_alert[s] <= loss]
    lead_times_s = [
        (with_loss[s] - first_alert[s]).total_seconds()
        for s in by_loss
        if first_alert[s] < with_loss[s]
    ]
    victims_alerted = sum(1 for s in victims if s in first_alert)
    false_alerted = sum(1 for s in first_alert if s not in victims)

    by_priority = {p: {"alerted": 0, "true": 0} for p in PRIORITIES}
    for who, priority in sorted(top_priority.items()):
        counts = by_priority.setdefault(priority, {"alerted": 0, "true": 0})
        counts["alerted"] += 1
        counts["true"] += who in victims

    by_typology: dict[str, dict[str, int]] = {}
    for who, victim in victims.items():
        for typology in victim.typologies:
            counts = by_typology.setdefault(typology, {"victims": 0, "alerted": 0})
            counts["victims"] += 1
            counts["alerted"] += who in first_alert

    numbers_hit = len(flagged_numbers & fraud_numbers)
    return Evaluation(
        victims=len(victims),
        victims_alerted=victims_alerted,
        victims_with_loss=len(with_loss),
        alerted_by_loss=len(by_loss),
        alerted_before_loss=len(lead_times_s),
        recall=_ratio(victims_alerted, len(victims)),
        recall_by_loss=_ratio(len(by_loss), len(with_loss)),
        recall_before_loss=_ratio(len(lead_times_s), len(with_loss)),
        median_lead_time_s=statistics.median(lead_times_s) if lead_times_s else None,
        alerted_subscribers=len(first_alert),
        false_alerted_subscribers=false_alerted,
        precision=_ratio(len(first_alert) - false_alerted, len(first_alert)),
        false_alerts_per_10k_per_day=false_alerted / subscribers * 10_000 / days,
        by_priority=by_priority,
        by_typology_recall=dict(sorted(by_typology.items())),
        fraud_numbers=len(fraud_numbers),
        fraud_numbers_flagged=numbers_hit,
        number_precision=_ratio(numbers_hit, len(flagged_numbers)),
        number_recall=_ratio(numbers_hit, len(fraud_numbers)),
    )


def load_jsonl(path: Path | str) -> Iterator[dict[str, Any]]:
    """Yields each JSON object in a JSON Lines file, skipping blank lines.

    Raises ValueError(`path:line: not valid JSON`) on a bad line; OSError if unreadable.
    """
    with Path(path).open("rb") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                raise ValueError(f"{path}:{lineno}: not valid JSON") from None
            if not isinstance(record, dict):
                raise ValueError(f"{path}:{lineno}: expected a JSON object")
            yield record


def feed_meta(labels_path: Path | str) -> tuple[int, float] | None:
    """(subscribers, days) from the `meta.json` beside a labels file; None if it is absent.

    The generator writes `{"subscribers": N, "hours": H, ...}`; a malformed file raises
    ValueError rather than silently skewing the false-alert rate.
    """
    meta_path = Path(labels_path).parent / "meta.json"
    try:
        raw = meta_path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        meta = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ValueError(f"{meta_path}: not valid JSON") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{meta_path}: expected a JSON object")
    subscribers, hours = meta.get("subscribers"), meta.get("hours")
    if isinstance(subscribers, bool) or not isinstance(subscribers, int) or subscribers <= 0:
        raise ValueError(f"{meta_path}: 'subscribers' must be a positive integer")
    if isinstance(hours, bool) or not isinstance(hours, int | float):
        raise ValueError(f"{meta_path}: 'hours' must be a positive number")
    if not (math.isfinite(hours) and hours > 0):
        raise ValueError(f"{meta_path}: 'hours' must be a positive number")
    return subscribers, float(hours) / 24.0


__all__ = [
    "NUMBER_TYPOLOGY",
    "PRIORITIES",
    "AlertView",
    "Evaluation",
    "LabelledVictim",
    "evaluate",
    "feed_meta",
    "first_alerts",
    "fold_alerts",
    "load_jsonl",
    "read_labels",
]
