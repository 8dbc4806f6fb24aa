"""Wire contracts as pydantic models: the documented, schema-bearing form.

These are what users, tests and `fraud-warning schema` see. The hot path decodes
events with the equivalent msgspec structs in :mod:`fraud_warning.wire` (about ten
times faster); `tests/test_wire.py` checks that both accept and refuse the same records.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from fraud_warning.wire import MAX_AMOUNT_CNY, MAX_DURATION_S, MAX_YEAR, MIN_YEAR, ts_in_range

E164 = Annotated[str, Field(pattern=r"^\+[1-9][0-9]{5,15}$", description="E.164 phone number")]
Origin = Literal["mobile", "fixed", "virtual_operator", "overseas", "voip_gateway"]
Channel = Literal["mobile_banking", "third_party_payment", "atm", "counter"]
Priority = Literal["P1", "P2", "P3"]
TaskStatus = Literal["assigned", "acknowledged", "on_scene", "resolved", "escalated"]

# The shape msgspec (the hot path) accepts; pydantic alone also takes minutes-only
# times, comma fractions, other separators and digit strings read as Unix time.
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
    r"(?:[Zz]|[+-][0-9]{2}:?[0-9]{2})"
)


def _rfc3339(value: object) -> object:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise ValueError("expected an RFC 3339 timestamp with an offset")
    return value


def _plausible_year(value: datetime) -> datetime:
    if not ts_in_range(value):
        raise ValueError(f"year {value.year} outside {MIN_YEAR}..{MAX_YEAR}")
    return value


class _Event(BaseModel):
    # Unknown extra fields are kept and ignored (the contract says so). Strict, as the
    # msgspec structs are: no "10" for 10, no true for 1, no number for a timestamp.
    model_config = ConfigDict(extra="allow", frozen=True, strict=True)

    event_id: Annotated[str, Field(min_length=1, description="unique event id")]
    ts: Annotated[
        AwareDatetime,
        BeforeValidator(_rfc3339),  # str or datetime only: lax below just parses
        AfterValidator(_plausible_year),  # a year-1 or year-9999 time is a corrupt clock
        Field(
            strict=False,
            description=f"event time, RFC 3339 with offset, in the years {MIN_YEAR}..{MAX_YEAR}",
        ),
    ]


class CallEvent(_Event):
    """A call record. `ts` is the call's start; `duration_s` its talk time in seconds."""

    type: Literal["call"]
    caller: E164
    callee: E164
    duration_s: Annotated[int, Field(ge=0, le=MAX_DURATION_S)]
    caller_cell: str | None = None
    callee_cell: str | None = None
    origin: Origin | None = Field(
        default=None,
        description="absent: derived from the caller (non-+86 overseas, +86 170/171 virtual)",
    )


class SmsEvent(_Event):
    type: Literal["sms"]
    sender: E164
    receiver: E164
    text: str | None = None
    has_url: bool | None = None
    sender_cell: str | None = None


class TransferEvent(_Event):
    type: Literal["transfer"]
    payer: E164
    payer_account: Annotated[str, Field(min_length=1)]
    payee_account: Annotated[str, Field(min_length=1)]
    amount_cny: Annotated[float, Field(gt=0, le=MAX_AMOUNT_CNY, allow_inf_nan=False)]
    channel: Channel


Event = Annotated[CallEvent | SmsEvent | TransferEvent, Field(discriminator="type")]


class Location(BaseModel):
    model_config = ConfigDict(frozen=True)

    lat: float
    lon: float
    source: Literal["cell", "home"]


class ModelScore(BaseModel):
    """One warning model's verdict on an alert. `score` is 0..1, high = fraud."""

    model_config = ConfigDict(frozen=True)

    id: str
    version: int
    score: Annotated[float, Field(ge=0, le=1)]
    reasons: list[str]


class Alert(BaseModel):
    """A ranked warning about one subscriber (or, with typology `fraud_number`, one number).

    `alert_id` is stable: it is derived from the subscriber and the event that opened
    the incident, so a replay gives the same id. New evidence re-emits the alert with
    the same id and a higher `revision`; sinks keep the highest revision.
    """

    model_config = ConfigDict(frozen=True)

    alert_id: str
    revision: Annotated[int, Field(ge=1)] = 1
    subscriber: str
    score: Annotated[float, Field(ge=0, le=1)]
    priority: Priority
    typology: str
    models: list[ModelScore]
    evidence: list[str]
    event_ts: AwareDatetime = Field(description="event time of the triggering event")
    emitted_at: AwareDatetime = Field(description="processing time when the alert left")
    location: Location | None = None


class DispatchTask(BaseModel):
    """A police dispatch task: put an officer at the victim's door by `target_arrival`."""

    model_config = ConfigDict(frozen=True)

    task_id: str
    alert_id: str
    subscriber: str
    unit_id: str | None = Field(description="null when escalated with no unit at all")
    location: Location | None
    created_at: AwareDatetime
    target_arrival: AwareDatetime
    eta_s: float | None = Field(description="estimated drive time of the unit, seconds")
    status: TaskStatus


def json_schema(name: str) -> dict[str, object]:
    """JSON Schema for `events`, `alert` or `task`; KeyError names the valid ones."""
    from pydantic import TypeAdapter

    adapters: dict[str, TypeAdapter[object]] = {
        "events": TypeAdapter(Event),
        "alert": TypeAdapter(Alert),
        "task": TypeAdapter(DispatchTask),
    }
    if name not in adapters:
        raise KeyError(f"unknown schema {name!r} (expected one of: {', '.join(adapters)})")
    return adapters[name].json_schema()


__all__ = [
    "Alert",
    "CallEvent",
    "DispatchTask",
    "Event",
    "Location",
    "ModelScore",
    "SmsEvent",
    "TransferEvent",
    "json_schema",
]
