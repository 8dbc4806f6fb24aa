"""The alert store on Redis: one hash per alert, a ranked open queue and a live stream.

Writes are idempotent by `alert_id`: delivery is at-least-once and incidents are re-emitted
with higher revisions, so a put keeps the highest revision and ignores the same or an older
one (no second stream entry either). Every check-then-write runs under WATCH/MULTI, so
several workers and a replay after a Redis outage cannot interleave into a duplicate.

A dismissed or closed alert whose new revision is more urgent than the one the desk
closed is reopened: new evidence raised it, and the desk must look again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar

import orjson
import redis
from redis.client import Pipeline

from fraud_warning.clock import to_datetime
from fraud_warning.contracts import Alert
from fraud_warning.desk.errors import Conflict, Invalid, NotFound
from fraud_warning.desk.keys import Keys
from fraud_warning.desk.ranking import RankFields, rank_key, rank_token, token_alert_id
from fraud_warning.rules import PRIORITY_RANK

ACTIVE_STATES = ("open", "acknowledged", "escalated")
CLOSED_STATES = ("warned", "dismissed", "resolved")
STREAM_MAXLEN = 10_000  # the console needs minutes of history, not days

PutResult = Literal["new", "revised", "stale"]
_T = TypeVar("_T")


def text(value: bytes | str) -> str:
    """redis-py types replies as bytes or str; the desk's clients decode, so this is str."""
    return value.decode() if isinstance(value, bytes) else value


def text_map(fields: Mapping[Any, Any]) -> dict[str, str]:
    return {text(k): text(v) for k, v in fields.items()}


def texts(values: Iterable[Any]) -> list[str]:
    return [text(v) for v in values]


def dumps(obj: object) -> str:
    return orjson.dumps(obj).decode()


def epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def iso(ts: float) -> str:
    return to_datetime(ts).isoformat()


@dataclass(frozen=True)
class AlertRecord:
    """An alert's highest revision (`alert`, contract form) and its desk state."""

    alert: dict[str, Any]
    state: str
    elderly: bool
    district: str
    first_seen: float
    updated: float
    dismiss_reason: str | None = None

    @property
    def alert_id(self) -> str:
        return str(self.alert["alert_id"])

    @property
    def priority(self) -> str:
        return str(self.alert["priority"])

    @property
    def subscriber(self) -> str:
        return str(self.alert["subscriber"])

    def rank_fields(self) -> RankFields:
        return RankFields(
            self.alert_id,
            self.priority,
            float(self.alert["score"]),
            epoch(self.alert["event_ts"]),
            self.elderly,
        )

    def to_dict(self) -> dict[str, Any]:
        """The alert as the API shows it: contract fields plus a `desk` block."""
        return {
            **self.alert,
            "desk": {
                "state": self.state,
                "elderly": self.elderly,
                "district": self.district,
                "first_seen": iso(self.first_seen),
                "updated": iso(self.updated),
                "dismiss_reason": self.dismiss_reason,
            },
        }

    @classmethod
    def from_hash(cls, fields: Mapping[str, str]) -> AlertRecord:
        return cls(
            alert=orjson.loads(fields["doc"]),
            state=fields["state"],
            elderly=fields.get("elderly") == "1",
            district=fields.get("district", "unknown"),
            first_seen=float(fields["first_seen"]),
            updated=float(fields["updated"]),
            dismiss_reason=fields.get("dismiss_reason") or None,
        )


def normalise(alert: Mapping[str, Any]) -> dict[str, Any]:
    """Validates an alert against the contract; raises Invalid naming the first problem."""
    from pydantic import ValidationError

    try:
        return Alert.model_validate(dict(alert)).model_dump(mode="json")
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "alert"
        raise Invalid(f"invalid alert: {where}: {first['msg']}") from None


def publish(pipe: Pipeline, keys: Keys, kind: str, item_id: str, data: object) -> None:
    """Adds one change to the live stream, inside the caller's transaction."""
    pipe.xadd(
        keys.stream,
        {"kind": kind, "id": item_id, "data": dumps(data)},
        maxlen=STREAM_MAXLEN,
        approximate=True,
    )


def transact(client: redis.Redis, watch: list[str], body: Callable[[Pipeline], _T]) -> _T:
    """Runs `body` under WATCH on `watch`, retrying when another writer got there first.

    `body` reads with the pipeline in immediate mode, then calls `pipe.multi()` and queues
    its writes; the transaction executes when `body` returns (unless it never called multi).
    """
    with client.pipeline() as pipe:
        while True:
            try:
                pipe.watch(*watch)  # type: ignore[no-untyped-call]
                result = body(pipe)
                if pipe.explicit_transaction:
                    pipe.execute()
                else:
                    pipe.unwatch()
                return result
            except redis.WatchError:
                continue


