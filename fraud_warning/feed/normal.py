"""Everyday calls and SMS for one hour of the city, vectorised with numpy.

Rates are per subscriber per day and follow the diurnal rhythm. Most calls go round a
person's own circle; on top come hotlines, relatives abroad, couriers, sales people and
telemarketers (who dial strangers in bulk), personal SMS and service SMS.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from . import events as ev
from .population import COLLEAGUE, ELDERLY, EXTERNAL, HOUSEHOLD, Population
from .services import TEXT_VARIANTS, draw
from .timeline import DIURNAL, Chunk

I64 = npt.NDArray[np.int64]

CALLS_PER_DAY = 5.2  # circle calls placed per subscriber
P2P_SMS_PER_DAY = 1.3
SERVICE_SMS_PER_DAY = 7.5
HOTLINE_CALLS_PER_DAY = 0.12
CALLBACKS_PER_DAY = 0.05  # hotlines calling customers back
ABROAD_CALLS_PER_DAY = 0.9  # per subscriber with family abroad
ORIGIN_MISSING = 0.10  # share of calls whose record has no `origin`

_SLOT_BASE = np.asarray([3.0, 3.0, 1.4, 1.4, 1.6, 1.6, 0.8, 0.8, 1.3, 1.3, 1.0, 0.7])
# Relatives abroad call early morning and late evening (time zones), rarely midday.
_ABROAD_RAW = np.asarray(
    [0.6, 0.3, 0.1, 0.1, 0.1, 0.2, 0.8, 1.6, 1.8, 1.2, 0.6, 0.5,
     0.5, 0.5, 0.5, 0.5, 0.6, 0.8, 1.2, 1.8, 2.4, 2.6, 2.2, 1.3]
)  # fmt: skip
ABROAD_HOURS = _ABROAD_RAW / _ABROAD_RAW.mean()


def count(rng: np.random.Generator, per_day: float, n: float, chunk: Chunk, factor: float) -> int:
    """Events in the chunk for `n` actors at `per_day` each, shaped by `factor`."""
    return int(rng.poisson(per_day * n / 24.0 * factor * chunk.fraction))


def stamps(rng: np.random.Generator, chunk: Chunk, m: int) -> I64:
    return chunk.t0 + rng.integers(0, chunk.seconds, m, dtype=np.int64)


def talk(
    rng: np.random.Generator,
    m: int,
    median: float | npt.NDArray[np.float64],
    sigma: float,
    p_missed: float,
    cap: float = 3 * 3600,
) -> I64:
    """Talk times: lognormal around `median` seconds, 0 for unanswered calls."""
    secs = np.exp(rng.normal(np.log(median), sigma, m))
    secs = np.clip(np.rint(secs), 1, cap)
    secs[rng.random(m) < p_missed] = 0
    return secs.astype(np.int64)


def origins(
    origin_of: npt.NDArray[np.int8], callers: I64, rng: np.random.Generator
) -> npt.NDArray[np.int8]:
    """The caller's origin code, left out on a share of records."""
    o = origin_of[callers].copy()
    o[rng.random(len(callers)) < ORIGIN_MISSING] = -1
    return o


def slot_cdf(chunk: Chunk) -> npt.NDArray[np.float64]:
    w = _SLOT_BASE.copy()
    if chunk.working_hours:
        w[COLLEAGUE] *= 2.5
        w[HOUSEHOLD] *= 0.6
    elif chunk.hour >= 19 or chunk.hour < 8:
        w[COLLEAGUE] *= 0.3
        w[HOUSEHOLD] *= 1.3
    cdf = np.cumsum(w)
    result: npt.NDArray[np.float64] = cdf / cdf[-1]
    return result


def _circle(
    pop: Population, chunk: Chunk, rng: np.random.Generator, m: int, cdf: npt.NDArray[np.float64]
) -> tuple[I64, I64, I64]:
    """`m` contacts within circles: (initiator, other party, slot); relatives out of
    town initiate half of their exchanges."""
    me = draw(rng, cdf, m)
    slot = draw(rng, slot_cdf(chunk), m)
    other = pop.contacts[me, slot].astype(np.int64)
    flip = (other >= pop.n) & (rng.random(m) < 0.5)
    return np.where(flip, other, me), np.where(flip, me, other), slot


