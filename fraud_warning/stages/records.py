"""Records passed between stages (msgspec: the same structs go over Kafka as JSON).

Each record but :class:`Mark` carries its place in the canonical order: the event's
time and id, and a part number ordering the records one event makes (a call is counted
for its caller before its callee; a flag set by a call applies after the call).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Final

import msgspec

from fraud_warning.event_fields import require_layout
from fraud_warning.risk import Verdict

# The stages records travel between: number, victim, payee, alert (see stages.tasks).
NUMBER, VICTIM, PAYEE, ALERT = "N", "V", "P", "A"
STAGES = (NUMBER, VICTIM, PAYEE, ALERT)

# Parts of one event, in the embedded engine's order.
MADE = 0  # the caller's / sender's half
RECEIVED = 1  # the callee's / receiver's half, a transfer's payer or payee half
FLAGGED = 2  # a flag raised by the event's number rules
VERDICT = 3


class Mark(msgspec.Struct, tag="mark", array_like=True, gc=False):
    """Watermark: upstream partition `source` will send nothing earlier than `ts`."""

    source: str
    ts: float


# Stage records carry only the fields the next stage reads, as plain strings: the input
# was validated once at decode, and re-validating phone numbers at every hop (a regex per
# field) cost more than the rest of a hop's decoding. `t` is the event time in seconds,
# `tz` its UTC offset in seconds, which together give back the event's own timestamp.


class CallMade(msgspec.Struct, tag="cm", array_like=True, gc=False):
    """A call, on its way to the caller's victim partition."""

    event_id: str
    t: float
    caller: str
    callee: str
    caller_cell: str | None
    part = MADE


class CallReceived(msgspec.Struct, tag="cr", array_like=True, gc=False):
    """A call, on its way to the callee's victim partition, with what the number side
    knew of the caller at the call."""

    event_id: str
    t: float
    tz: int
    caller: str
    callee: str
    callee_cell: str | None
    duration_s: int
    origin: str | None
    fanout: float  # the caller's distinct callees in the last hour, at the call
    flagged: bool
    part = RECEIVED


class SmsSent(msgspec.Struct, tag="ss", array_like=True, gc=False):
    event_id: str
    t: float
    sender: str
    receiver: str
    sender_cell: str | None
    part = MADE


class SmsReceived(msgspec.Struct, tag="sr", array_like=True, gc=False):
    event_id: str
    t: float
    tz: int
    sender: str
    receiver: str
    has_url: bool | None
    fanout: float
    flagged: bool
    text: str | None = None  # only when a rule's window reads SMS texts
    part = RECEIVED


class Paid(msgspec.Struct, tag="pd", array_like=True, gc=False):
    """A transfer, on its way to the payer's victim partition."""

    event_id: str
    t: float
    tz: int
    payer: str
    payee_account: str
    amount_cny: float
    channel: str
    part = RECEIVED


class Flag(msgspec.Struct, tag="fl", array_like=True, gc=False):
    """A number flagged by number rules at event `event_id`: sent to every victim partition."""

    event_id: str
    t: float
    number: str
    part = FLAGGED


class PayeeRow(msgspec.Struct, tag="pr", array_like=True, gc=False):
    """A transfer with the payer's half of its row, on its way to the payee's partition."""

    event_id: str
    t: float
    tz: int
    payer: str
    payee_account: str
    amount_cny: float
    context: list[float]
    half: list[float] | None  # the payer's half of TRANSFER; None below the amount gate
    cell: str | None  # the payer's last cell at the transfer, for the alert's location
    windows: dict[str, float] = {}  # the payer's rule-defined window features, by id
    part = RECEIVED


class Verdicts(msgspec.Struct, tag="vd", array_like=True, gc=False):
    """Models that fired at one event on one subscriber, on their way to its incident."""

    event_id: str
    t: float
    tz: int
    subscriber: str
    money: float  # a transfer's amount, else 0
    cell: str | None
    verdicts: list[Verdict]
    part = VERDICT


