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
    def __init__(self, config: BreakerConfig | None = None) -> None:
        self.config = config or BreakerConfig()
        self._recent: deque[str | None] = deque(maxlen=self.config.window)  # reason or None
        self._bad = 0
        self.reason: str | None = None  # why it is open; None while closed

    @property
    def open(self) -> bool:
        return self.reason is not None

    def record(self, good: int, bad_reasons: list[str]) -> bool:
        """Count a batch (good records, and the reasons of the refused ones); True when
        this batch tripped the breaker."""
        recent = self._recent
        for item in [None] * good + list(bad_reasons):
            if len(recent) == recent.maxlen and recent[0] is not None:
                self._bad -= 1
            recent.append(item)
            if item is not None:
                self._bad += 1
        if self.open or len(recent) < self.config.min_records:
            return False
        share = self._bad / len(recent)
        if share < self.config.bad_share:
            return False
        top, count = Counter(r for r in recent if r is not None).most_common(1)[0]
        self.reason = (
            f"{share:.0%} of the last {len(recent):,} records were refused "
            f"(most often: {top}, {count:,})"
        )
        return True

    def reset(self) -> None:
        """Close it again (an operator's call), forgetting the records judged so far."""
        self._recent.clear()
        self._bad = 0
        self.reason = None


__all__ = ["Breaker", "BreakerConfig"]