def circle_calls(
    pop: Population, chunk: Chunk, rng: np.random.Generator, origin_of: npt.NDArray[np.int8]
) -> ev.Batch:
    m = count(rng, CALLS_PER_DAY, pop.n, chunk, float(DIURNAL[chunk.hour]))
    a, b, slot = _circle(pop, chunk, rng, m, pop.call_cdf)
    local = np.where(a < pop.n, a, b)
    median = np.where(slot < 4, 110.0, 75.0) * np.where(pop.age[local] == ELDERLY, 1.4, 1.0)
    median = median * np.where(np.isin(slot, EXTERNAL), 1.5, 1.0)
    night = chunk.hour < 7 or chunk.hour >= 23
    dur = talk(rng, m, median, 1.05, 0.16 if night else 0.11)
    working = chunk.working_hours
    return ev.calls(
        stamps(rng, chunk, m),
        a,
        b,
        dur,
        pop.cells_at(a, working, rng),
        pop.cells_at(b, working, rng),
        origins(origin_of, a, rng),
    )


def service_calls(
    pop: Population, chunk: Chunk, rng: np.random.Generator, origin_of: npt.NDArray[np.int8]
) -> ev.Batch:
    """People ringing hotlines (long holds included) and hotlines calling back."""
    svc = pop.services
    m = count(rng, HOTLINE_CALLS_PER_DAY, pop.n, chunk, float(DIURNAL[chunk.hour]))
    caller = draw(rng, pop.call_cdf, m)
    line = svc.hotlines[draw(rng, svc.hotline_cdf, m)]
    dur = talk(rng, m, 240.0, 0.9, 0.05)
    parts = [
        ev.calls(
            stamps(rng, chunk, m),
            caller,
            line,
            dur,
            pop.cells_at(caller, chunk.working_hours, rng),
            np.full(m, -1, dtype=np.int64),
            origins(origin_of, caller, rng),
        )
    ]
    if 9 <= chunk.hour < 20:
        k = count(rng, CALLBACKS_PER_DAY * 1.9, pop.n, chunk, 1.0)
        line = svc.hotlines[draw(rng, svc.hotline_cdf, k)]
        callee = draw(rng, pop.call_cdf, k)
        parts.append(
            ev.calls(
                stamps(rng, chunk, k),
                line,
                callee,
                talk(rng, k, 150.0, 0.8, 0.25),
                np.full(k, -1, dtype=np.int64),
                pop.cells_at(callee, chunk.working_hours, rng),
                origins(origin_of, line, rng),
            )
        )
    return ev.concat(parts)


def abroad_calls(
    pop: Population, chunk: Chunk, rng: np.random.Generator, origin_of: npt.NDArray[np.int8]
) -> tuple[ev.Batch, npt.NDArray[np.intp]]:
    """Long calls with family abroad; also returns which subscriber (index into
    `pop.abroad`) each call belongs to, for the remittances that follow some."""
    m = count(rng, ABROAD_CALLS_PER_DAY, len(pop.abroad), chunk, float(ABROAD_HOURS[chunk.hour]))
    k = rng.integers(0, max(1, len(pop.abroad)), m) if len(pop.abroad) else np.zeros(0, np.intp)
    local, far = pop.abroad[k], pop.abroad_party[k]
    incoming = rng.random(m) < 0.65
    a = np.where(incoming, far, local)
    b = np.where(incoming, local, far)
    dur = talk(rng, m, 14 * 60.0, 0.8, 0.12)
    cells = pop.cells_at(local, chunk.working_hours, rng)
    batch = ev.calls(
        stamps(rng, chunk, m),
        a,
        b,
        dur,
        np.where(incoming, -1, cells),
        np.where(incoming, cells, -1),
        origins(origin_of, a, rng),
    )
    return batch, k.astype(np.intp)


def _dialler(
    rng: np.random.Generator,
    chunk: Chunk,
    callers: I64,
    rates: npt.NDArray[np.float64],
    factor: float,
) -> tuple[I64, I64, I64]:
    """Back-to-back dialling: (caller, start, spacing) with calls evenly spread over
    the chunk for each caller, so one line never overlaps itself much."""
    k = rng.poisson(rates * factor * chunk.fraction)
    caller = np.repeat(callers, k)
    first = np.repeat(np.cumsum(k) - k, k)
    rank = np.arange(len(caller)) - first
    spacing = chunk.seconds / np.maximum(np.repeat(k, k), 1)
    start = chunk.t0 + ((rank + rng.uniform(0.0, 0.6, len(caller))) * spacing).astype(np.int64)
    return caller, np.minimum(start, chunk.t1 - 1), spacing.astype(np.int64)


