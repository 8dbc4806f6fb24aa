"""Sinks: where alerts, dispatch tasks and dead letters go.

JSONL files here; Redis and Kafka sinks live with their runners. Output is encoded
with orjson in a fixed key order, so a replay writes byte-identical files.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import orjson


class JsonlSink:
    """Appends one JSON object per line; `None` path discards (and still counts)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.count = 0
        self._fh: IO[bytes] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = path.open("wb")

    def write(self, records: Iterable[dict[str, Any]]) -> None:
        fh = self._fh
        for record in records:
            self.count += 1
            if fh is not None:
                fh.write(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE))

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> JsonlSink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


__all__ = ["JsonlSink"]