# Field positions in a record's tuple of fields (`msgspec.structs.astuple`), for the
# compiled victim loop: see fraud_warning.event_fields. Checked on import.
AT_EVENT_ID: Final = 0
AT_T: Final = 1
CM_CALLER: Final = 2
CM_CALLEE: Final = 3
CM_CALLER_CELL: Final = 4
CR_CALLER: Final = 3
CR_CALLEE: Final = 4
CR_CALLEE_CELL: Final = 5
CR_DURATION_S: Final = 6
CR_ORIGIN: Final = 7
CR_FANOUT: Final = 8
CR_FLAGGED: Final = 9
SS_SENDER: Final = 2
SS_RECEIVER: Final = 3
SS_SENDER_CELL: Final = 4
SR_SENDER: Final = 3
SR_RECEIVER: Final = 4
SR_HAS_URL: Final = 5
SR_FANOUT: Final = 6
SR_FLAGGED: Final = 7
SR_TEXT: Final = 8
PD_TZ: Final = 2
PD_PAYER: Final = 3
PD_PAYEE_ACCOUNT: Final = 4
PD_AMOUNT_CNY: Final = 5
PD_CHANNEL: Final = 6
FL_NUMBER: Final = 2

LAYOUT: Final[dict[type[msgspec.Struct], dict[str, int]]] = {
    CallMade: {
        "event_id": AT_EVENT_ID,
        "t": AT_T,
        "caller": CM_CALLER,
        "callee": CM_CALLEE,
        "caller_cell": CM_CALLER_CELL,
    },
    CallReceived: {
        "event_id": AT_EVENT_ID,
        "t": AT_T,
        "tz": 2,
        "caller": CR_CALLER,
        "callee": CR_CALLEE,
        "callee_cell": CR_CALLEE_CELL,
        "duration_s": CR_DURATION_S,
        "origin": CR_ORIGIN,
        "fanout": CR_FANOUT,
        "flagged": CR_FLAGGED,
    },
    SmsSent: {
        "event_id": AT_EVENT_ID,
        "t": AT_T,
        "sender": SS_SENDER,
        "receiver": SS_RECEIVER,
        "sender_cell": SS_SENDER_CELL,
    },
    SmsReceived: {
        "event_id": AT_EVENT_ID,
        "t": AT_T,
        "tz": 2,
        "sender": SR_SENDER,
        "receiver": SR_RECEIVER,
        "has_url": SR_HAS_URL,
        "fanout": SR_FANOUT,
        "flagged": SR_FLAGGED,
        "text": SR_TEXT,
    },
    Paid: {
        "event_id": AT_EVENT_ID,
        "t": AT_T,
        "tz": PD_TZ,
        "payer": PD_PAYER,
        "payee_account": PD_PAYEE_ACCOUNT,
        "amount_cny": PD_AMOUNT_CNY,
        "channel": PD_CHANNEL,
    },
    Flag: {"event_id": AT_EVENT_ID, "t": AT_T, "number": FL_NUMBER},
    # the merge reads every ordered record's first two
    PayeeRow: {
        "event_id": AT_EVENT_ID,
        "t": AT_T,
        "tz": 2,
        "payer": 3,
        "payee_account": 4,
        "amount_cny": 5,
        "context": 6,
        "half": 7,
        "cell": 8,
        "windows": 9,
    },
    Verdicts: {
        "event_id": AT_EVENT_ID,
        "t": AT_T,
        "tz": 2,
        "subscriber": 3,
        "money": 4,
        "cell": 5,
        "verdicts": 6,
    },
}
require_layout(LAYOUT, "fraud_warning.stages.records")

Ordered = CallMade | CallReceived | SmsSent | SmsReceived | Paid | Flag | PayeeRow | Verdicts
Record = Mark | Ordered
# what a task sends: (stage, key, record); key None means every partition of the stage
Send = tuple[str, str | None, Record]


def order_key(record: Ordered) -> tuple[float, str, int]:
    """The canonical order: event time, event id, part of the event."""
    return (record.t, record.event_id, record.part)


def event_time(t: float, tz: int) -> datetime:
    """The event's own timestamp back from its epoch seconds and UTC offset."""
    return datetime.fromtimestamp(t, timezone(timedelta(seconds=tz)))


__all__ = [
    "ALERT",
    "NUMBER",
    "PAYEE",
    "STAGES",
    "VICTIM",
    "CallMade",
    "CallReceived",
    "Flag",
    "Mark",
    "Ordered",
    "Paid",
    "PayeeRow",
    "Record",
    "Send",
    "SmsReceived",
    "SmsSent",
    "Verdicts",
    "event_time",
    "order_key",
]
