"""The engine's heap on transparent huge pages (Linux), for its random reads of state.

A city's state is millions of small objects over most of a gigabyte, and each event
reads a few of them in no particular order: a subscriber, their contacts, a payee.
CPython's small-object allocator (pymalloc) maps that memory 1 MiB at a time, never
2 MiB aligned, so it is backed by 4 KiB pages and nearly every cold read also misses
the TLB. `_hugepages.c` hands pymalloc its arenas from 2 MiB-aligned regions marked
MADV_HUGEPAGE, which the kernel backs with 2 MiB pages (its `transparent_hugepage`
setting `madvise` or `always`).

Measured on the 100,000-subscriber day with 215 rules, on and off alternated: 1.05-1.13x
events per second on quiet hours, 1.17-1.22x on a busier one (docs/benchmarks.md).
Memory is returned to the system a whole huge page at a time, once both arenas in it
are free; peak RSS is unchanged.

Every runner enables it at start (:func:`fraud_warning.tuning.tune_process`).
`FW_HUGE_PAGES=0` turns it off; it is off wherever it cannot work (not Linux, the kernel
setting `never`, the package running without its compiled modules).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fraud_warning.c_modules import c_module

THP_SETTING = Path("/sys/kernel/mm/transparent_hugepage/enabled")


def thp_mode(setting: Path = THP_SETTING) -> str | None:
    """The kernel's transparent huge page mode (`always`, `madvise`, `never`), or None
    where there is no such setting (not Linux, or a kernel without THP)."""
    try:
        text = setting.read_text()
    except OSError:
        return None
    start, end = text.find("["), text.find("]")
    return text[start + 1 : end] if 0 <= start < end else None


def enable() -> str:
    """Take pymalloc's arenas from huge-page regions from now on, where it can work.

    Returns what happened, for the runner's log: "on", or why it is off. Only memory
    allocated afterwards moves: call it before the state grows. Idempotent."""
    if os.environ.get("FW_HUGE_PAGES", "1") == "0":
        return "off (FW_HUGE_PAGES=0)"
    mode = thp_mode()
    if mode not in ("always", "madvise"):
        return f"off (transparent huge pages: {mode or 'not available'})"
    compiled = _compiled()
    if compiled is None:
        return "off (not compiled: `make setup` builds it)"
    if not compiled.install():
        return "off (no MADV_HUGEPAGE on this platform)"
    return "on"


def stats() -> dict[str, int]:
    """Huge-page regions mapped and arenas handed out from them (empty when not compiled)."""
    compiled = _compiled()
    return {} if compiled is None else {k: int(v) for k, v in compiled.stats().items()}


def _compiled() -> Any:
    """The C allocator (`_hugepages.c`), or None when the package runs without it."""
    return c_module("_hugepages")


__all__ = ["THP_SETTING", "enable", "stats", "thp_mode"]
