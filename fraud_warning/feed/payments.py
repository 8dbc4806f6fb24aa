"""Everyday money transfers for one hour, and the bank SMS notices that follow them.

Shopping and bills go to payees that thousands pay; red packets and family transfers
go round a person's circle; rent, tuition, wages, investments and remittances abroad
are the large or first-time payments that make payee-side signals hard.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from . import events as ev
from . import numbers as nb
from . import texts
from .events import ATM, COUNTER, MOBILE_BANKING, THIRD_PARTY
from .normal import count, stamps
from .population import ELDERLY, Population
from .services import draw
from .timeline import DIURNAL, Chunk, Timeline

I64 = npt.NDArray[np.int64]

SHOP_PER_DAY = 2.5
GIFT_PER_DAY = 0.4  # red packets and splitting bills with friends and family
FAMILY_PER_DAY = 0.10
BILL_PER_DAY = 0.12
INVEST_PER_DAY = 0.03  # per investor, in trading hours
REMIT_AFTER_CALL = 0.15  # chance a long call with family abroad is followed by money


def lognormal_cents(
    rng: np.random.Generator,
    m: int,
    median_yuan: float,
    sigma: float,
    round_to: int,
    p_round: float,
) -> I64:
    """Amounts in fen; a share `p_round` rounded to `round_to` yuan (people like
    round numbers), the rest to the fen."""
    cents = np.exp(rng.normal(np.log(median_yuan * 100), sigma, m))
    rounded = np.maximum(np.rint(cents / (round_to * 100)), 1) * round_to * 100
    out = np.where(rng.random(m) < p_round, rounded, np.rint(cents))
    return np.maximum(out, 1).astype(np.int64)


def channels(
    rng: np.random.Generator, m: int, p: tuple[float, float, float, float]
) -> npt.NDArray[np.int8]:
    """Channel codes drawn with probabilities for (mobile_banking, third_party, atm, counter)."""
    return rng.choice(4, size=m, p=np.asarray(p) / sum(p)).astype(np.int8)


def payer_accounts(pop: Population, payer: I64, rng: np.random.Generator) -> I64:
    """The card a subscriber pays from: the main card, or the second one sometimes."""
    second = pop.second_acc[payer]
    use = (second >= 0) & (rng.random(len(payer)) < 0.3)
    result: I64 = np.where(use, second, payer)
    return result


def _circle_payee(pop: Population, payer: I64, slots: I64) -> I64:
    other = pop.contacts[payer, slots].astype(np.int64)
    result: I64 = np.where(other < pop.n, other, pop.ext_acc_first + (other - pop.ext_first))
    return result


def _elderly_channels(
    pop: Population, payer: I64, ch: npt.NDArray[np.int8], rng: np.random.Generator
) -> None:
    """Older people go to the ATM or the counter more often."""
    old = (pop.age[payer] == ELDERLY) & (rng.random(len(payer)) < 0.35)
    ch[old] = np.where(rng.random(int(old.sum())) < 0.5, ATM, COUNTER)


def everyday(pop: Population, chunk: Chunk, rng: np.random.Generator) -> ev.Batch:
    svc = pop.services
    d = float(DIURNAL[chunk.hour])
    parts: list[ev.Batch] = []

    m = count(rng, SHOP_PER_DAY, pop.n, chunk, d)
    payer = draw(rng, pop.pay_cdf, m)
    parts.append(
        ev.transfers(
            stamps(rng, chunk, m),
            payer,
            payer_accounts(pop, payer, rng),
            svc.merchants[draw(rng, svc.merchant_cdf, m)],
            np.minimum(lognormal_cents(rng, m, 38.0, 1.0, 1, 0.35), 2_000_000),
            channels(rng, m, (0.1, 0.9, 0.0, 0.0)),
        )
    )
    m = count(rng, GIFT_PER_DAY, pop.n, chunk, d)
    payer = draw(rng, pop.pay_cdf, m)
    parts.append(
        ev.transfers(
            stamps(rng, chunk, m),
            payer,
            payer_accounts(pop, payer, rng),
            _circle_payee(pop, payer, rng.integers(0, 10, m)),
            lognormal_cents(rng, m, 80.0, 0.9, 1, 0.7),
            channels(rng, m, (0.05, 0.95, 0.0, 0.0)),
        )
    )
    m = count(rng, FAMILY_PER_DAY, pop.n, chunk, d)
    payer = draw(rng, pop.pay_cdf, m)
    slots = np.where(rng.random(m) < 0.6, rng.integers(0, 4, m), rng.integers(10, 12, m))
    ch = channels(rng, m, (0.45, 0.50, 0.03, 0.02))
    _elderly_channels(pop, payer, ch, rng)
    parts.append(
        ev.transfers(
            stamps(rng, chunk, m),
            payer,
            payer_accounts(pop, payer, rng),
            _circle_payee(pop, payer, slots),
            lognormal_cents(rng, m, 800.0, 0.9, 100, 0.6),
            ch,
        )
    )
    m = count(rng, BILL_PER_DAY, pop.n, chunk, d)
    payer = draw(rng, pop.pay_cdf, m)
    parts.append(
        ev.transfers(
            stamps(rng, chunk, m),
            payer,
            payer_accounts(pop, payer, rng),
            svc.utilities[rng.integers(0, len(svc.utilities), m)],
            lognormal_cents(rng, m, 200.0, 0.9, 1, 0.2),
            channels(rng, m, (0.4, 0.6, 0.0, 0.0)),
        )
    )
    parts.extend(_scheduled(pop, chunk, rng))
    return ev.concat(parts)


def _due(
    rng: np.random.Generator, who: I64, p_day: float, chunk: Chunk, shape: float
) -> npt.NDArray[np.bool_]:
    """Which of `who` make their periodic payment in this chunk."""
    p = p_day / 24.0 * shape * chunk.fraction
    result: npt.NDArray[np.bool_] = rng.random(len(who)) < p
    return result


def _scheduled(pop: Population, chunk: Chunk, rng: np.random.Generator) -> list[ev.Batch]:
    """Rent, tuition, wages and investments: big payments, often to a payee that is new
    that day, and payees (landlords, agencies, schools) paid by many unrelated people."""
    svc = pop.services
    parts: list[ev.Batch] = []
    day, month, h = chunk.day, chunk.month, chunk.hour
    daytime = 2.0 if 8 <= h < 22 else 0.1

    p_rent = 0.12 if day <= 5 else (0.04 if 14 <= day <= 16 else 0.012)
    due = _due(rng, pop.renter, p_rent, chunk, daytime)
    payer = pop.renter[due]
    m = len(payer)
    parts.append(
        ev.transfers(
            stamps(rng, chunk, m),
            payer,
            payer_accounts(pop, payer, rng),
            pop.rent_payee[due],
            pop.rent_cents[due],
            channels(rng, m, (0.6, 0.4, 0.0, 0.0)),
        )
    )
    term = (
        (month in (2, 3) and day <= 15) or (month == 8 and day >= 20) or (month == 9 and day <= 15)
    )
    due = _due(rng, pop.parent, 0.05 if term else 0.003, chunk, daytime)
    payer = pop.parent[due]
    m = len(payer)
    ch = channels(rng, m, (0.7, 0.2, 0.0, 0.1))
    _elderly_channels(pop, payer, ch, rng)
    parts.append(
        ev.transfers(
            stamps(rng, chunk, m),
            payer,
            payer_accounts(pop, payer, rng),
            svc.schools[pop.school_idx[due]],
            pop.tuition_cents[due],
            ch,
        )
    )
    paying = np.flatnonzero((pop.payday == day) & (pop.payhour == h))
    if len(paying):
        staff = pop.staff[paying]
        rows, cols = np.nonzero(staff >= 0)
        employer = pop.employers[paying][rows]
        payee = staff[rows, cols].astype(np.int64)
        m = len(payee)
        # A payroll run goes out within minutes, one transfer per employee.
        begin = rng.integers(0, max(1, chunk.seconds - 600), len(paying))
        ts = chunk.t0 + begin[rows] + cols * rng.integers(5, 40, m)
        parts.append(
            ev.transfers(
                np.minimum(ts, chunk.t1 - 1).astype(np.int64),
                employer,
                employer,
                payee,
                lognormal_cents(rng, m, 6500.0, 0.35, 10, 0.8),
                np.full(m, MOBILE_BANKING, dtype=np.int8),
            )
        )
    if chunk.workday and (9 <= h < 12 or 13 <= h < 15):
        due = _due(rng, pop.investors, INVEST_PER_DAY, chunk, 24.0 / 5.0)
        payer = pop.investors[due]
        m = len(payer)
        parts.append(
            ev.transfers(
                stamps(rng, chunk, m),
                payer,
                payer_accounts(pop, payer, rng),
                svc.brokers[rng.integers(0, len(svc.brokers), m)],
                lognormal_cents(rng, m, 30000.0, 1.0, 1000, 0.7),
                channels(rng, m, (0.85, 0.0, 0.0, 0.15)),
            )
        )
    return parts


def remittances(
    pop: Population, calls: ev.Batch, who: npt.NDArray[np.intp], rng: np.random.Generator
) -> ev.Batch:
    """Money sent to family abroad after some long calls with them, minutes to hours
    later (the transfer may land in a later chunk)."""
    pick = np.flatnonzero((calls.dur >= 600) & (rng.random(len(calls)) < REMIT_AFTER_CALL))
    k = who[pick]
    m = len(pick)
    payer = pop.abroad[k]
    delay = np.exp(rng.normal(np.log(25 * 60), 0.9, m)).astype(np.int64)
    return ev.transfers(
        calls.ts[pick] + calls.dur[pick] + delay,
        payer,
        payer_accounts(pop, payer, rng),
        pop.abroad_acc[k],
        lognormal_cents(rng, m, 8000.0, 0.8, 100, 0.7),
        channels(rng, m, (0.8, 0.05, 0.0, 0.15)),
    )


def notices(
    pop: Population, transfers: ev.Batch, timeline: Timeline, rng: np.random.Generator
) -> ev.Batch:
    """Bank SMS a few seconds after a transfer: to the payer (if a subscriber's card),
    and for credits into a subscriber's card, to the payee too."""
    out: list[ev.Batch] = []
    big = transfers.cents >= 100_000
    for side in ("payer", "payee"):
        acc = transfers.acc_a if side == "payer" else transfers.acc_b
        owner = pop.account_owner(acc)
        if side == "payer":
            p = np.where((transfers.channel != THIRD_PARTY) | big, 0.9, 0.3)
        else:
            p = np.where(big, 0.8, 0.25)
        pick = np.flatnonzero((owner >= 0) & (rng.random(len(acc)) < p))
        m = len(pick)
        if m == 0:
            continue
        ts = transfers.ts[pick] + rng.integers(1, 40, m)
        bank = pop.acc_bank[acc[pick]].tolist()
        tails = [pop.book.accounts[a][-4:] for a in acc[pick].tolist()]
        when = timeline.clock(ts)
        base = pop.balance[acc[pick]]
        balance = (base * rng.uniform(0.9, 1.1, m)).astype(np.int64).tolist()
        cents = transfers.cents[pick].tolist()
        text = np.empty(m, dtype=object)
        text[:] = [
            texts.bank_notice(nb.BANKS[b][1], t, w, side == "payer", c, bal)
            for b, t, w, c, bal in zip(bank, tails, when, cents, balance, strict=True)
        ]
        out.append(
            ev.sms(
                ts,
                pop.services.bank_party[np.asarray(bank, dtype=np.int64)],
                owner[pick],
                text,
                np.full(m, -1, dtype=np.int64),
            )
        )
    return ev.concat(out)
