"""Decode stage: raw records → validated events, or dead letters with a reason.

Batch-oriented: a batch of good records costs one C-level msgspec pass per record and
no Python-level validation; only a record that fails is looked at again to name its
reason. A Kafka record value may hold one event or a JSON array of events.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import msgspec
from mypy_extensions import mypyc_attr

from fraud_warning.event_fields import (
    CALL_CALLEE,
    CALL_CALLER,
    CALL_ORIGIN,
    SMS_RECEIVER,
    SMS_SENDER,
    TRANSFER_PAYER,
    TS,
    fields_of,
)
from fraud_warning.textcheck import is_e164, is_utf8, year_within
from fraud_warning.wire import (
    E164_PATTERN,
    MAX_YEAR,
    MIN_YEAR,
    Call,
    Sms,
    Transfer,
    WireEvent,
    derive_origin,
)

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

MAX_RAW_CHARS: Final = 4096  # keep dead letters bounded even when a record is huge
#: msgspec raises RecursionError (not a DecodeError) on JSON nested deeper than Python's
#: recursion limit allows; such a record is malformed for us, whatever else it holds.
TOO_DEEP = "JSON is nested too deeply"


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


# acyclic (compiled): an event, its field tuple and an offset, no cycle possible; one is
# made and freed per event, so skipping the cyclic GC's tracking and header pays
@mypyc_attr(acyclic=True)
class Decoded:
    """A good event, its fields and where it came from (line number in a file, offset in
    a topic).

    `fields` is the event's fields as a tuple (`msgspec.structs.astuple`, one C call),
    taken once when decoded: compiled code indexes it with :mod:`fraud_warning.event_fields`
    instead of reading the struct's attributes through Python's generic lookup. An
    event is never changed once decoded, so the two always agree.

    A plain class, not a dataclass: compiled, a dataclass keeps the `__init__` that
    `dataclasses` generates, interpreted bytecode run once per event (about 1,100
    instructions, as much as the rest of decoding after msgspec)."""

    __slots__ = ("event", "fields", "offset")

    def __init__(self, offset: int, event: WireEvent) -> None:
        self.offset = offset
        self.event = event
        self.fields: tuple[Any, ...] = _FIELDS_OF(event)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Decoded):
            return NotImplemented
        return self.offset == other.offset and self.event == other.event

    def __repr__(self) -> str:
        return f"Decoded(offset={self.offset!r}, event={self.event!r})"


_AT = re.compile(r" - at `(\$[^`]*)`\Z")


def classify(message: str, raw: bytes) -> str:
    """Map a msgspec error message onto one of :data:`REASONS`.

    Keyed on msgspec's fixed wording and the field path only: an enum error quotes the
    record's value, which may be any text (`"origin": "datetime"` is not a bad timestamp).
    """
    at = _AT.search(message)
    path = at.group(1) if at else "$"
    head = message[: at.start()] if at else message
    if head.startswith("Object missing required field"):
        return "missing_field"
    if path == "$.ts":
        return "bad_timestamp"
    if path == "$.type":
        return "unknown_type"
    if head.startswith("Expected `object`") and path == "$":
        return "not_an_object"
    if head.startswith("Expected"):
        # "Expected `int` >= 0" or "Expected `float` > 0" are value constraints, not types
        return "invalid_value" if re.search(r"[<>]=?|length|match", head) else "wrong_type"
    return "invalid_value"


def raw_text(raw: bytes) -> str:
    """A record as dead-letter text: bounded, and valid UTF-8 whatever it held."""
    return raw[:MAX_RAW_CHARS].decode("utf-8", errors="replace")


# each event type's E.164 fields, in the contract's order (the first bad one is named)
_PHONES: Final[dict[type, tuple[tuple[int, str], ...]]] = {
    Call: ((CALL_CALLER, "caller"), (CALL_CALLEE, "callee")),
    Sms: ((SMS_SENDER, "sender"), (SMS_RECEIVER, "receiver")),
    Transfer: ((TRANSFER_PAYER, "payer"),),
}
_FIELDS_OF: Final = fields_of
_CALL: Final = Call
# in C where compiled (fraud_warning/textcheck.py); held here as constants, which
# compiled code reads without a lookup in a module's dict
_IS_E164: Final = is_e164
_IS_UTF8: Final = is_utf8
_YEAR_WITHIN: Final[Callable[..., bool]] = year_within
# objects, not ints: compiled, an int constant is unboxed and would be boxed per call
_MIN_YEAR: Final[object] = MIN_YEAR
_MAX_YEAR: Final[object] = MAX_YEAR


def _bad_phone(item: Decoded) -> str | None:
    """Why one of the event's phone numbers is not E.164, or None; worded as msgspec
    words a pattern mismatch, so :func:`classify` and dead letters read the same."""
    fields = item.fields
    for at, name in _PHONES[type(item.event)]:
        if not _IS_E164(fields[at]):
            return f"Expected `str` matching regex {E164_PATTERN!r} - at `$.{name}`"
    return None


def _checked(item: Decoded) -> str | None:
    """What msgspec cannot check for us, in the order a record is read: phone numbers,
    then the event time's year. The reason's detail, or None for a good event."""
    bad = _bad_phone(item)
    if bad is not None:
        return bad
    ts = item.fields[TS]
    if _YEAR_WITHIN(ts, _MIN_YEAR, _MAX_YEAR):
        return None
    return f"year {ts.year} outside {MIN_YEAR}..{MAX_YEAR} - at `$.ts`"


def _bad_utf8(raw: bytes) -> str | None:
    """Why `raw` is not UTF-8 (JSON text must be), or None; ASCII input costs one scan.

    msgspec checks UTF-8 only in strings it keeps: invalid bytes in a skipped field
    pass, and in a kept one raise UnicodeDecodeError rather than a DecodeError.
    """
    if _IS_UTF8(raw):
        return None
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"invalid UTF-8: {exc}"
    return None


def _decoded(offset: int, event: WireEvent) -> Decoded:
    """A decoded event, a call's origin derived when not sent.

    Numbers, accounts and cells are not interned here: state interns what it keeps
    (fraud_warning.state), which covers the distributed runner's stage records too, and
    most of an event's strings are never kept."""
    item = Decoded(offset, event)
    if type(event) is _CALL and item.fields[CALL_ORIGIN] is None:
        event.origin = derive_origin(item.fields[CALL_CALLER])  # type: ignore[assignment]
        item.fields = _FIELDS_OF(event)
    return item


