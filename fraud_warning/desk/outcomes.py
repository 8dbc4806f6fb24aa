"""Outcomes close the loop: what the desk and the units found becomes labels.

A label is `1` (fraud confirmed), `0` (not fraud) or `null` (the outcome does not say):

| source   | outcome          | label |
| -------- | ---------------- | ----- |
| dispatch | warned           | 1     |
| dispatch | money_stopped    | 1     |
| dispatch | not_fraud        | 0     |
| dispatch | not_found        | null  |
| desk     | false_positive   | 0     |
| desk     | already_handled  | null  |

`fraud-warning outcomes export` writes one JSON object per alert (the latest outcome wins):
`subscriber` and `label` for training, with the alert, its models and the reason beside
them. The per-model precision report counts, for every `id@version` that paged the desk,
how many of its decided alerts were fraud: the rules that page for nothing sink to the
bottom.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

TASK_LABELS: dict[str, int | None] = {
    "warned": 1,
    "money_stopped": 1,
    "not_fraud": 0,
    "not_found": None,
}
DISMISS_LABELS: dict[str, int | None] = {"false_positive": 0, "already_handled": None}


def model_keys(alert: Mapping[str, Any]) -> list[str]:
    return [f"{m['id']}@{m['version']}" for m in alert.get("models", ())]


def label(
    alert: Mapping[str, Any], *, source: str, outcome: str, by: str, decided_at: str
) -> dict[str, Any]:
    """The outcome record of one alert; `source` is `dispatch` or `desk`."""
    table = TASK_LABELS if source == "dispatch" else DISMISS_LABELS
    return {
        "alert_id": alert["alert_id"],
        "subscriber": alert["subscriber"],
        # as in a feed's labels.jsonl: a number-side alert labels the calling number
        "kind": "fraud_number" if alert["typology"] == "fraud_number" else "victim",
        "label": table.get(outcome),
        "source": source,
        "outcome": outcome,
        "priority": alert["priority"],
        "typology": alert["typology"],
        "score": alert["score"],
        "models": model_keys(alert),
        "event_ts": alert["event_ts"],
        "decided_at": decided_at,
        "by": by,
    }


def export(records: Iterable[Mapping[str, Any]], path: Path, *, unknown: bool = False) -> int:
    """Writes the labels as JSONL, oldest decision first; `unknown` keeps null labels."""
    rows = sorted(
        (r for r in records if unknown or r["label"] is not None),
        key=lambda r: (r["decided_at"], r["alert_id"]),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        for row in rows:
            fh.write(orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE))
    return len(rows)


@dataclass
class ModelPrecision:
    """One model's record on the desk. `precision` is None until something is decided."""

    model: str
    paged: int = 0  # alerts it was part of
    fraud: int = 0
    not_fraud: int = 0
    undecided: int = 0
    reasons: Counter[str] = field(default_factory=Counter)  # dismiss reasons

    @property
    def precision(self) -> float | None:
        decided = self.fraud + self.not_fraud
        return self.fraud / decided if decided else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "paged": self.paged,
            "fraud": self.fraud,
            "not_fraud": self.not_fraud,
            "undecided": self.undecided,
            "precision": self.precision,
            "dismiss_reasons": dict(sorted(self.reasons.items())),
        }


def precision_report(
    outcomes: Iterable[Mapping[str, Any]], alerts: Iterable[Mapping[str, Any]] = ()
) -> list[ModelPrecision]:
    """Per model: alerts paged, decided fraud / not fraud; worst (most not-fraud) first."""
    rows: dict[str, ModelPrecision] = {}

    def row(model: str) -> ModelPrecision:
        return rows.setdefault(model, ModelPrecision(model))

    decided = {}
    for record in outcomes:
        decided[record["alert_id"]] = record
        for model in record["models"]:
            r = row(model)
            if record["label"] == 1:
                r.fraud += 1
            elif record["label"] == 0:
                r.not_fraud += 1
            if record["source"] == "desk":
                r.reasons[record["outcome"]] += 1
    seen = set()
    for alert in alerts:
        seen.add(alert["alert_id"])
        for model in model_keys(alert):
            row(model).paged += 1
    for alert_id, record in decided.items():
        if alert_id not in seen:  # outcome of an alert the store no longer lists
            for model in record["models"]:
                row(model).paged += 1
    for r in rows.values():
        r.undecided = r.paged - r.fraud - r.not_fraud
    return sorted(rows.values(), key=lambda r: (-r.not_fraud, r.precision or 0.0, r.model))


def render(report: list[ModelPrecision]) -> str:
    lines = [f"{'model':<45} {'paged':>6} {'fraud':>6} {'not':>6} {'open':>6} {'precision':>9}"]
    for r in report:
        p = f"{r.precision:.2f}" if r.precision is not None else "-"
        lines.append(
            f"{r.model:<45} {r.paged:>6} {r.fraud:>6} {r.not_fraud:>6} {r.undecided:>6} {p:>9}"
        )
    if len(lines) == 1:
        lines.append("(no alerts yet)")
    return "\n".join(lines)


__all__ = [
    "DISMISS_LABELS",
    "TASK_LABELS",
    "ModelPrecision",
    "export",
    "label",
    "precision_report",
    "render",
]
