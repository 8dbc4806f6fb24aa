"""The victim stage's per-record loop: each record released by the merge, through the
victim side's join, in canonical order.

Compiled (build_native.py), as the number stage's loop is (`stages.number_loop`). What
stays with the task (`stages.tasks.VictimTask`) is the batch's model pass over the
trigger rows this loop collects.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from fraud_warning.join import Caller, VictimSide
from fraud_warning.stages.records import (
    PAYEE,
    CallMade,
    CallReceived,
    Flag,
    Paid,
    PayeeRow,
    Send,
    SmsReceived,
    SmsSent,
)
from fraud_warning.state import Half

# held in C statics when compiled (see stages.number_loop)
_CALL_MADE: Final = CallMade
_CALL_RECEIVED: Final = CallReceived
_SMS_SENT: Final = SmsSent
_SMS_RECEIVED: Final = SmsReceived
_PAID: Final = Paid
_FLAG: Final = Flag
_PAYEE_ROW: Final = PayeeRow
_PAYEE: Final = PAYEE

#: A trigger row: (kind, subscriber, record, feature row, the subscriber's cell then).
Triggered = tuple[str, str, Any, list[float], str | None]


def victim_records(
    side: VictimSide,
    victims: Half,
    flags: dict[str, float],
    records: Sequence[Any],
    sends: list[Send],
) -> list[Triggered]:
    """Take `records` in order through the victim side; a transfer's payee row is
    appended to `sends`, a flag lands in `flags`. Returns the call and SMS trigger rows,
    each with the subscriber's cell as it was at the record (later records of the batch
    may move the subscriber)."""
    triggered: list[Triggered] = []
    for rec in records:
        # exact types (msgspec structs, never subclassed): a type check per branch
        kind = type(rec)
        if kind is _CALL_RECEIVED:
            t: float = rec.t
            callee: str = rec.callee
            seen = Caller(rec.fanout, rec.flagged)
            row = side.call_received(
                rec.caller, callee, rec.callee_cell, rec.duration_s, rec.origin, t, seen
            )
            if row is not None:
                cell = victims.touch(callee, t).last_cell
                triggered.append(("call", callee, rec, row, cell))
        elif kind is _CALL_MADE:
            side.call_made(rec.caller, rec.callee, rec.caller_cell, rec.t)
        elif kind is _SMS_RECEIVED:
            t = rec.t
            receiver: str = rec.receiver
            seen = Caller(rec.fanout, rec.flagged)
            row = side.sms_received(rec.sender, receiver, rec.text, rec.has_url, t, seen)
            if row is not None:
                cell = victims.touch(receiver, t).last_cell
                triggered.append(("sms", receiver, rec, row, cell))
        elif kind is _SMS_SENT:
            side.sms_sent(rec.sender, rec.receiver, rec.sender_cell, rec.t)
        elif kind is _PAID:
            t = rec.t
            payer: str = rec.payer
            account: str = rec.payee_account
            amount: float = rec.amount_cny
            half = side.transfer(payer, account, amount, rec.channel, t)
            cell = victims.touch(payer, t).last_cell
            payee_row = _PAYEE_ROW(
                rec.event_id,
                t,
                rec.tz,
                payer,
                account,
                amount,
                half.context,
                half.payer,
                cell,
                half.windows,
            )
            sends.append((_PAYEE, account, payee_row))
        elif kind is _FLAG:
            flags[rec.number] = rec.t
    return triggered


__all__ = ["Triggered", "victim_records"]
