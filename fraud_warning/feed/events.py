"""Columnar event batches: how every generator stage hands events to the writer.

One row per event; unused columns hold a filler (-1, 0 or b""). Parties are ids in the
:class:`~fraud_warning.feed.numbers.Directory`, accounts ids in the account book, and
`text` holds ready JSON fragments (see :mod:`fraud_warning.feed.texts`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt

CALL, SMS, TRANSFER = 0, 1, 2
CHANNELS = ("mobile_banking", "third_party_payment", "atm", "counter")
MOBILE_BANKING, THIRD_PARTY, ATM, COUNTER = range(4)

I64 = npt.NDArray[np.int64]


@dataclass
class Batch:
    ts: I64
    kind: npt.NDArray[np.int8]
    a: I64  # caller / sender / payer (party id)
    b: I64  # callee / receiver (party id); -1 on transfers
    dur: I64  # call talk time, seconds
    cell_a: I64  # caller_cell / sender_cell (cell index, -1 = none)
    cell_b: I64  # callee_cell
    origin: npt.NDArray[np.int8]  # origin code, -1 = leave it out
    text: npt.NDArray[np.object_]  # SMS JSON fragment (bytes)
    acc_a: I64  # payer_account
    acc_b: I64  # payee_account
    cents: I64  # transfer amount in fen
    channel: npt.NDArray[np.int8]

    def __len__(self) -> int:
        return len(self.ts)

    def take(self, idx: npt.NDArray[np.intp] | npt.NDArray[np.bool_]) -> Batch:
        return Batch(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})


def _fill(m: int, value: int) -> I64:
    return np.full(m, value, dtype=np.int64)


def _texts(m: int) -> npt.NDArray[np.object_]:
    out = np.empty(m, dtype=object)
    out[:] = b""
    return out


def empty() -> Batch:
    return calls(_fill(0, 0), _fill(0, 0), _fill(0, 0), _fill(0, 0), _fill(0, 0), _fill(0, 0))


def calls(
    ts: I64,
    a: I64,
    b: I64,
    dur: I64,
    cell_a: I64,
    cell_b: I64,
    origin: npt.NDArray[np.int8] | None = None,
) -> Batch:
    m = len(ts)
    return Batch(
        ts=ts.astype(np.int64, copy=False),
        kind=np.full(m, CALL, dtype=np.int8),
        a=a.astype(np.int64, copy=False),
        b=b.astype(np.int64, copy=False),
        dur=dur.astype(np.int64, copy=False),
        cell_a=cell_a.astype(np.int64, copy=False),
        cell_b=cell_b.astype(np.int64, copy=False),
        origin=np.full(m, -1, dtype=np.int8) if origin is None else origin.astype(np.int8),
        text=_texts(m),
        acc_a=_fill(m, -1),
        acc_b=_fill(m, -1),
        cents=_fill(m, 0),
        channel=np.full(m, -1, dtype=np.int8),
    )


def sms(ts: I64, a: I64, b: I64, text: npt.NDArray[np.object_], cell_a: I64) -> Batch:
    m = len(ts)
    return Batch(
        ts=ts.astype(np.int64, copy=False),
        kind=np.full(m, SMS, dtype=np.int8),
        a=a.astype(np.int64, copy=False),
        b=b.astype(np.int64, copy=False),
        dur=_fill(m, 0),
        cell_a=cell_a.astype(np.int64, copy=False),
        cell_b=_fill(m, -1),
        origin=np.full(m, -1, dtype=np.int8),
        text=text,
        acc_a=_fill(m, -1),
        acc_b=_fill(m, -1),
        cents=_fill(m, 0),
        channel=np.full(m, -1, dtype=np.int8),
    )


def transfers(
    ts: I64, payer: I64, acc_a: I64, acc_b: I64, cents: I64, channel: npt.NDArray[np.int8]
) -> Batch:
    m = len(ts)
    return Batch(
        ts=ts.astype(np.int64, copy=False),
        kind=np.full(m, TRANSFER, dtype=np.int8),
        a=payer.astype(np.int64, copy=False),
        b=_fill(m, -1),
        dur=_fill(m, 0),
        cell_a=_fill(m, -1),
        cell_b=_fill(m, -1),
        origin=np.full(m, -1, dtype=np.int8),
        text=_texts(m),
        acc_a=acc_a.astype(np.int64, copy=False),
        acc_b=acc_b.astype(np.int64, copy=False),
        cents=cents.astype(np.int64, copy=False),
        channel=channel.astype(np.int8, copy=False),
    )


def concat(parts: list[Batch]) -> Batch:
    parts = [p for p in parts if len(p)]
    if not parts:
        return empty()
    if len(parts) == 1:
        return parts[0]
    return Batch(
        **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Batch)}
    )


def sort(batch: Batch, rng: np.random.Generator) -> Batch:
    """Order by time, shuffling events within the same second: otherwise the order in
    which stages ran (fraud plan first) would show in the event ids."""
    key = batch.ts * (1 << 20) + rng.integers(0, 1 << 20, len(batch))
    return batch.take(np.argsort(key, kind="stable"))


class Spill:
    """Routes events to the hour chunk they fall in, holding future ones until then.

    Stages may produce events past their own chunk (a remittance an hour after a call,
    a planned fraud episode); they wait here. Events outside the feed are dropped.
    """

    def __init__(self, bounds: I64) -> None:
        self._bounds = bounds
        self._pending: dict[int, list[Batch]] = {}

    def add(self, batch: Batch) -> None:
        inside = (batch.ts >= 0) & (batch.ts < self._bounds[-1])
        batch = batch.take(inside)
        chunk = np.searchsorted(self._bounds, batch.ts, side="right") - 1
        order = np.argsort(chunk, kind="stable")
        chunk_sorted = chunk[order]
        cuts = np.flatnonzero(np.diff(chunk_sorted)) + 1
        for piece in np.split(order, cuts):
            if len(piece):
                key = int(chunk[piece[0]])
                self._pending.setdefault(key, []).append(batch.take(piece))

    def take(self, index: int) -> Batch:
        return concat(self._pending.pop(index, []))
