"""Engine output into the desk, buffered in memory while Redis is unreachable.

Alerts are handed over in order; each carries the time it was produced, so a task created
after an outage keeps its honest `created_at` and target. When a write fails with a
connection error the alert stays at the head of the buffer and everything after it waits
behind it, so order is kept. Because :meth:`Desk.ingest` is idempotent, an alert whose
write reached Redis just before the connection dropped is not duplicated by the retry.

The buffer is bounded: when it is full the sink raises, so a Kafka consumer stops
committing (and replays later) rather than dropping alerts.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

from fraud_warning.desk.connection import STORE_ERRORS
from fraud_warning.desk.errors import Invalid, Unavailable
from fraud_warning.desk.service import Desk
from fraud_warning.masking import mask_msisdn

log = logging.getLogger("fraud_warning.desk.sink")


class DeskSink:
    """Writes alerts to `desk`; holds up to `max_buffer` of them while Redis is away."""

    def __init__(
        self, desk: Desk, *, max_buffer: int = 100_000, retry_every_s: float = 1.0
    ) -> None:
        self.desk = desk
        self.max_buffer = max_buffer
        self.retry_every_s = retry_every_s
        self.written = 0
        self.rejected = 0
        self._pending: deque[tuple[dict[str, Any], float]] = deque()
        self._next_try = float("-inf")

    @property
    def pending(self) -> int:
        return len(self._pending)

    def write(self, alerts: Iterable[Mapping[str, Any]]) -> None:
        """Queues alerts stamped with the clock's now, then writes what it can."""
        now = self.desk.clock.now()
        for alert in alerts:
            if len(self._pending) >= self.max_buffer:
                raise Unavailable(
                    f"desk buffer full ({self.max_buffer} alerts) while Redis is unreachable"
                )
            self._pending.append((dict(alert), now))
        self.flush()

    def flush(self) -> bool:
        """Writes buffered alerts in order; True when none is left waiting."""
        now = self.desk.clock.now()
        if self._pending and now < self._next_try:
            return False  # do not hammer a Redis that just failed
        while self._pending:
            alert, produced = self._pending[0]
            try:
                self.desk.ingest(alert, now=produced)
            except STORE_ERRORS as exc:
                self.desk.metrics.store_errors.labels("ingest").inc()
                self._next_try = now + self.retry_every_s
                log.warning(
                    "redis unreachable (%s); %d alert(s) buffered",
                    type(exc).__name__,
                    len(self._pending),
                )
                break
            except Invalid as exc:
                # retrying cannot fix a malformed alert: count it and move on
                self.rejected += 1
                log.error(
                    "alert for %s refused: %s",
                    mask_msisdn(str(alert.get("subscriber", ""))),
                    exc,
                )
            else:
                self.written += 1
            self._pending.popleft()
        self.desk.metrics.buffered.set(len(self._pending))
        return not self._pending

    def close(self, timeout_s: float = 30.0) -> int:
        """Keeps flushing for up to `timeout_s` (wall time); returns alerts still unwritten."""
        deadline = time.monotonic() + timeout_s
        while not self.flush() and time.monotonic() < deadline:
            time.sleep(min(0.2, self.retry_every_s))
            self._next_try = float("-inf")
        if self._pending:
            log.error("%d alert(s) could not be written to the desk", len(self._pending))
        return len(self._pending)


__all__ = ["DeskSink"]
