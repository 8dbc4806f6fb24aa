"""The decoder's own checks on an event's text, in C where the package is compiled.

msgspec parses and types an event in C; three checks are ours, run on every event:
each phone number is E.164, the record is UTF-8 throughout (msgspec checks only the
strings it keeps, so invalid bytes in an unknown field would pass), and the event
time's year is plausible. Written in Python and compiled by mypyc they cost about
4,000 instructions an event, a tenth of the engine's cost per event with 215 rules:
a slice per number, a str built from every non-ASCII record (an SMS in Chinese) only
to see that it decodes, a generic attribute lookup for the year. `_textcheck.c` does
each in one call and a scan, allocating nothing (docs/benchmarks.md).

`is_e164`, `is_utf8` and `year_within` are the C functions when `build_native.py` has
compiled them, else their Python twins below, which define what each must answer; the
tests hold the two to the same answers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

from fraud_warning.c_modules import c_module


def py_is_e164(number: str) -> bool:
    """Whether `number` matches :data:`~fraud_warning.wire.E164_PATTERN` (`+`, a digit
    1-9, then 5 to 15 ASCII digits), checked without a regex."""
    n = len(number)
    if n < 7 or n > 17 or number[0] != "+" or number[1] == "0":
        return False
    # isascii first: isdigit() alone admits full-width and superscript digits
    return number.isascii() and number[1:].isdigit()


def py_is_utf8(raw: bytes) -> bool:
    """Whether `raw` is well-formed UTF-8, as Python's strict decoder reads it."""
    if raw.isascii():
        return True
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def py_year_within(ts: datetime, lo: int, hi: int) -> bool:
    """Whether `lo <= ts.year <= hi`."""
    return lo <= ts.year <= hi


def compiled() -> Any:
    """The C module (`_textcheck.c`), or None when the package runs without it."""
    return c_module("_textcheck")


_C: Final = compiled()
is_e164: Final[Callable[[str], bool]] = py_is_e164 if _C is None else _C.e164
is_utf8: Final[Callable[[bytes], bool]] = py_is_utf8 if _C is None else _C.utf8
year_within: Final[Callable[[datetime, int, int], bool]] = (
    py_year_within if _C is None else _C.year_within
)

__all__ = [
    "compiled",
    "is_e164",
    "is_utf8",
    "py_is_e164",
    "py_is_utf8",
    "py_year_within",
    "year_within",
]
