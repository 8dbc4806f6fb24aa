"""The embedded engine's per-event loop: admission, the joins, and the trigger rows the
batch's model pass will read.

Compiled with the joins (build_native.py): run interpreted, this loop's own bytecode,
its dict lookups and its attribute reads on decoded events were about a tenth of the
engine's time per event. What stays with the engine is called back for the few events
that need it: housekeeping when the watermark crosses its next mark, and the number
rules, which run per event because a flag must be visible to the next one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from mypy_extensions import mypyc_attr

from fraud_warning.admission import Admission
from fraud_warning.decode import Decoded
from fraud_warning.epoch import Epochs
from fraud_warning.event_fields import (
    CALL_CALLEE,
    CALL_CALLER,
    SMS_RECEIVER,
    SMS_SENDER,
    TRANSFER_PAYER,
    TS,
)
from fraud_warning.features import clears
from fraud_warning.join import Joiner
from fraud_warning.state import Half
from fraud_warning.wire import Call, Sms

# held in C statics when compiled: names imported from an interpreted module are looked
# up in the module's dict at every use
_CALL: Final = Call
_SMS: Final = Sms


@mypyc_attr(acyclic=True)  # an event and strings: no cycle (see state.Subscriber)
class Row:
    """A trigger snapshot waiting for its batch's column-wise model pass."""

    __slots__ = ("cell", "event", "seq", "subscriber", "ts", "watermark")

    def __init__(
        self,
        seq: int,
        subscriber: str,
        event: Any,
        ts: float,
        watermark: float,
        cell: str | None,
    ) -> None:
        self.seq = seq
        self.subscriber = subscriber
        self.event = event  # the decoded wire event (Call, Sms or Transfer)
        self.ts = ts
        self.watermark = watermark
        self.cell = cell  # the subscriber's last known cell at this event, for the alert


class Routed:
    """What one batch's loop collected: trigger rows and their feature rows by trigger
    kind (kinds in the order the batch first produced them), the number-rule hits, and
    events taken per type."""

    def __init__(self, engine: Any, out: Any, victims: Half) -> None:
        self.engine = engine
        self.out = out
        self.victims = victims
        # the number rules' gates, checked here: most number rows fall below them, and a
        # call back into the interpreted engine per row cost more than the join
        self.gates: dict[str, tuple[tuple[int, float], ...]] = engine.models.number_gates
        self.rows: dict[str, list[Row]] = {}
        self.values: dict[str, list[list[float]]] = {}
        self.hits: list[tuple[int, Row, list[Any]]] = []
        self.calls = 0
        self.sms = 0
        self.transfers = 0

    def take(
        self,
        seq: int,
        watermark: float,
        ev: Any,
        ts: float,
        trigger: str,
        subscriber: str,
        values: list[float] | None,
        number_kind: str,
        number: str,
        number_row: list[float] | None,
    ) -> None:
        """An event's joined rows: the victim side's for the batch's model pass, the
        number side's through the number rules now (a flag holds from the next event)."""
        if values is not None:
            rows = self.rows.get(trigger)
            if rows is None:
                rows = self.rows[trigger] = []
                self.values[trigger] = []
            rows.append(self._row(seq, subscriber, ev, ts, watermark))
            self.values[trigger].append(values)
        if number_row is not None and clears(self.gates[number_kind], number_row):
            fired = self.engine._number_verdicts(number_row, number, ev, ts, number_kind, self.out)
            if fired:
                self.hits.append((seq, self._row(seq, number, ev, ts, watermark), fired))

    def _row(self, seq: int, subscriber: str, ev: Any, ts: float, watermark: float) -> Row:
        # the cell is read now: by the time the batch is ranked, later events may have moved it
        state = self.victims.get(subscriber, ts)
        cell = state.last_cell if state is not None else None
        return Row(seq, subscriber, ev, ts, watermark, cell)


def route(
    engine: Any,
    batch: Sequence[Decoded],
    source: str,
    out: Any,
    joiner: Joiner,
    admission: Admission,
    victims: Half,
) -> Routed:
    """Take a batch's events in order through admission and the joins.

    `engine` is the :class:`~fraud_warning.engine.Engine` (its watermark, event counter
    and housekeeping are kept on it; `_number_verdicts` runs the number rules), `out` its
    Output for this batch (dead letters go to it)."""
    routed = Routed(engine, out, victims)
    seq: int = engine._seq
    watermark: float = engine.watermark
    dead: list[Any] = out.dead
    epochs: Epochs = engine.epochs
    for item in batch:
        ev: Any = item.event
        f = item.fields
        ts = epochs.of(f[TS])
        letter = admission.admit(item, ts, source)
        if letter is not None:
            dead.append(letter)
            continue
        if admission.watermark > watermark:
            watermark = engine.watermark = admission.watermark
            if watermark >= engine._next_housekeeping:
                engine._seq = seq  # housekeeping paces its size estimates by events seen
                engine._housekeeping(watermark)
        seq += 1
        kind = type(ev)
        if kind is _CALL:
            routed.calls += 1
            row, number_row = joiner.call_fields(f, ts)
            callee: str = f[CALL_CALLEE]
            caller: str = f[CALL_CALLER]
            routed.take(seq, watermark, ev, ts, "call", callee, row, "number", caller, number_row)
        elif kind is _SMS:
            routed.sms += 1
            row, number_row = joiner.sms_fields(f, ts)
            receiver: str = f[SMS_RECEIVER]
            sender: str = f[SMS_SENDER]
            routed.take(
                seq, watermark, ev, ts, "sms", receiver, row, "number_sms", sender, number_row
            )
        else:
            routed.transfers += 1
            row = joiner.transfer_fields(f, ts)
            payer: str = f[TRANSFER_PAYER]
            routed.take(seq, watermark, ev, ts, "transfer", payer, row, "", "", None)
    engine._seq = seq
    return routed


__all__ = ["Routed", "Row", "route"]
