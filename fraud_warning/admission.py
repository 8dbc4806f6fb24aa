"""Admission: which decoded events the engine takes, in event time.

Three checks before an event touches any state, each with a dead-letter reason:
- **late**: older than the watermark minus the allowed lateness;
- **bad_timestamp**: further ahead of the watermark than `max_ahead_s`, a week: a broken
  clock one record would otherwise drag the watermark to, making every good event after
  it late. Without a wall clock the engine cannot tell a clock error from a quiet spell,
  so the bound is far beyond any gap a city's feed has (a night, a weekend outage);
- **duplicate**: an event id already taken within the lateness window (at-least-once
  delivery re-sends records; a call counted twice reads as twice the talk time).
Ids are remembered for as long as an event with them could still be admitted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import msgspec

from fraud_warning.decode import DeadLetter, Decoded, raw_text
from fraud_warning.event_fields import EVENT_ID

_NEVER: Final = float("-inf")  # no watermark yet
COMPACT_AT: Final = 4096  # forgotten ids at the front of the order list before it is cut


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
        self.seen: dict[str, float] = {}  # event id → event time, oldest admitted first
        # the same ids in admission order, to forget from the front: `next(iter(seen))`
        # scans the dict's deleted slots from its start, which grew with every id dropped
        # until a resize and cost more than the rest of admission. A list read from
        # `_head` (compacted now and then), not a deque: compiled, a list's append and
        # index are native where a deque's are method calls
        self._order: list[str] = []
        self._head = 0

    def admit(self, item: Decoded, ts: float, source: str) -> DeadLetter | None:
        """None when the event is taken (and the watermark moved), else why not."""
        watermark = self.watermark
        if ts < watermark - self._lateness:
            return _letter(item, source, "late", f"{watermark - ts:.0f} s behind the watermark")
        if ts > watermark + self._ahead and watermark > _NEVER:
            ahead = ts - watermark
            return _letter(item, source, "bad_timestamp", f"{ahead:.0f} s ahead of the stream")
        event_id: str = item.fields[EVENT_ID]
        if event_id in self.seen:
            return _letter(item, source, "duplicate", f"event id {event_id} already taken")
        self.seen[event_id] = ts
        self._order.append(event_id)
        if ts > watermark:
            self.advance(ts)
        return None

    def advance(self, watermark: float) -> None:
        """Move the watermark (an admitted event, or a producer's promise)."""
        if watermark <= self.watermark:
            return
        self.watermark = watermark
        seen, order, head = self.seen, self._order, self._head
        cutoff = watermark - self._lateness
        # ids arrive roughly in time order: forget from the front while they are too old
        while head < len(order):
            oldest = order[head]
            if seen[oldest] >= cutoff:
                break
            head += 1
            del seen[oldest]
        if head > COMPACT_AT and head * 2 > len(order):
            del order[:head]
            head = 0
        self._head = head

    def remember(self, seen: Mapping[str, float]) -> None:
        """Take ids admitted earlier (a restored snapshot), oldest admitted first."""
        for event_id, ts in seen.items():
            if event_id not in self.seen:
                self.seen[event_id] = ts
                self._order.append(event_id)


def _letter(item: Decoded, source: str, reason: str, detail: str) -> DeadLetter:
    return DeadLetter(
        source, item.offset, reason, detail, raw_text(msgspec.json.encode(item.event))
    )


__all__ = ["Admission", "AdmissionConfig"]
