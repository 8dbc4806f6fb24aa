"""The number stage's per-event loop: admission, the number side's join, and the stage
records each event sends on to the victim stage.

Compiled (build_native.py), as the embedded engine's loop is (`fraud_warning.routing`):
interpreted, this loop and the records it builds were about a tenth of a worker's time
in a profiled drain. What stays with the task (`stages.tasks.NumberTask`) is called back
only for a number row that clears its kind's gate (`features.clears`): the number rules,
which may flag.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from fraud_warning.admission import Admission
from fraud_warning.decode import Decoded
from fraud_warning.epoch import Epochs, offset_s
from fraud_warning.event_fields import (
    CALL_CALLEE,
    CALL_CALLEE_CELL,
    CALL_CALLER,
    CALL_CALLER_CELL,
    CALL_DURATION_S,
    CALL_ORIGIN,
    EVENT_ID,
    SMS_HAS_URL,
    SMS_RECEIVER,
    SMS_SENDER,
    SMS_SENDER_CELL,
    SMS_TEXT,
    TRANSFER_AMOUNT_CNY,
    TRANSFER_CHANNEL,
    TRANSFER_PAYEE_ACCOUNT,
    TRANSFER_PAYER,
    TS,
)
from fraud_warning.features import clears
from fraud_warning.join import NumberSide
from fraud_warning.stages.records import (
    VICTIM,
    CallMade,
    CallReceived,
    Paid,
    Send,
    SmsReceived,
    SmsSent,
)
from fraud_warning.wire import Call, Sms

# held in C statics when compiled: names imported from an interpreted module are looked
# up in the module's dict at every use
_CALL: Final = Call
_SMS: Final = Sms
_CALL_MADE: Final = CallMade
_CALL_RECEIVED: Final = CallReceived
_SMS_SENT: Final = SmsSent
_SMS_RECEIVED: Final = SmsReceived
_PAID: Final = Paid
_VICTIM: Final = VICTIM


def number_events(
    task: Any, batch: Sequence[Decoded], out: Any, source: str, sends: list[Send]
) -> tuple[int, int, int]:
    """Take a batch of input events in arrival order through admission and the number
    side; append what they send on to `sends`. Returns the calls, SMS and transfers taken.

    `task` is the :class:`~fraud_warning.stages.tasks.NumberTask` (its side, admission,
    models and `_number_rules`); `out` its Output for the batch (dead letters, alerts)."""
    side: NumberSide = task.side
    admission: Admission = task.admission
    gates: dict[str, tuple[tuple[int, float], ...]] = task.models.number_gates
    texts: bool = task.ctx.sides.windows.reads_sms_text
    dead: list[Any] = out.dead
    epochs: Epochs = task.epochs
    calls = sms = transfers = 0
    for item in batch:
        ev: Any = item.event
        f = item.fields
        ts: datetime = f[TS]
        t = epochs.of(ts)
        letter = admission.admit(item, t, source)
        if letter is not None:
            dead.append(letter)
            continue
        kind = type(ev)
        eid: str = f[EVENT_ID]
        if kind is _CALL:
            calls += 1
            caller: str = f[CALL_CALLER]
            callee: str = f[CALL_CALLEE]
            duration_s: int = f[CALL_DURATION_S]
            origin: str | None = f[CALL_ORIGIN]
            seen, row = side.call(caller, callee, duration_s, origin, t)
            made = _CALL_MADE(eid, t, caller, callee, f[CALL_CALLER_CELL])
            sends.append((_VICTIM, caller, made))
            received = _CALL_RECEIVED(
                eid,
                t,
                offset_s(ts),
                caller,
                callee,
                f[CALL_CALLEE_CELL],
                duration_s,
                origin,
                seen.fanout,
                seen.flagged,
            )
            sends.append((_VICTIM, callee, received))
            if row is not None and clears(gates["number"], row):
                task._number_rules(ev, caller, t, row, "number", sends, out)
        elif kind is _SMS:
            sms += 1
            sender: str = f[SMS_SENDER]
            receiver: str = f[SMS_RECEIVER]
            text: str | None = f[SMS_TEXT]
            has_url: bool | None = f[SMS_HAS_URL]
            seen, row = side.sms(sender, receiver, text, has_url, t)
            sends.append((_VICTIM, sender, _SMS_SENT(eid, t, sender, receiver, f[SMS_SENDER_CELL])))
            got = _SMS_RECEIVED(
                eid,
                t,
                offset_s(ts),
                sender,
                receiver,
                has_url,
                seen.fanout,
                seen.flagged,
                text if texts else None,
            )
            sends.append((_VICTIM, receiver, got))
            if row is not None and clears(gates["number_sms"], row):
                task._number_rules(ev, sender, t, row, "number_sms", sends, out)
        else:
            transfers += 1
            payer: str = f[TRANSFER_PAYER]
            paid = _PAID(
                eid,
                t,
                offset_s(ts),
                payer,
                f[TRANSFER_PAYEE_ACCOUNT],
                f[TRANSFER_AMOUNT_CNY],
                f[TRANSFER_CHANNEL],
            )
            sends.append((_VICTIM, payer, paid))
    return calls, sms, transfers


__all__ = ["number_events"]
