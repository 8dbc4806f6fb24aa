"""Circuit breaker for a flood of bad input.

A broken upstream deploy can send nothing but garbage. Dead-lettering every record
would look like work while warning nobody; the breaker instead trips when most of the
recent records were refused, the runner stops taking input and says why, and it
carries on only when an operator says so (the records wait in the topic meanwhile).
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass


@dataclass(frozen=True)
class BreakerConfig:
    window: int = 2_000  # the most recent records judged
    min_records: int = 1_000  # no verdict on fewer
    bad_share: float = 0.9  # trips at this share of refused records or more


class Breaker:
    """Judges the most recent `window` records. It keeps only the refused ones, each
    with its position in the stream: a batch costs its refused records, not one step per
    record (the worker's batches are mostly good, thousands at a time)."""

    def __init__(self, config: BreakerConfig | None = None) -> None:
        self.config = config or BreakerConfig()
        self._seen = 0  # records counted since the last reset
        self._refused: deque[tuple[int, str]] = deque()  # (position, reason) in the window
        self.reason: str | None = None  # why it is open; None while closed

    @property
    def open(self) -> bool:
        return self.reason is not None

    def record(self, good: int, bad_reasons: list[str]) -> bool:
        """Count a batch (good records, then the reasons of the refused ones); True when
        this batch tripped the breaker."""
        first = self._seen + good  # the batch's refused records come after its good ones
        refused = self._refused
        refused.extend((first + k, reason) for k, reason in enumerate(bad_reasons))
        self._seen = first + len(bad_reasons)
        oldest = self._seen - self.config.window  # positions before it have left the window
        while refused and refused[0][0] < oldest:
            refused.popleft()
        judged = min(self._seen, self.config.window)
        if self.open or judged < max(1, self.config.min_records):  # a share of none is no verdict
            return False
        share = len(refused) / judged
        if share < self.config.bad_share:
            return False
        top, count = Counter(reason for _, reason in refused).most_common(1)[0]
        self.reason = (
            f"{share:.0%} of the last {judged:,} records were refused "
            f"(most often: {top}, {count:,})"
        )
        return True

    def reset(self) -> None:
        """Close it again (an operator's call), forgetting the records judged so far."""
        self._refused.clear()
        self._seen = 0
        self.reason = None


__all__ = ["Breaker", "BreakerConfig"]
