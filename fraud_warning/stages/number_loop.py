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
from typing import Any, Final

from fraud_warning.admission import Admission
from fraud_warning.decode import Decoded
from fraud_warning.epoch import epoch_s, offset_s
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
    calls = sms = transfers = 0
    for item in batch:
        ev: Any = item.event
        t = epoch_s(ev.ts)
        letter = admission.admit(item, t, source)
        if letter is not None:
            dead.append(letter)
            continue
        kind = type(ev)
        if kind is _CALL:
            calls += 1
            seen, row = side.call(ev, t)
            eid, caller, callee = ev.event_id, ev.caller, ev.callee
            sends.append((_VICTIM, caller, _CALL_MADE(eid, t, caller, callee, ev.caller_cell)))
            received = _CALL_RECEIVED(
                eid,
                t,
                offset_s(ev.ts),
                caller,
                callee,
                ev.callee_cell,
                ev.duration_s,
                ev.origin,
                seen.fanout,
                seen.flagged,
            )
            sends.append((_VICTIM, callee, received))
            if row is not None and clears(gates["number"], row):
                task._number_rules(ev, caller, t, row, "number", sends, out)
        elif kind is _SMS:
            sms += 1
            seen, row = side.sms(ev, t)
            eid, sender, receiver = ev.event_id, ev.sender, ev.receiver
            sends.append((_VICTIM, sender, _SMS_SENT(eid, t, sender, receiver, ev.sender_cell)))
            got = _SMS_RECEIVED(
                eid,
                t,
                offset_s(ev.ts),
                sender,
                receiver,
                ev.has_url,
                seen.fanout,
                seen.flagged,
                ev.text if texts else None,
            )
            sends.append((_VICTIM, receiver, got))
            if row is not None and clears(gates["number_sms"], row):
                task._number_rules(ev, sender, t, row, "number_sms", sends, out)
        else:
            transfers += 1
            paid = _PAID(
                ev.event_id,
                t,
                offset_s(ev.ts),
                ev.payer,
                ev.payee_account,
                ev.amount_cny,
                ev.channel,
            )
            sends.append((_VICTIM, ev.payer, paid))
    return calls, sms, transfers


__all__ = ["number_events"]
