"""Sinks: where alerts, dispatch tasks and dead letters go.

JSONL files here; Redis and Kafka sinks live with their runners. Output is encoded
with orjson in a fixed key order, so a replay writes byte-identical files.

A full or failing disk does not stop a run. When a write fails with ENOSPC, EDQUOT or
EIO the records it could not write wait in memory, in order, and every later `write`
(and `flush`, and `close`) retries them first; the file ends up exactly as if the
fault had never happened once it clears. The wait is bounded by `max_pending` records:
- a lossless sink (alerts, dispatch tasks: the default) raises :class:`UnwrittenOutput`
  when it would hold more, so the run stops loudly rather than dropping an alert;
- a sink with `drop_oldest` (dead letters: diagnostics, never worth stopping the
  engine for) drops its oldest waiting records instead and counts them in `dropped`.
Each failed attempt counts in `write_failures`; one warning is logged when a streak
of failures starts, not one per record. Any other OSError (a bad descriptor, a
permission change) is raised as before.
"""

from __future__ import annotations

import errno
import itertools
import logging
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import orjson

log = logging.getLogger("fraud_warning.sinks")

#: write errors of a full or failing disk: the records wait in memory and are retried
TRANSIENT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO})
DEFAULT_MAX_PENDING = 100_000
_CHUNK = 4096  # records per write call when draining


class RawFile(Protocol):
    """What the sink writes through: an unbuffered binary file (`FileIO`)."""

    def write(self, data: memoryview, /) -> int | None: ...

    def close(self) -> None: ...


class UnwrittenOutput(OSError):
    """Records that could not be written: the file(s) named in the message are incomplete.

    An OSError, so a caller that reports "cannot write output" already reports this."""


class JsonlSink:
    """Appends one JSON object per line; `None` path discards (and still counts).

    `count` is records given, `written` records on disk, `pending` records waiting in
    memory for the disk, `dropped` records given up (only with `drop_oldest`)."""

    def __init__(
        self,
        path: Path | None,
        *,
        max_pending: int = DEFAULT_MAX_PENDING,
        drop_oldest: bool = False,
        raw: RawFile | None = None,
    ) -> None:
        """`raw` writes to an already open file instead of opening `path` (tests use it
        to inject faults); `path` then only names the file in messages."""
        if max_pending < 1:
            raise ValueError("max_pending must be at least 1")
        self.path = path
        self.max_pending = max_pending
        self.drop_oldest = drop_oldest
        self.count = 0
        self.written = 0
        self.dropped = 0
        self.write_failures = 0
        self.last_error: OSError | None = None
        self.reported = False  # a caller has reported what is unwritten: close stays quiet
        self._pending: deque[bytes] = deque()
        self._head = 0  # bytes of _pending[0] already written (a partial write)
        self._failing = False  # in a streak of failed writes
        self._streak_failures = 0
        self._fh: RawFile | None = raw
        if raw is None and path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = path.open("wb", buffering=0)

    @property
    def pending(self) -> int:
        """Records waiting in memory for the disk."""
        return len(self._pending)

    def write(self, records: Iterable[dict[str, Any]]) -> None:
        """Queues the records and writes everything waiting, oldest first."""
        lines = [orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in records]
        self.count += len(lines)
        if self._fh is None or (not lines and not self._pending):
            return
        self._pending.extend(lines)
        if self._drain() or len(self._pending) <= self.max_pending:
            return
        if self.drop_oldest:
            self._drop(len(self._pending) - self.max_pending)
            return
        raise self._unwritten(
            f"more than {self.max_pending:,} record(s) waiting for the disk: "
            f"{self.pending:,} not written to {self.path}"
        )

    def flush(self) -> bool:
        """Retries what is waiting; True when nothing is left unwritten."""
        if self._fh is None:
            return True
        return self._drain()

    def describe(self, what: str = "record(s)") -> str:
        """'N what not written to PATH (reason)', with what was dropped; '' if nothing."""
        lost = self.pending + self.dropped
        if not lost:
            return ""
        reason = self.last_error.strerror if self.last_error is not None else "unknown error"
        text = f"{lost:,} {what} not written to {self.path} ({reason})"
        if self.dropped:
            text += f", {self.dropped:,} of them dropped when {self.max_pending:,} were waiting"
        return text

    def close(self) -> None:
        """Writes what it can and closes the file. A lossless sink still holding records
        raises :class:`UnwrittenOutput` unless `reported`; a `drop_oldest` one logs."""
        fh = self._fh
        if fh is None:
            return
        try:
            self._drain()
        finally:
            self._fh = None
            fh.close()
        if self.reported or not (self.pending or self.dropped):
            return
        self.reported = True
        if not self.drop_oldest and self.pending:
            raise self._unwritten(self.describe())
        log.warning("%s", self.describe())

    def __enter__(self) -> JsonlSink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.close()
        except UnwrittenOutput:
            if exc is None:
                raise  # otherwise the exception already on its way says the run failed

    # -- the disk ----------------------------------------------------------------------

    def _drain(self) -> bool:
        """Writes waiting records in order until done (True) or the disk fails (False)."""
        fh = self._fh
        assert fh is not None
        pending = self._pending
        while pending:
            data = memoryview(b"".join(itertools.islice(pending, _CHUNK)))[self._head :]
            done = 0
            try:
                while done < len(data):
                    n = fh.write(data[done:])
                    if not n:
                        raise OSError(errno.EIO, "the file accepted no bytes")
                    done += n
            except OSError as exc:
                self._consume(done)
                if exc.errno not in TRANSIENT_ERRNOS:
                    raise
                self._failed(exc)
                return False
            self._consume(done)
        if self._failing:
            self._failing = False
            log.info(
                "%s writable again after %d failed write(s); %d record(s) dropped",
                self.path,
                self._streak_failures,
                self.dropped,
            )
        return True

    def _consume(self, nbytes: int) -> None:
        """`nbytes` more of the waiting records reached the file."""
        left = self._head + nbytes
        pending = self._pending
        while pending and left >= len(pending[0]):
            left -= len(pending.popleft())
            self.written += 1
        self._head = left

    def _failed(self, exc: OSError) -> None:
        self.write_failures += 1
        self.last_error = exc
        if not self._failing:
            self._failing = True
            self._streak_failures = 0
            policy = "dropping the oldest" if self.drop_oldest else "then stopping"
            log.warning(
                "cannot write %s (%s): keeping records in memory and retrying on each "
                "write (up to %d, %s)",
                self.path,
                exc.strerror,
                self.max_pending,
                policy,
            )
        self._streak_failures += 1

    def _drop(self, n: int) -> None:
        """Drops the `n` oldest waiting records, never one already partly written."""
        keep = self._pending.popleft() if self._head else None
        for _ in range(min(n, len(self._pending))):
            self._pending.popleft()
            self.dropped += 1
        if keep is not None:
            self._pending.appendleft(keep)

    def _unwritten(self, message: str) -> UnwrittenOutput:
        exc = UnwrittenOutput(message)
        exc.errno = self.last_error.errno if self.last_error is not None else None
        return exc


__all__ = ["DEFAULT_MAX_PENDING", "TRANSIENT_ERRNOS", "JsonlSink", "RawFile", "UnwrittenOutput"]
