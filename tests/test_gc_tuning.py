"""The collector is tuned on the premise that refcounting frees what events leave
behind: the engine must not make cyclic garbage per event (a full pass, which would be
the only thing to free it once promoted, almost never runs)."""

from __future__ import annotations

import gc
from pathlib import Path

from fraud_warning.decode import Decoder
from fraud_warning.embedded import read_batches
from fraud_warning.engine import Engine
from fraud_warning.feed.generate import generate_feed
from fraud_warning.gc_tuning import THRESHOLDS, tune_gc
from fraud_warning.refdata import load_refdata
from fraud_warning.registry import load_registry

ROOT = Path(__file__).resolve().parents[1]


def test_events_leave_no_cyclic_garbage_behind(tmp_path: Path) -> None:
    city = tmp_path / "city"
    generate_feed(city, subscribers=1_500, hours=8, seed=11, fraud_rate=30)
    refdata = load_refdata(city / "cells.csv", None, city / "subscribers.csv")
    engine = Engine(load_registry(ROOT / "rules", ROOT / "models"), refdata)
    decoder = Decoder()
    events = alerts = batches = 0
    gc.collect()
    gc.disable()  # from here, only what the engine leaves behind is cyclic garbage
    try:
        for batch in read_batches(city / "events.jsonl", 500):
            good, _ = decoder.decode_lines(batch)
            alerts += len(engine.process(good).alerts)
            events += len(good)
            batches += 1
        cyclic = gc.collect()
    finally:
        gc.enable()
    assert alerts > 0 and events > 2_000
    # what only the cycle collector frees: a few objects per batch at most (LightGBM's
    # ctypes calls leave some), never some per event
    assert cyclic <= 20 * batches


def test_tuning_freezes_start_up_objects_and_raises_the_thresholds() -> None:
    before = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_threshold() == THRESHOLDS
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
