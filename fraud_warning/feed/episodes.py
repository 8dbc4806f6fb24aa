"""How one victim's episode unfolds, and the plan of all victims and rings for a feed.

The story per victim: a lure (SMS blast or a dialling burst that reaches them), a long
call (or a short one, or none), then transfers to the ring's mules, with delays,
escalating amounts and follow-up calls drawn from the typology's ranges. Some victims
hang up or stop in time and never pay.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from . import events as ev
from . import texts
from .events import THIRD_PARTY
from .fraud import DRY_BURSTS_PER_DAY, VICTIMS_PER_RING, FraudPlan, FraudPlanner, Ring, Victim
from .payments import notices, payer_accounts
from .population import Population
from .timeline import FRAUD_HOURS, Timeline
from .typologies import IMPERSONATING_ACQUAINTANCE, TYPOLOGIES, Typology

REPLIES = ("好的", "你是？", "收到，领导", "请问是哪位？", "好的，马上")


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    if hi <= lo:
        return lo
    return math.exp(float(rng.uniform(math.log(lo), math.log(hi))))


def _cents(rng: np.random.Generator, yuan: float, round_to: int) -> int:
    """Fraud amounts: often round, sometimes to the yuan or the fen."""
    r = rng.random()
    if r < 0.55:
        fen = max(round_to, round(yuan / round_to) * round_to) * 100
    elif r < 0.85:
        fen = max(1, round(yuan)) * 100
    else:
        fen = max(100, round(yuan * 100))
    return int(min(fen, 200_000_000))


def _other(rng: np.random.Generator, ring: Ring, x: int) -> int:
    rest = [n for n in ring.numbers if n != x] or ring.numbers
    return rest[int(rng.integers(len(rest)))]


def play(p: FraudPlanner, v: Victim, t_c: int) -> None:
    """Plan victim `v`'s episode, first reached at offset `t_c`."""
    rng, ring = p.rng, v.ring
    ty = ring.typology
    s = v.subscriber
    acquaintance = ty.name == IMPERSONATING_ACQUAINTANCE
    x = ring.numbers[int(rng.integers(len(ring.numbers)))]
    pays = bool(rng.random() < ty.pays)
    long_s = int(_log_uniform(rng, ty.long_call_min[0] * 60, ty.long_call_min[1] * 60))
    if not pays:
        long_s = max(20, int(long_s * rng.uniform(0.25, 1.0)))  # hung up, or family stepped in
    call: tuple[int, int] | None = None
    if rng.random() < ty.sms_first:
        p.sms_blast(ring, x, t_c, victim=s)
        if acquaintance and rng.random() < 0.3:
            reply = texts.fragment(REPLIES[int(rng.integers(len(REPLIES)))], False)
            p.sms(s, x, t_c + int(rng.integers(60, 1200)), reply)
        if rng.random() < ty.call_after_sms:
            hi = 6 * 3600 if acquaintance else 3 * 3600
            start = t_c + int(_log_uniform(rng, 120, hi))
            if rng.random() < ty.calls_back:
                a, b = s, x
            else:
                a, b = (x if acquaintance else _other(rng, ring, x)), s
            p.call(ring, a, b, start, long_s)
            call = (start, long_s)
    elif ty.pretext_s[1] > 0 and rng.random() < ty.handover:
        # A "courier" or "telecom clerk" hands the victim to a "police officer".
        pre = int(rng.uniform(*ty.pretext_s))
        p.call_burst(ring, x, t_c, victim=s, victim_dur=pre)
        start = t_c + pre + int(rng.integers(0, 300))
        p.call(ring, _other(rng, ring, x), s, start, long_s)
        call = (start, long_s)
    else:
        p.call_burst(ring, x, t_c, victim=s, victim_dur=long_s)
        call = (t_c, long_s)
        if rng.random() < ty.handover * 0.5:
            # "Let me put you through to the bank's security desk."
            start = t_c + long_s + int(rng.integers(30, 600))
            extra = int(_log_uniform(rng, 180, 1200))
            p.call(ring, _other(rng, ring, x), s, start, extra)
            call = (start, extra)
    end = call[0] + call[1] if call else t_c
    amount = _log_uniform(rng, *ty.first_yuan)
    mule = _mule(rng, ring)
    if acquaintance and rng.random() < 0.7:
        # "Transfer it to this card": the card in the SMS is the one that gets paid.
        account = p.pop.book.accounts[mule]
        end += int(rng.integers(60, 1800))
        p.sms(x, s, end, texts.acquaintance_ask(rng, account, max(100, round(amount / 100) * 100)))
    if pays:
        _pay(p, v, x, call, end, amount, mule)


def _mule(rng: np.random.Generator, ring: Ring) -> int:
    """A ring's mule; the first ones take most of the money."""
    weights = np.asarray([1.0 / (k + 1) for k in range(len(ring.mules))])
    return ring.mules[int(rng.choice(len(ring.mules), p=weights / weights.sum()))]


