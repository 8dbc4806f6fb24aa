"""The victim stage's per-record loop: each record released by the merge, through the
victim side's join, in canonical order.

Compiled (build_native.py), as the number stage's loop is (`stages.number_loop`). What
stays with the task (`stages.tasks.VictimTask`) is the batch's model pass over the
trigger rows this loop collects.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from fraud_warning.event_fields import fields_of
from fraud_warning.join import Caller, VictimSide
from fraud_warning.stages.records import (
    AT_EVENT_ID,
    AT_T,
    CM_CALLEE,
    CM_CALLER,
    CM_CALLER_CELL,
    CR_CALLEE,
    CR_CALLEE_CELL,
    CR_CALLER,
    CR_DURATION_S,
    CR_FANOUT,
    CR_FLAGGED,
    CR_ORIGIN,
    FL_NUMBER,
    PAYEE,
    PD_AMOUNT_CNY,
    PD_CHANNEL,
    PD_PAYEE_ACCOUNT,
    PD_PAYER,
    PD_TZ,
    SR_FANOUT,
    SR_FLAGGED,
    SR_HAS_URL,
    SR_RECEIVER,
    SR_SENDER,
    SR_TEXT,
    SS_RECEIVER,
    SS_SENDER,
    SS_SENDER_CELL,
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
_FIELDS_OF: Final = fields_of

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
        # exact types (msgspec structs, never subclassed): a type check per branch; the
        # fields read off one tuple (stages.records' positions), not attribute by attribute
        kind = type(rec)
        f = _FIELDS_OF(rec)
        t: float = f[AT_T]
        if kind is _CALL_RECEIVED:
            callee: str = f[CR_CALLEE]
            seen = Caller(f[CR_FANOUT], f[CR_FLAGGED])
            row = side.call_received(
                f[CR_CALLER], callee, f[CR_CALLEE_CELL], f[CR_DURATION_S], f[CR_ORIGIN], t, seen
            )
            if row is not None:
                cell = victims.touch(callee, t).last_cell
                triggered.append(("call", callee, rec, row, cell))
        elif kind is _CALL_MADE:
            side.call_made(f[CM_CALLER], f[CM_CALLEE], f[CM_CALLER_CELL], t)
        elif kind is _SMS_RECEIVED:
            receiver: str = f[SR_RECEIVER]
            seen = Caller(f[SR_FANOUT], f[SR_FLAGGED])
            row = side.sms_received(f[SR_SENDER], receiver, f[SR_TEXT], f[SR_HAS_URL], t, seen)
            if row is not None:
                cell = victims.touch(receiver, t).last_cell
                triggered.append(("sms", receiver, rec, row, cell))
        elif kind is _SMS_SENT:
            side.sms_sent(f[SS_SENDER], f[SS_RECEIVER], f[SS_SENDER_CELL], t)
        elif kind is _PAID:
            payer: str = f[PD_PAYER]
            account: str = f[PD_PAYEE_ACCOUNT]
            amount: float = f[PD_AMOUNT_CNY]
            half = side.transfer(payer, account, amount, f[PD_CHANNEL], t)
            cell = victims.touch(payer, t).last_cell
            payee_row = _PAYEE_ROW(
                f[AT_EVENT_ID],
                t,
                f[PD_TZ],
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
            flags[f[FL_NUMBER]] = t
    return triggered


__all__ = ["Triggered", "victim_records"]
