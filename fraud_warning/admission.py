"""Admission: which decoded events the engine takes, in event time.

Three checks before an event touches any state, each with a dead-letter reason:
- **late**: older than the watermark minus the allowed lateness;
- **bad_timestamp**: further ahead of the watermark than `max_ahead_s`, a week: a broken
  clock one record would otherwise drag the watermark to, making every good event after
  it late. Without a wall clock the engine cannot tell a clock error from a quiet spell,
  so the bound is far beyond any gap a city's feed has (a night, a weekend outage);
- **duplicate**: an event id already taken within the lateness window (at-least-once
  delivery re-sends records; a call counted twice reads as twice the talk time).
Ids are remembered for as long as an event with them could still be admitted, as
128-bit fingerprints (:mod:`fraud_warning.admitted`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Final

import msgspec

from fraud_warning.admitted import IdMemory, admitted_ids
from fraud_warning.decode import DeadLetter, Decoded, raw_text
from fraud_warning.event_fields import EVENT_ID

_NEVER: Final = float("-inf")  # no watermark yet


@dataclass(frozen=True)
class AdmissionConfig:
    allowed_lateness_s: float = 600.0
    max_ahead_s: float = 7 * 86_400.0


class Admission:
    def __init__(self, config: AdmissionConfig | None = None) -> None:
        self.config = config or AdmissionConfig()
        # native floats: a compiled read of the (interpreted, frozen) config is a lookup
        self._lateness: float = self.config.allowed_lateness_s
        self._ahead: float = self.config.max_ahead_s
        self.watermark = _NEVER
        # ids taken, oldest admitted first, each with its event time
        self.ids: IdMemory = admitted_ids()
        # its two per-event methods bound once: compiled, a method call on a C type looks
        # the name up on every call, a bound method is called directly
        self._take: Callable[[str, float], bool] = self.ids.add
        self._forget: Callable[[float], int] = self.ids.forget_before

    def admit(self, item: Decoded, ts: float, source: str) -> DeadLetter | None:
        """None when the event is taken (and the watermark moved), else why not."""
        watermark = self.watermark
        if ts < watermark - self._lateness:
            return _letter(item, source, "late", f"{watermark - ts:.0f} s behind the watermark")
        if ts > watermark + self._ahead and watermark > _NEVER:
            ahead = ts - watermark
            return _letter(item, source, "bad_timestamp", f"{ahead:.0f} s ahead of the stream")
        event_id: str = item.fields[EVENT_ID]
        if not self._take(event_id, ts):
            return _letter(item, source, "duplicate", f"event id {event_id} already taken")
        if ts > watermark:
            self.advance(ts)
        return None

    def advance(self, watermark: float) -> None:
        """Move the watermark (an admitted event, or a producer's promise)."""
        if watermark <= self.watermark:
            return
        self.watermark = watermark
        # ids arrive roughly in time order: forgotten from the front while too old
        self._forget(watermark - self._lateness)

    def restore(self, held: Iterable[tuple[int, int, float]]) -> None:
        """Take fingerprints held earlier (a snapshot's :meth:`IdMemory.dump`), oldest
        admitted first."""
        ids = self.ids
        for a, b, ts in held:
            ids.restore(a, b, ts)

    def remember(self, seen: Mapping[str, float]) -> None:
        """Take ids admitted earlier as strings with their times, oldest admitted first
        (a snapshot written before fingerprints)."""
        ids = self.ids
        for event_id, ts in seen.items():
            ids.add(event_id, ts)


def _letter(item: Decoded, source: str, reason: str, detail: str) -> DeadLetter:
    return DeadLetter(
        source, item.offset, reason, detail, raw_text(msgspec.json.encode(item.event))
    )


__all__ = ["Admission", "AdmissionConfig"]
