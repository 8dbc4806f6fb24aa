"""Records passed between stages (msgspec: the same structs go over Kafka as JSON).

Each record but :class:`Mark` carries its place in the canonical order: the event's
time and id, and a part number ordering the records one event makes (a call is counted
for its caller before its callee; a flag set by a call applies after the call).
"""

from __future__ import annotations

import msgspec

from fraud_warning.risk import Verdict
from fraud_warning.wire import Call, Sms, Transfer, WireEvent

# Parts of one event, in the embedded engine's order.
MADE = 0  # the caller's / sender's half
RECEIVED = 1  # the callee's / receiver's half, a transfer's payer or payee half
FLAGGED = 2  # a flag raised by the event's number rules
VERDICT = 3


class Mark(msgspec.Struct, tag="mark", gc=False):
    """Watermark: upstream partition `source` will send nothing earlier than `ts`."""

    source: str
    ts: float


class CallMade(msgspec.Struct, tag="call_made", gc=False):
    ev: Call
    t: float
    part = MADE


class CallReceived(msgspec.Struct, tag="call_received", gc=False):
    ev: Call
    t: float
    fanout: float  # the caller's distinct callees in the last hour, at the call
    flagged: bool
    part = RECEIVED


class SmsSent(msgspec.Struct, tag="sms_sent", gc=False):
    ev: Sms
    t: float
    part = MADE


class SmsReceived(msgspec.Struct, tag="sms_received", gc=False):
    ev: Sms
    t: float
    fanout: float
    flagged: bool
    part = RECEIVED


class Paid(msgspec.Struct, tag="paid", gc=False):
    """A transfer, on its way to the payer's victim partition."""

    ev: Transfer
    t: float
    part = RECEIVED


class Flag(msgspec.Struct, tag="flag", gc=False):
    """A number flagged by number rules at event `event_id`: sent to every victim partition."""

    number: str
    t: float
    event_id: str
    part = FLAGGED


class PayeeRow(msgspec.Struct, tag="payee_row", gc=False):
    """A transfer with the payer's half of its row, on its way to the payee's partition."""

    ev: Transfer
    t: float
    context: list[float]
    payer: list[float] | None
    cell: str | None  # the payer's last cell at the transfer, for the alert's location
    part = RECEIVED


class Verdicts(msgspec.Struct, tag="verdicts", gc=False):
    """Models that fired at one event on one subscriber, on their way to its incident."""

    subscriber: str
    ev: WireEvent
    t: float
    cell: str | None
    verdicts: list[Verdict]
    part = VERDICT


Ordered = CallMade | CallReceived | SmsSent | SmsReceived | Paid | Flag | PayeeRow | Verdicts
Record = Mark | Ordered


def order_key(record: Ordered) -> tuple[float, str, int]:
    """The canonical order: event time, event id, part of the event."""
    if type(record) is Flag:
        return (record.t, record.event_id, FLAGGED)
    return (record.t, record.ev.event_id, record.part)  # type: ignore[union-attr]


__all__ = [
    "CallMade",
    "CallReceived",
    "Flag",
    "Mark",
    "Ordered",
    "Paid",
    "PayeeRow",
    "Record",
    "SmsReceived",
    "SmsSent",
    "Verdicts",
    "order_key",
]