def _pay(
    p: FraudPlanner,
    v: Victim,
    x: int,
    call: tuple[int, int] | None,
    end: int,
    amount: float,
    mule: int,
) -> None:
    rng, ring = p.rng, v.ring
    ty, s = ring.typology, v.subscriber
    n_tx = int(rng.integers(ty.n_transfers[0], ty.n_transfers[1] + 1))
    if call and rng.random() < ty.during_call:
        t = call[0] + int(call[1] * rng.uniform(0.35, 0.95))  # told to stay on the line
    else:
        t = end + int(_log_uniform(rng, *ty.delay_min) * 60)
    account = int(payer_accounts(p.pop, np.asarray([s], np.int64), rng)[0])
    ch_p = np.asarray(ty.channels) / sum(ty.channels)
    for i in range(n_tx):
        if i:
            gap = int(_log_uniform(rng, *ty.gap_min) * 60)
            if ty.name != IMPERSONATING_ACQUAINTANCE and rng.random() < 0.35:
                # "One more fee to release your funds": a follow-up call first.
                start = t + int(gap * 0.4)
                p.call(ring, _other(rng, ring, x), s, start, int(rng.integers(60, 601)))
            t += gap
            amount *= float(rng.uniform(*ty.escalation))
            mule = _mule(rng, ring)
        cents = _cents(rng, amount, ty.round_to)
        channel = int(rng.choice(4, p=ch_p))
        p.transfer(s, account, mule, t, cents, channel)
        v.losses.append((t, cents))
        if i == 0 and rng.random() < ty.rebate:
            # The hook: the first "task" pays out a commission, from a mule account.
            back = int(cents * rng.uniform(1.05, 1.3))
            payer = ring.numbers[int(rng.integers(len(ring.numbers)))]
            src = ring.mules[int(rng.integers(len(ring.mules)))]
            p.transfer(payer, src, s, t + int(rng.integers(120, 900)), back, THIRD_PARTY)


def _pick_victims(
    rng: np.random.Generator, pop: Population, ty: Typology, k: int, taken: npt.NDArray[np.bool_]
) -> list[int]:
    """`k` distinct victims weighted by the typology's age skew (Gumbel top-k)."""
    if k == 0:
        return []
    keys = np.log(np.asarray(ty.age_weight)[pop.age]) + rng.gumbel(size=pop.n)
    keys[taken] = -np.inf
    top = np.argpartition(-keys, k - 1)[:k]
    top = top[np.argsort(-keys[top], kind="stable")]
    taken[top] = True
    return [int(t) for t in top.tolist()]


def plan_fraud(
    pop: Population, timeline: Timeline, fraud_rate: float, rng: np.random.Generator
) -> FraudPlan:
    planner = FraudPlanner(pop, timeline, rng)
    total = timeline.total_s
    expected = fraud_rate * pop.n / 1000.0 * total / 86400.0
    n_victims = min(pop.n // 3, int(rng.poisson(expected)))
    shares = np.asarray([t.share for t in TYPOLOGIES])
    per_typology = rng.multinomial(n_victims, shares / shares.sum())
    taken = np.zeros(pop.n, dtype=bool)
    rings: list[Ring] = []
    victims: list[Victim] = []
    for ty, count in zip(TYPOLOGIES, per_typology.tolist(), strict=True):
        n_rings = max(1, math.ceil(count / rng.uniform(*VICTIMS_PER_RING)))
        mine = [planner.make_ring(len(rings) + j + 1, ty) for j in range(n_rings)]
        rings.extend(mine)
        for sub in _pick_victims(rng, pop, ty, count, taken):
            victims.append(Victim(sub, mine[int(rng.integers(n_rings))]))
    # Leave room at the end so most episodes can finish inside the feed.
    hi = max(1, total - int(min(0.3 * total, 4 * 3600)))
    starts = timeline.sample_times(rng, len(victims), FRAUD_HOURS, 0, hi)
    for victim, t_c in zip(victims, starts.tolist(), strict=True):
        play(planner, victim, int(t_c))
    used = {int(n) for part in planner.parts for n in np.unique(part.a).tolist()}
    for ring in rings:
        for x in ring.numbers:
            n_dry = int(rng.poisson(DRY_BURSTS_PER_DAY * total / 86400.0))
            n_dry = max(n_dry, 0 if x in used else 1)
            for t in timeline.sample_times(rng, n_dry, FRAUD_HOURS).tolist():
                if rng.random() < ring.typology.sms_first:
                    planner.sms_blast(ring, x, int(t))
                else:
                    planner.call_burst(ring, x, int(t))
    transfers = ev.concat(planner.transfers)
    batch = ev.concat([*planner.parts, transfers, notices(pop, transfers, timeline, rng)])
    return FraudPlan(events=batch, victims=victims, rings=rings)
