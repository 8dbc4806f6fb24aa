"""The event ids admission has taken within the lateness window, held as 128-bit
fingerprints (MurmurHash3_x64_128 of the id's UTF-8 bytes, seed 0) with their event times,
in admission order.

Why fingerprints: a dict of id strings and a list of them in order cost 122 bytes an
id (ten-character ids) to 148 (UUIDs), kept every string alive for the window, and its
lookups and deletions were 6 % of the embedded engine's instructions per event (under 2 %
now). `_admitted.c` holds an id in 16 bytes of an open-addressing table, kept between a
quarter and half full, and 24 of a ring in admission order: 56 to 112 bytes an id. At
10,000 events a second and the default 600 s of lateness, six million ids: 470 MB,
against 730 to 890 MB as strings.

Why 128 bits: two different ids share a fingerprint with a chance of 2**-128 a pair,
so even six million ids held against every event of a year at that rate (3 * 10**11)
leave the chance of a good event refused as a duplicate below 10**-20.

Where the package runs without its C modules, :class:`PyAdmittedIds` does the same with
a dict; both fingerprint alike, so a snapshot restores in either.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Final, Protocol

from fraud_warning.c_modules import c_module

_MASK: Final = (1 << 64) - 1
_C1: Final = 0x87C37B91114253D5
_C2: Final = 0x4CF5AD432745937F


class IdMemory(Protocol):
    """What admission asks of its memory of ids (the C type or its twin)."""

    def add(self, event_id: str, ts: float) -> bool: ...
    def forget_before(self, cutoff: float) -> int: ...
    def restore(self, a: int, b: int, ts: float) -> bool: ...
    def dump(self) -> list[tuple[int, int, float]]: ...
    def __len__(self) -> int: ...
    def __contains__(self, event_id: object) -> bool: ...


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & _MASK


def _fmix(k: int) -> int:
    k ^= k >> 33
    k = (k * 0xFF51AFD7ED558CCD) & _MASK
    k ^= k >> 33
    k = (k * 0xC4CEB9FE1A85EC53) & _MASK
    return k ^ (k >> 33)


def _mix1(k1: int) -> int:
    return (_rotl((k1 * _C1) & _MASK, 31) * _C2) & _MASK


def _mix2(k2: int) -> int:
    return (_rotl((k2 * _C2) & _MASK, 33) * _C1) & _MASK


def py_fingerprint(event_id: str) -> tuple[int, int]:
    """MurmurHash3_x64_128 of the id's UTF-8 bytes, seed 0, as (h1, h2): what
    `_admitted.fingerprint` answers."""
    data = event_id.encode()
    n = len(data)
    h1 = h2 = 0
    end = n - n % 16
    for i in range(0, end, 16):
        h1 ^= _mix1(int.from_bytes(data[i : i + 8], "little"))
        h1 = (_rotl(h1, 27) + h2) & _MASK
        h1 = (h1 * 5 + 0x52DCE729) & _MASK
        h2 ^= _mix2(int.from_bytes(data[i + 8 : i + 16], "little"))
        h2 = (_rotl(h2, 31) + h1) & _MASK
        h2 = (h2 * 5 + 0x38495AB5) & _MASK
    tail = data[end:]
    if len(tail) > 8:
        h2 ^= _mix2(int.from_bytes(tail[8:], "little"))
    if tail:
        h1 ^= _mix1(int.from_bytes(tail[:8], "little"))
    h1 ^= n
    h2 ^= n
    h1 = (h1 + h2) & _MASK
    h2 = (h2 + h1) & _MASK
    h1, h2 = _fmix(h1), _fmix(h2)
    h1 = (h1 + h2) & _MASK
    h2 = (h2 + h1) & _MASK
    return h1, h2


def _stored(a: int, b: int) -> tuple[int, int]:
    # (0, 0) marks an empty slot in the C table, which keeps that fingerprint as (0, 1)
    return (a, b) if a or b else (0, 1)


def _key(event_id: object) -> tuple[int, int]:
    """An id's fingerprint as the table keeps it; refused, as in C, unless a str."""
    if not isinstance(event_id, str):
        raise TypeError(f"an event id is a str, not {type(event_id).__name__}")
    return _stored(*py_fingerprint(event_id))


class PyAdmittedIds:
    """`_admitted.AdmittedIds` in Python: the same answers, a set's and a deque's cost."""

    def __init__(self) -> None:
        self._held: set[tuple[int, int]] = set()
        self._order: deque[tuple[tuple[int, int], float]] = deque()

    def add(self, event_id: str, ts: float) -> bool:
        """True when the id is new (and now held), False when it is held."""
        return self._take(_key(event_id), ts)

    def forget_before(self, cutoff: float) -> int:
        """Forget, oldest admitted first, the ids whose time is before `cutoff`."""
        forgotten = 0
        while self._order and self._order[0][1] < cutoff:
            key, _ = self._order.popleft()
            self._held.discard(key)
            forgotten += 1
        return forgotten

    def restore(self, a: int, b: int, ts: float) -> bool:
        """Hold a fingerprint from :meth:`dump` unless held; True when new."""
        return self._take(_stored(a, b), ts)

    def dump(self) -> list[tuple[int, int, float]]:
        """The fingerprints held and their times, oldest admitted first."""
        return [(a, b, ts) for (a, b), ts in self._order]

    def __len__(self) -> int:
        return len(self._held)

    def __contains__(self, event_id: object) -> bool:
        return _key(event_id) in self._held

    def _take(self, key: tuple[int, int], ts: float) -> bool:
        if key in self._held:
            return False
        self._held.add(key)
        self._order.append((key, ts))
        return True


def compiled() -> Any:
    """The C module (`_admitted.c`), or None when the package runs without it."""
    return c_module("_admitted")


_C: Final = compiled()


def admitted_ids() -> IdMemory:
    """An empty memory of ids: the C type where the package is compiled."""
    return PyAdmittedIds() if _C is None else _C.AdmittedIds()


def fingerprint(event_id: str) -> tuple[int, int]:
    """:func:`py_fingerprint`, in C where the package is compiled."""
    return py_fingerprint(event_id) if _C is None else _C.fingerprint(event_id)


__all__ = ["IdMemory", "PyAdmittedIds", "admitted_ids", "compiled", "fingerprint", "py_fingerprint"]
