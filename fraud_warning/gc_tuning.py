"""The garbage collector tuned for a long-running engine (every runner calls it once, through
:func:`fraud_warning.tuning.tune_process`).

State is a million small objects (per-key state, recent-event records, tuples) with no
reference cycles, so refcounting frees everything an event leaves behind; the cyclic
collector's passes only re-walk that state. At CPython's default thresholds its full
passes took 15 % of the embedded engine's time on the 20,000-subscriber day, and paused
the distributed worker for up to 215 ms on a city's state. Objects alive at start-up
(registry, models, site data) are frozen out of it, gen 0 runs every 50,000 allocations
instead of 700, and full passes almost never. What the state keeps longest, its
recent-event records, small key sets and window entries, is not tracked at all
(:mod:`fraud_warning.untrack`): the young passes walked them once each, the middle ones
again, 4 % of the engine's time on the 100,000-subscriber day.
"""

from __future__ import annotations

import gc

THRESHOLDS = (50_000, 50, 1_000)


def tune_gc() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)


__all__ = ["THRESHOLDS", "tune_gc"]