def _strangers(pop: Population, rng: np.random.Generator, m: int, p_local: float) -> I64:
    local = rng.random(m) < p_local
    return np.where(
        local,
        rng.integers(0, pop.n, m),
        pop.ext_first + rng.integers(0, pop.ext_count, m),
    ).astype(np.int64)


def bulk_callers(
    pop: Population, chunk: Chunk, rng: np.random.Generator, origin_of: npt.NDArray[np.int8]
) -> ev.Batch:
    """Couriers, sales people and telemarketers: tens of short calls an hour to
    strangers, the legitimate twin of a fraud dialler."""
    parts: list[ev.Batch] = []
    h = chunk.hour
    weekend = 0.0 if chunk.workday else 1.0
    if 8 <= h < 20:
        shape = 1.2 if h in (9, 10, 11, 14, 15, 16) else 0.7
        caller, ts, spacing = _dialler(
            rng, chunk, pop.couriers, pop.courier_rate, shape * (1.0 - 0.3 * weekend)
        )
        m = len(caller)
        dur = np.minimum(talk(rng, m, 22.0, 0.6, 0.30, cap=240), np.maximum(spacing * 0.4, 5))
        callee = _strangers(pop, rng, m, 0.88)
        parts.append(
            ev.calls(
                ts,
                caller,
                callee,
                dur,
                pop.cells_at(caller, True, rng),
                pop.cells_at(callee, chunk.working_hours, rng),
                origins(origin_of, caller, rng),
            )
        )
    if 9 <= h < 18:
        for who, rates, p_local, median, missed in (
            (pop.sales, pop.sales_rate, 0.65, 50.0, 0.40),
            (
                pop.services.telemarketers,
                pop.services.telemarketer_rate,
                1.0,
                12.0,
                0.50,
            ),
        ):
            caller, ts, spacing = _dialler(rng, chunk, who, rates, 1.0 - 0.6 * weekend)
            m = len(caller)
            dur = np.minimum(talk(rng, m, median, 1.0, missed, cap=900), np.maximum(spacing, 5))
            callee = _strangers(pop, rng, m, p_local)
            parts.append(
                ev.calls(
                    ts,
                    caller,
                    callee,
                    dur,
                    pop.cells_at(caller, chunk.working_hours, rng),
                    pop.cells_at(callee, chunk.working_hours, rng),
                    origins(origin_of, caller, rng),
                )
            )
    return ev.concat(parts)


def personal_sms(
    pop: Population, chunk: Chunk, rng: np.random.Generator, plain: npt.NDArray[np.object_],
    links: npt.NDArray[np.object_],
) -> ev.Batch:  # fmt: skip
    m = count(rng, P2P_SMS_PER_DAY, pop.n, chunk, float(DIURNAL[chunk.hour]))
    a, b, _ = _circle(pop, chunk, rng, m, pop.call_cdf)
    text = plain[rng.integers(0, len(plain), m)]
    share = rng.random(m) < 0.03
    text[share] = links[rng.integers(0, len(links), int(share.sum()))]
    return ev.sms(stamps(rng, chunk, m), a, b, text, pop.cells_at(a, chunk.working_hours, rng))


def service_sms(pop: Population, chunk: Chunk, rng: np.random.Generator) -> ev.Batch:
    """Codes, parcel notices, adverts and bills from 106-numbers; adverts and parcel
    notices only in the daytime (the rules forbid night-time marketing)."""
    svc = pop.services
    m = count(rng, SERVICE_SMS_PER_DAY, pop.n, chunk, float(DIURNAL[chunk.hour]))
    sender = draw(rng, svc.sms_sender_cdf, m)
    if chunk.hour < 8 or chunk.hour >= 21:
        sender = sender[~svc.sms_marketing[sender]]
        m = len(sender)
    receiver = draw(rng, pop.sms_cdf, m)
    text = svc.sms_text[sender * TEXT_VARIANTS + rng.integers(0, TEXT_VARIANTS, m)]
    return ev.sms(
        stamps(rng, chunk, m),
        svc.sms_senders[sender],
        receiver,
        text,
        np.full(m, -1, dtype=np.int64),
    )