class AlertStore:
    """Alerts and their desk state in Redis under `keys`."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys

    def put(
        self, alert: Mapping[str, Any], *, now: float, elderly: bool = False, district: str = ""
    ) -> tuple[PutResult, AlertRecord | None]:
        """Stores `alert` unless a same or higher revision is held; returns what happened."""
        doc = normalise(alert)
        alert_id = doc["alert_id"]
        key = self.keys.alert(alert_id)

        def body(pipe: Pipeline) -> tuple[PutResult, AlertRecord | None]:
            held = text_map(pipe.hgetall(key))
            if held and int(held["revision"]) >= doc["revision"]:
                return "stale", None
            state = held.get("state", "open")
            reason = held.get("dismiss_reason") or None
            if state in CLOSED_STATES and _more_urgent(doc["priority"], held["priority"]):
                state, reason = "open", None
            first_seen = float(held["first_seen"]) if held else now
            record = AlertRecord(
                doc, state, elderly, district or "unknown", first_seen, now, reason
            )
            token = rank_token(record.rank_fields())
            pipe.multi()
            if held.get("rank") and held["rank"] != token:
                pipe.zrem(self.keys.ranked, held["rank"])
            pipe.hset(
                key,
                mapping={
                    "rank": token,
                    "doc": dumps(doc),
                    "revision": doc["revision"],
                    "priority": doc["priority"],
                    "state": state,
                    "elderly": "1" if elderly else "0",
                    "district": record.district,
                    "first_seen": first_seen,
                    "updated": now,
                    "dismiss_reason": reason or "",
                },
            )
            if state in ACTIVE_STATES:
                pipe.zadd(self.keys.open, {alert_id: first_seen})
                pipe.zadd(self.keys.ranked, {token: 0})
            pipe.zadd(self.keys.alerts, {alert_id: now})
            publish(pipe, self.keys, "alert", alert_id, record.to_dict())
            return ("revised" if held else "new"), record

        return transact(self.client, [key], body)

    def get(self, alert_id: str) -> AlertRecord | None:
        fields = text_map(self.client.hgetall(self.keys.alert(alert_id)))
        return AlertRecord.from_hash(fields) if fields else None

    def require(self, alert_id: str) -> AlertRecord:
        record = self.get(alert_id)
        if record is None:
            raise NotFound(f"no alert {alert_id!r}")
        return record

    def many(self, alert_ids: Iterable[str]) -> list[AlertRecord]:
        with self.client.pipeline(transaction=False) as pipe:
            for alert_id in alert_ids:
                pipe.hgetall(self.keys.alert(alert_id))
            return [AlertRecord.from_hash(text_map(f)) for f in pipe.execute() if f]

    def ranked(self, *, active: bool = True, limit: int = 100) -> list[AlertRecord]:
        """The desk's queue, most urgent first; `active=False` lists every alert."""
        if active:
            tokens = texts(self.client.zrange(self.keys.ranked, 0, limit - 1))
            ids = [token_alert_id(t) for t in tokens]
        else:
            ids = texts(self.client.zrevrange(self.keys.alerts, 0, 4999))
        records = self.many(ids)
        records.sort(key=lambda r: rank_key(r.rank_fields()))
        return records[:limit]

    def open_count(self) -> int:
        return int(self.client.zcard(self.keys.open))

    def transition(
        self,
        alert_id: str,
        *,
        allowed: Iterable[str],
        to_state: str,
        action: Mapping[str, Any],
        dismiss_reason: str | None = None,
        now: float,
    ) -> AlertRecord:
        """Moves an alert to `to_state` and records `action`, atomically.

        Raises NotFound for an unknown alert, Conflict when its state is not in `allowed`.
        """
        key = self.keys.alert(alert_id)
        allowed = tuple(allowed)

        def body(pipe: Pipeline) -> AlertRecord:
            fields = text_map(pipe.hgetall(key))
            if not fields:
                raise NotFound(f"no alert {alert_id!r}")
            record = AlertRecord.from_hash(fields)
            if record.state not in allowed:
                raise Conflict(
                    f"alert {alert_id} is {record.state}; {action['action']} needs it to be "
                    + " or ".join(allowed)
                )
            updated = AlertRecord(
                record.alert,
                to_state,
                record.elderly,
                record.district,
                record.first_seen,
                now,
                dismiss_reason or record.dismiss_reason,
            )
            pipe.multi()
            pipe.hset(
                key,
                mapping={
                    "state": to_state,
                    "updated": now,
                    "dismiss_reason": updated.dismiss_reason or "",
                },
            )
            pipe.rpush(self.keys.actions(alert_id), dumps(dict(action)))
            if to_state in CLOSED_STATES:
                pipe.zrem(self.keys.open, alert_id)
                pipe.zrem(self.keys.ranked, fields.get("rank", ""))
            pipe.zadd(self.keys.alerts, {alert_id: now})
            publish(pipe, self.keys, "alert", alert_id, updated.to_dict())
            return updated

        return transact(self.client, [key], body)

    def actions(self, alert_id: str) -> list[dict[str, Any]]:
        return [orjson.loads(a) for a in self.client.lrange(self.keys.actions(alert_id), 0, -1)]

    def put_outcome(self, alert_id: str, label: Mapping[str, Any]) -> None:
        """Records the alert's outcome label; a later outcome replaces an earlier one."""
        self.client.hset(self.keys.outcomes, alert_id, dumps(dict(label)))

    def outcomes(self) -> list[dict[str, Any]]:
        held = text_map(self.client.hgetall(self.keys.outcomes))
        return [orjson.loads(held[k]) for k in sorted(held)]


def _more_urgent(priority: str, than: str) -> bool:
    return PRIORITY_RANK.get(priority, 99) < PRIORITY_RANK.get(than, 99)


__all__ = [
    "ACTIVE_STATES",
    "CLOSED_STATES",
    "AlertRecord",
    "AlertStore",
    "dumps",
    "epoch",
    "iso",
    "normalise",
    "publish",
    "text",
    "text_map",
    "texts",
    "transact",
]
