"""Decode stage: raw records → validated events, or dead letters with a reason.

Batch-oriented: a batch of good records costs one C-level msgspec pass per record and
no Python-level validation; only a record that fails is looked at again to name its
reason. A Kafka record value may hold one event or a JSON array of events.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import msgspec

from fraud_warning.wire import Call, WireEvent, derive_origin

#: Closed set of dead-letter reasons (they are metric label values, so keep it small).
REASONS = (
    "invalid_json",
    "not_an_object",
    "unknown_type",
    "missing_field",
    "wrong_type",
    "invalid_value",
    "bad_timestamp",
    "late",
    "duplicate",
)

MAX_RAW_CHARS = 4096  # keep dead letters bounded even when a record is huge


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A rejected record: where it came from, why, and the record itself (truncated)."""

    source: str
    offset: int
    reason: str
    detail: str
    raw: str

    def to_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "offset": self.offset,
            "reason": self.reason,
            "detail": self.detail,
            "raw": self.raw,
        }


@dataclass(frozen=True, slots=True)
class Decoded:
    """A good event and where it came from (line number in a file, offset in a topic)."""

    offset: int
    event: WireEvent


_TIMESTAMP = re.compile(r"datetime|RFC3339|timezone", re.IGNORECASE)


def classify(message: str, raw: bytes) -> str:
    """Map a msgspec error message onto one of :data:`REASONS`."""
    if "missing required field" in message:
        return "missing_field"
    if "$.ts" in message or _TIMESTAMP.search(message):
        return "bad_timestamp"
    if "$.type" in message or "tag" in message.lower():
        return "unknown_type"
    if message.startswith("Expected `object`"):
        return "not_an_object"
    if message.startswith("Expected"):
        # "Expected `int` >= 0" or "Expected `float` > 0" are value constraints, not types
        return "invalid_value" if re.search(r"[<>]=?|length|match", message) else "wrong_type"
    return "invalid_value"


def _raw_text(raw: bytes) -> str:
    return raw[:MAX_RAW_CHARS].decode("utf-8", errors="replace")


class Decoder:
    """Decodes records into events; never raises on bad input."""

    def __init__(self, source: str = "-") -> None:
        self.source = source
        self._one = msgspec.json.Decoder(WireEvent)
        self._many = msgspec.json.Decoder(list[WireEvent])
        self._raw_list = msgspec.json.Decoder(list[msgspec.Raw])

    def _fail(self, offset: int, raw: bytes, reason: str, detail: str) -> DeadLetter:
        return DeadLetter(self.source, offset, reason, detail[:300], _raw_text(raw))

    def decode_one(self, raw: bytes, offset: int) -> Decoded | DeadLetter:
        try:
            event = self._one.decode(raw)
        except msgspec.ValidationError as exc:
            msg = str(exc)
            return self._fail(offset, raw, classify(msg, raw), msg)
        except msgspec.DecodeError as exc:
            return self._fail(offset, raw, "invalid_json", str(exc))
        if type(event) is Call and event.origin is None:
            event.origin = derive_origin(event.caller)  # type: ignore[assignment]
        return Decoded(offset, event)

    def decode_lines(
        self, lines: Iterable[tuple[int, bytes]]
    ) -> tuple[list[Decoded], list[DeadLetter]]:
        """Decode (offset, line) pairs; blank lines are skipped, not dead-lettered."""
        good: list[Decoded] = []
        bad: list[DeadLetter] = []
        for offset, line in lines:
            if not line.strip():
                continue
            out = self.decode_one(line, offset)
            (good if type(out) is Decoded else bad).append(out)  # type: ignore[arg-type]
        return good, bad

    def decode_record(self, value: bytes, offset: int) -> tuple[list[Decoded], list[DeadLetter]]:
        """A broker record: one event object or a JSON array of events.

        The whole array is validated in one pass; only when that fails is it split
        so that good events in it are kept and each bad one is named.
        """
        stripped = value.lstrip()
        if not stripped.startswith(b"["):
            out = self.decode_one(value, offset)
            return ([out], []) if type(out) is Decoded else ([], [out])  # type: ignore[list-item]
        try:
            events = self._many.decode(value)
        except (msgspec.ValidationError, msgspec.DecodeError):
            pass
        else:
            for event in events:
                if type(event) is Call and event.origin is None:
                    event.origin = derive_origin(event.caller)  # type: ignore[assignment]
            return [Decoded(offset, e) for e in events], []
        try:
            parts: Sequence[msgspec.Raw] = self._raw_list.decode(value)
        except msgspec.DecodeError as exc:
            return [], [self._fail(offset, value, "invalid_json", str(exc))]
        good: list[Decoded] = []
        bad: list[DeadLetter] = []
        for part in parts:
            out = self.decode_one(bytes(part), offset)
            (good if type(out) is Decoded else bad).append(out)  # type: ignore[arg-type]
        return good, bad


__all__ = ["REASONS", "DeadLetter", "Decoded", "Decoder", "classify"]