class Decoder:
    """Decodes records into events; never raises on bad input."""

    def __init__(self, source: str = "-") -> None:
        self.source = source
        self._one = msgspec.json.Decoder(WireEvent)
        self._many = msgspec.json.Decoder(list[WireEvent])
        self._raw_list = msgspec.json.Decoder(list[msgspec.Raw])
        # Syntax only: a float too big for a double (1e400) is a bad value, not bad JSON.
        self._syntax = msgspec.json.Decoder(float_hook=lambda _: 0.0)

    def _fail(self, offset: int, raw: bytes, reason: str, detail: str) -> DeadLetter:
        return DeadLetter(self.source, offset, reason, detail[:300], raw_text(raw))

    def decode_one(self, raw: bytes, offset: int) -> Decoded | DeadLetter:
        bad_utf8 = _bad_utf8(raw)
        if bad_utf8 is not None:
            return self._fail(offset, raw, "invalid_json", bad_utf8)
        try:
            event = self._one.decode(raw)
        except msgspec.ValidationError as exc:
            msg = str(exc)
            try:  # msgspec checks types as it parses: `[` fails as "not an object"
                self._syntax.decode(raw)
            except msgspec.ValidationError:
                pass  # well-formed: a number Python cannot hold (a 5,000-digit integer)
            except msgspec.DecodeError as syntax:
                return self._fail(offset, raw, "invalid_json", str(syntax))
            except RecursionError:
                return self._fail(offset, raw, "invalid_json", TOO_DEEP)
            return self._fail(offset, raw, classify(msg, raw), msg)
        except msgspec.DecodeError as exc:
            return self._fail(offset, raw, "invalid_json", str(exc))
        except RecursionError:
            return self._fail(offset, raw, "invalid_json", TOO_DEEP)
        item = _decoded(offset, event)
        bad = _checked(item)
        if bad is not None:
            return self._fail(offset, raw, classify(bad, raw), bad)
        return item

    def decode_lines(
        self, lines: Iterable[tuple[int, bytes]]
    ) -> tuple[list[Decoded], list[DeadLetter]]:
        """Decode (offset, line) pairs; blank lines are skipped, not dead-lettered."""
        good: list[Decoded] = []
        bad: list[DeadLetter] = []
        decode = self._one.decode
        for offset, line in lines:
            # the common case in one tight step; anything unusual is decoded again by
            # decode_one, which checks in the order that names the reason
            try:
                event = decode(line)
            except (msgspec.MsgspecError, RecursionError, UnicodeDecodeError):
                pass
            else:
                if _IS_UTF8(line):
                    item = _decoded(offset, event)
                    if _checked(item) is None:
                        good.append(item)
                        continue
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
        if _bad_utf8(value) is None:  # else split below, so each bad event is named
            try:
                events = self._many.decode(value)
            except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
                pass
            else:
                items = [_decoded(offset, e) for e in events]
                if all(_checked(item) is None for item in items):
                    return items, []
        try:
            parts: Sequence[msgspec.Raw] = self._raw_list.decode(value)
        except msgspec.DecodeError as exc:
            return [], [self._fail(offset, value, "invalid_json", str(exc))]
        except RecursionError:
            return [], [self._fail(offset, value, "invalid_json", TOO_DEEP)]
        good: list[Decoded] = []
        bad: list[DeadLetter] = []
        for part in parts:
            out = self.decode_one(bytes(part), offset)
            (good if type(out) is Decoded else bad).append(out)  # type: ignore[arg-type]
        return good, bad


__all__ = ["REASONS", "DeadLetter", "Decoded", "Decoder", "classify", "raw_text"]
