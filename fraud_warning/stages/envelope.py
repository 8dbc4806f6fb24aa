"""Stage records in transit, numbered so that a record sent twice is taken once.

Delivery between stages is at least once: a task restored from a snapshot re-reads its
input from the snapshot's offset and sends again what it had sent since. What a task
sends to one destination partition is deterministic (the same input gives the same data
records in the same order), so numbering each destination's data records is enough: a
receiver drops any it has already taken from that sender. Marks are not numbered; taking
one twice changes nothing.

On the stage topics envelopes travel as MessagePack, bundled: one Kafka record holds
every envelope a micro-batch sends to one partition, as an array. MessagePack, not JSON:
the topics are internal, and the same records encoded and decoded about 1.7× as fast
(the stage hops are most of what a worker adds to the engine's own work). Records a
worker sent as JSON before (a bundle, or a lone envelope) still read; a worker from
before cannot read these, so an upgrade stops the old workers before starting new ones.
"""

from __future__ import annotations

from collections.abc import Iterator

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


_pack = msgspec.msgpack.Encoder().encode
_unpack_bundle = msgspec.msgpack.Decoder(list[Envelope]).decode
_json_envelope = msgspec.json.Decoder(Envelope).decode
_json_bundle = msgspec.json.Decoder(list[Envelope]).decode
_ENVELOPE_HEAD = b"\x93"  # a MessagePack array of three: an array-like Envelope
_MAX_ARRAY_HEAD = 5  # bytes of the largest MessagePack array header (see _array_head)


def pieces(records: list[Record], limit: int) -> list[tuple[list[Record], bytes]]:
    """`records` cut so each piece, encoded, stays within `limit` bytes (a piece of one
    record may not), each with its encoding: every record is encoded once in the usual
    case, where the whole fits."""
    packed = _pack(records)
    if len(packed) <= limit or len(records) == 1:
        return [(records, packed)]
    # one cut into pieces of about 3/4 of the limit (stage records are of similar sizes)
    # rather than halving and encoding again at every level; order is kept
    count = min(len(records), -(-len(packed) * 4 // (limit * 3)))
    step = -(-len(records) // count)
    out: list[tuple[list[Record], bytes]] = []
    for i in range(0, len(records), step):
        out.extend(pieces(records[i : i + step], limit))
    return out


def sealed(sender: Positions, source: str, dest: str, piece: list[Record], packed: bytes) -> bytes:
    """The encoded envelope of :func:`seal`, from its records' encoding (`packed`, as
    :func:`pieces` gives it): the same bytes as encoding the envelope, without encoding
    its records again."""
    envelope = seal(sender, source, dest, piece)
    return _ENVELOPE_HEAD + _pack(envelope.source) + _pack(envelope.first) + packed


def bundles(encoded: list[bytes], limit: int) -> Iterator[bytes]:
    """Encoded envelopes joined into arrays of at most `limit` bytes (an envelope larger
    than that alone, as :func:`pieces` leaves only a single huge record)."""
    batch: list[bytes] = []
    size = _MAX_ARRAY_HEAD
    for value in encoded:
        if batch and size + len(value) > limit:
            yield _array_head(len(batch)) + b"".join(batch)
            batch, size = [], _MAX_ARRAY_HEAD
        batch.append(value)
        size += len(value)
    if batch:
        yield _array_head(len(batch)) + b"".join(batch)


def envelopes(value: bytes) -> list[Envelope]:
    """The envelopes of a stage record: a bundle, or a JSON one a worker sent before
    (a bundle `[[...], ...]`, or a lone envelope `["V2", ...]` from before bundles)."""
    if value[:1] != b"[":
        return _unpack_bundle(value)
    if value[1:2] == b'"':
        return [_json_envelope(value)]
    return _json_bundle(value)


def _array_head(n: int) -> bytes:
    """A MessagePack array header for `n` items."""
    if n < 16:
        return bytes((0x90 | n,))
    if n < 1 << 16:
        return b"\xdc" + n.to_bytes(2, "big")
    return b"\xdd" + n.to_bytes(4, "big")


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


__all__ = ["Envelope", "bundles", "envelopes", "open_new", "pieces", "seal", "sealed"]
