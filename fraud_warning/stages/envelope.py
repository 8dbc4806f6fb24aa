"""Stage records in transit, numbered so that a record sent twice is taken once.

Delivery between stages is at least once: a task restored from a snapshot re-reads its
input from the snapshot's offset and sends again what it had sent since. What a task
sends to one destination partition is deterministic (the same input gives the same data
records in the same order), so numbering each destination's data records is enough: a
receiver drops any it has already taken from that sender. Marks are not numbered; taking
one twice changes nothing.
"""

from __future__ import annotations

import msgspec

from fraud_warning.stages.merge import count_data
from fraud_warning.stages.records import Mark, Record
from fraud_warning.stages.tasks import Positions


class Envelope(msgspec.Struct, array_like=True, gc=False):
    source: str  # the sending task ("V2")
    first: int  # the number of its first data record (counting from 1)
    records: list[Record]


def seal(sender: Positions, source: str, dest: str, records: list[Record]) -> Envelope:
    """Number `records` for `dest` after what `sender` already sent it."""
    first = sender.sent.get(dest, 0) + 1
    data = count_data(records)
    if data:
        sender.sent[dest] = first - 1 + data
    return Envelope(source, first, records)


def open_new(receiver: Positions, envelope: Envelope) -> list[Record]:
    """The envelope's marks and the data records `receiver` has not taken yet."""
    seen = receiver.seen.get(envelope.source, 0)
    number = envelope.first
    if number > seen:
        fresh = envelope.records  # the usual case: nothing seen twice
        last = number - 1 + count_data(fresh)
    else:
        fresh = []
        for record in envelope.records:
            if type(record) is Mark:
                fresh.append(record)
                continue
            if number > seen:
                fresh.append(record)
            number += 1
        last = number - 1
    if last > seen:
        receiver.seen[envelope.source] = last
    return fresh


__all__ = ["Envelope", "open_new", "seal"]
