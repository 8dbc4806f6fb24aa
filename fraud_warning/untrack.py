"""Objects that cannot be in a reference cycle, taken out of the cyclic GC's sight.

The cyclic collector walks every tracked container that survives until its next pass,
then again in the middle generation. The engine's recent-event records
(:class:`~fraud_warning.state.Recent`) are containers to CPython but hold only strings,
numbers and a link to an older record, so no cycle can pass through one; yet mypyc
tracks them, and walking the ones a day's events leave behind cost about 4 % of the
embedded engine's time (docs/benchmarks.md). They cannot be mypyc's `acyclic` classes
(see state.py); `_untrack.c` keeps their GC header and drops only the tracking. The
state's small tuples (a few distinct keys, a window's (time, value) entries) go the same
way: the collector would untrack them itself, but only after walking each once.

Where the package runs without its C modules, :func:`untrack` leaves objects tracked:
the same results, the collector's cost as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from fraud_warning.c_modules import c_module


def py_untrack(obj: object) -> None:
    """The interpreted stand-in: the object stays tracked (Python offers no untrack)."""


def compiled() -> Any:
    """The C module (`_untrack.c`), or None when the package runs without it."""
    return c_module("_untrack")


_C: Final = compiled()
untrack: Final[Callable[[object], None]] = py_untrack if _C is None else _C.untrack

__all__ = ["compiled", "py_untrack", "untrack"]
