"""Entry point: build a city, plan its fraud, then write the feed hour by hour.

Memory stays bounded by one hour of events plus the population; the same parameters
and seed give byte-identical files (each stage draws from its own seed stream, and each
hour from its own, so nothing depends on how much an earlier stage consumed).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from . import events as ev
from . import normal, payments, texts
from .city import build_city
from .episodes import plan_fraud
from .fraud import expected_numbers
from .labels import build_labels
from .population import Population, build_population
from .timeline import CST, DEFAULT_START, Chunk, Timeline
from .writer import EventWriter, write_json, write_jsonl, write_reference

GENERATOR_VERSION = "1.1.0"
MIN_SUBSCRIBERS = 100
MAX_SUBSCRIBERS = 20_000_000
MAX_HOURS = 24 * 366
MAX_FRAUD_RATE = 200.0


@dataclass(frozen=True)
class FeedSummary:
    events: int
    victims: int
    fraud_numbers: int
    mule_accounts: int
    seconds: float  # wall time of the run


def _check(
    subscribers: object, hours: object, seed: object, fraud_rate: object, start: object
) -> None:
    if isinstance(subscribers, bool) or not isinstance(subscribers, int):
        raise ValueError(f"subscribers must be an integer, got {subscribers!r}")
    if not MIN_SUBSCRIBERS <= subscribers <= MAX_SUBSCRIBERS:
        raise ValueError(
            f"subscribers must be between {MIN_SUBSCRIBERS} and {MAX_SUBSCRIBERS:,}, "
            f"got {subscribers}"
        )
    if isinstance(hours, bool) or not isinstance(hours, int | float) or not math.isfinite(hours):
        raise ValueError(f"hours must be a finite number, got {hours!r}")
    if not 0 < hours <= MAX_HOURS or round(hours * 3600) < 1:
        raise ValueError(f"hours must be > 0 (at least one second) and <= {MAX_HOURS}, got {hours}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if (
        isinstance(fraud_rate, bool)
        or not isinstance(fraud_rate, int | float)
        or not math.isfinite(fraud_rate)
        or not 0 <= fraud_rate <= MAX_FRAUD_RATE
    ):
        raise ValueError(
            f"fraud_rate (victims per 1,000 subscribers per day) must be between 0 and "
            f"{MAX_FRAUD_RATE:g}, got {fraud_rate!r}"
        )
    if start is not None and not isinstance(start, datetime):
        raise ValueError(f"start must be a datetime, got {start!r}")


def _generator(seed: np.random.SeedSequence) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(seed))


def _hour(
    pop: Population,
    chunk: Chunk,
    timeline: Timeline,
    origin_of: npt.NDArray[np.int8],
    rng: np.random.Generator,
    p2p: tuple[npt.NDArray[np.object_], npt.NDArray[np.object_]],
) -> ev.Batch:
    """Everyday traffic of one chunk (some of it may land in later chunks)."""
    abroad, who = normal.abroad_calls(pop, chunk, rng, origin_of)
    money = ev.concat(
        [payments.everyday(pop, chunk, rng), payments.remittances(pop, abroad, who, rng)]
    )
    return ev.concat(
        [
            normal.circle_calls(pop, chunk, rng, origin_of),
            normal.service_calls(pop, chunk, rng, origin_of),
            abroad,
            normal.bulk_callers(pop, chunk, rng, origin_of),
            normal.personal_sms(pop, chunk, rng, *p2p),
            normal.service_sms(pop, chunk, rng),
            money,
            payments.notices(pop, money, timeline, rng),
        ]
    )


def _objects(values: list[bytes]) -> npt.NDArray[np.object_]:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def generate_feed(
    out_dir: Path,
    *,
    subscribers: int,
    hours: float,
    seed: int,
    start: datetime | None = None,
    fraud_rate: float = 3.0,
    progress: Callable[[float], None] | None = None,
) -> FeedSummary:
    """Write a synthetic city feed to `out_dir`: events.jsonl, labels.jsonl, cells.csv,
    units.csv, subscribers.csv and meta.json. `fraud_rate` is victims per 1,000
    subscribers per day; `start` defaults to Monday 2026-03-02 00:00 +08:00 (a naive
    datetime is taken as +08:00). Raises ValueError on bad parameters."""
    _check(subscribers, hours, seed, fraud_rate, start)
    began = time.perf_counter()
    if start is None:
        start = DEFAULT_START
    elif start.tzinfo is None:
        start = start.replace(tzinfo=CST)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    total_s = round(hours * 3600)

    city_seed, pop_seed, fraud_seed, traffic_seed = np.random.SeedSequence(seed).spawn(4)
    city = build_city(subscribers, _generator(city_seed))
    pop = build_population(
        subscribers,
        city,
        _generator(pop_seed),
        spare=expected_numbers(subscribers, hours, fraud_rate),
    )
    timeline = Timeline(start, total_s)
    plan = plan_fraud(pop, timeline, float(fraud_rate), _generator(fraud_seed))
    labels = build_labels(plan, pop, timeline)
    origin_of = pop.directory.origin_array()
    spill = ev.Spill(timeline.bounds)
    spill.add(plan.events)
    del plan

    text_seed, *hour_seeds = traffic_seed.spawn(len(timeline.chunks) + 1)
    plain, links = texts.p2p_texts(_generator(text_seed), 64)
    p2p = (_objects(plain), _objects(links))
    writer = EventWriter(out_dir / "events.jsonl", pop, timeline)
    try:
        for chunk in timeline.chunks:
            rng = _generator(hour_seeds[chunk.index])
            spill.add(_hour(pop, chunk, timeline, origin_of, rng, p2p))
            writer.write(ev.sort(spill.take(chunk.index), rng), chunk)
            if progress is not None:
                progress(chunk.t1 / total_s)
    finally:
        writer.close()

    write_reference(out_dir, city, pop)
    write_jsonl(out_dir / "labels.jsonl", labels.rows)
    write_json(
        out_dir / "meta.json",
        {
            "subscribers": subscribers,
            "hours": hours,
            "seed": seed,
            "start": timeline.start.isoformat(),
            "end": timeline.end.isoformat(),
            "events": writer.count,
            "victims": labels.victims,
            "fraud_numbers": labels.fraud_numbers,
            "mule_accounts": labels.mule_accounts,
            "fraud_rate": fraud_rate,
            "generator_version": GENERATOR_VERSION,
            "victims_by_typology": labels.by_typology,
            "cells": city.n_cells,
            "units": len(city.unit_ids),
        },
    )
    return FeedSummary(
        events=writer.count,
        victims=labels.victims,
        fraud_numbers=labels.fraud_numbers,
        mule_accounts=labels.mule_accounts,
        seconds=time.perf_counter() - began,
    )
