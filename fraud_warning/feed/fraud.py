"""Fraud rings and their episodes, planned for the whole feed before the hours are written.

A ring has a few numbers (overseas, VoIP gateway, virtual operator, or ordinary SIM-box
mobiles) and a few mule accounts. Its numbers dial or text many subscribers in bursts;
most hang up; victims are held on long calls (or lured by SMS) and then pay the mules,
sometimes several times. Fraud events are small next to everyday traffic, so they are
planned here at once and handed to the writer hour by hour.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from . import events as ev
from . import numbers as nb
from . import texts
from .normal import ORIGIN_MISSING
from .population import Population
from .services import draw
from .timeline import Timeline
from .typologies import TYPOLOGIES, Typology

I64 = npt.NDArray[np.int64]
FRAUD_COUNTRIES = ("855", "95", "63", "60", "66", "84", "1", "852", "886", "44", "971")
FRAUD_COUNTRY_WEIGHTS = (0.22, 0.12, 0.14, 0.10, 0.08, 0.08, 0.07, 0.06, 0.05, 0.04, 0.04)
VICTIMS_PER_RING = (4.0, 10.0)
DRY_BURSTS_PER_DAY = 0.8  # bursts per number that catch nobody


@dataclass
class Ring:
    rid: str
    typology: Typology
    numbers: list[int]  # party ids
    origins: list[int]  # origin code of each number
    mules: list[int]  # account ids
    p_missed: float  # dialling style, fixed per ring
    quick_s: float
    parallel: int


@dataclass
class Victim:
    subscriber: int
    ring: Ring
    losses: list[tuple[int, int]] = field(default_factory=list)  # (ts, fen) paid to mules


@dataclass
class FraudPlan:
    events: ev.Batch
    victims: list[Victim]
    rings: list[Ring]


def expected_numbers(subscribers: int, hours: float, fraud_rate: float) -> int:
    """Upper estimate of fraud numbers needed, to reserve spare numbers for them."""
    victims = fraud_rate * subscribers / 1000.0 * hours / 24.0
    return int(6 * (victims / VICTIMS_PER_RING[0] + len(TYPOLOGIES) + 10))


class FraudPlanner:
    def __init__(self, pop: Population, timeline: Timeline, rng: np.random.Generator) -> None:
        self.pop = pop
        self.tl = timeline
        self.rng = rng
        self.parts: list[ev.Batch] = []
        self.transfers: list[ev.Batch] = []
        # Only the blocks after subscribers and relatives in China can hold foreign numbers.
        tail = pop.directory.numbers[pop.ext_first + pop.ext_count :]
        self._overseas_seen = {s for s in tail if not s.startswith("+86")}
        self._local_origin = np.asarray(pop.directory.origin[: pop.n], dtype=np.int8)
        # Rings work leaked lists: mildly skewed towards the ages a typology targets.
        self._target_cdf = {}
        for ty in TYPOLOGIES:
            w = np.sqrt(np.asarray(ty.age_weight))[pop.age]
            self._target_cdf[ty.name] = np.cumsum(w) / w.sum()

    # -- rings -------------------------------------------------------------------------
    def _number(self, ty: Typology) -> tuple[str, int]:
        rng, pop = self.rng, self.pop
        kind = int(rng.choice(4, p=np.asarray(ty.origin_mix) / sum(ty.origin_mix)))
        if kind == 0:
            while True:
                number = nb.overseas_numbers(rng, 1, FRAUD_COUNTRIES, FRAUD_COUNTRY_WEIGHTS)[0]
                if number not in self._overseas_seen:
                    self._overseas_seen.add(number)
                    return number, nb.OVERSEAS
        if kind == 1:
            # Gateways present spoofed +86 numbers: landline-looking or mobile-looking.
            if rng.random() < 0.4:
                return nb.fixed_numbers(rng, 1, ("10", "21", "28", "20", "755"))[0], nb.VOIP
            return pop.spare_mobile.pop(), nb.VOIP
        if kind == 2:
            return pop.spare_virtual.pop(), nb.VIRTUAL
        return pop.spare_mobile.pop(), nb.MOBILE  # SIM box: an ordinary-looking mobile

    def make_ring(self, k: int, ty: Typology) -> Ring:
        rng, pop = self.rng, self.pop
        made = [self._number(ty) for _ in range(int(rng.integers(2, 6)))]
        first = pop.directory.add([m[0] for m in made], [m[1] for m in made])
        n_mules = int(rng.integers(2, 6))
        banks = rng.choice(len(nb.BANKS), size=n_mules, p=nb.BANK_SHARES).astype(np.int64)
        serial = np.arange(n_mules, dtype=np.int64) + len(pop.book.accounts)
        mule0 = pop.book.add(nb.card_numbers(banks, serial))
        return Ring(
            rid=f"R{k:04d}",
            typology=ty,
            numbers=list(range(first, first + len(made))),
            origins=[m[1] for m in made],
            mules=list(range(mule0, mule0 + n_mules)),
            p_missed=float(rng.uniform(0.30, 0.55)),
            quick_s=float(rng.uniform(5.0, 15.0)),
            parallel=int(rng.integers(1, 4)),
        )

    # -- primitive events ----------------------------------------------------------------
    def _origin(self, ring: Ring, party: int) -> int:
        if self.rng.random() < ORIGIN_MISSING:
            return -1
        if party in ring.numbers:
            return ring.origins[ring.numbers.index(party)]
        return int(self.pop.directory.origin[party])  # a victim calling the ring back

    def call(self, ring: Ring, a: int, b: int, ts: int, dur: int) -> None:
        pa, pb = np.asarray([a], np.int64), np.asarray([b], np.int64)
        tsa = np.asarray([ts], np.int64)
        working = self.tl.working_of(tsa)
        self.parts.append(
            ev.calls(
                tsa,
                pa,
                pb,
                np.asarray([dur], np.int64),
                self.pop.cells_at(pa, working, self.rng),
                self.pop.cells_at(pb, working, self.rng),
                np.asarray([self._origin(ring, a)], np.int8),
            )
        )

    def sms(self, a: int, b: int, ts: int, text: bytes) -> None:
        frag = np.empty(1, dtype=object)
        frag[0] = text
        pa = np.asarray([a], np.int64)
        cell = self.pop.cells_at(pa, self.tl.working_of(np.asarray([ts], np.int64)), self.rng)
        self.parts.append(
            ev.sms(np.asarray([ts], np.int64), pa, np.asarray([b], np.int64), frag, cell)
        )

    def transfer(
        self, payer: int, acc_a: int, acc_b: int, ts: int, cents: int, channel: int
    ) -> None:
        self.transfers.append(
            ev.transfers(
                np.asarray([ts], np.int64),
                np.asarray([payer], np.int64),
                np.asarray([acc_a], np.int64),
                np.asarray([acc_b], np.int64),
                np.asarray([cents], np.int64),
                np.asarray([channel], np.int8),
            )
        )

    # -- bursts ----------------------------------------------------------------------------
    def call_burst(
        self, ring: Ring, x: int, anchor: int, victim: int = -1, victim_dur: int = 0
    ) -> None:
        """Back-to-back dialling from number `x`; a victim's call (if any) starts at
        `anchor`, otherwise the burst does."""
        rng, ty = self.rng, ring.typology
        size = int(rng.integers(int(ty.blast[0]), int(ty.blast[1]) + 1))
        targets = draw(rng, self._target_cdf[ty.name], size)
        dur = np.clip(np.rint(rng.lognormal(math.log(ring.quick_s), 0.8, size)), 2, 90)
        curious = rng.random(size) < 0.06
        dur[curious] = rng.integers(30, 181, int(curious.sum()))
        dur[rng.random(size) < ring.p_missed] = 0
        k = int(rng.integers(size))
        if victim >= 0:
            targets[k], dur[k] = victim, victim_dur
        ring_out = np.where(dur == 0, rng.integers(15, 36, size), 0)
        step = (dur + ring_out + rng.integers(2, 26, size)) / ring.parallel
        offsets = (np.cumsum(step) - step).astype(np.int64)
        ts = anchor + offsets - (offsets[k] if victim >= 0 else 0)
        missing = rng.random(size) < ORIGIN_MISSING
        origin = np.where(missing, -1, ring.origins[ring.numbers.index(x)]).astype(np.int8)
        self.parts.append(
            ev.calls(
                ts,
                np.full(size, x, np.int64),
                targets,
                dur.astype(np.int64),
                np.full(size, -1, np.int64),
                self.pop.cells_at(targets, self.tl.working_of(ts), rng),
                origin,
            )
        )
        # A few people ring a missed number back, and mostly hang up at once.
        back = np.flatnonzero((dur == 0) & (rng.random(size) < 0.04))
        back = back[back != k] if victim >= 0 else back
        if len(back):
            who = targets[back]
            t_back = ts[back] + rng.integers(60, 3600, len(back))
            o = self._local_origin[who]
            o[rng.random(len(back)) < ORIGIN_MISSING] = -1
            self.parts.append(
                ev.calls(
                    t_back,
                    who,
                    np.full(len(back), x, np.int64),
                    rng.integers(0, 30, len(back)),
                    self.pop.cells_at(who, self.tl.working_of(t_back), rng),
                    np.full(len(back), -1, np.int64),
                    o,
                )
            )

    def sms_blast(self, ring: Ring, x: int, anchor: int, victim: int = -1) -> None:
        rng, ty = self.rng, ring.typology
        size = int(rng.integers(int(ty.blast[0]), int(ty.blast[1]) + 1))
        targets = draw(rng, self._target_cdf[ty.name], size)
        k = int(rng.integers(size))
        if victim >= 0:
            targets[k] = victim
        offsets = np.cumsum(rng.uniform(0.5, 4.0, size)).astype(np.int64)
        ts = anchor + offsets - (offsets[k] if victim >= 0 else 0)
        text = np.empty(size, dtype=object)
        text[:] = texts.fraud_sms(rng, ty.name, bool(rng.random() < ty.sms_url))
        self.parts.append(
            ev.sms(ts, np.full(size, x, np.int64), targets, text, np.full(size, -1, np.int64))
        )
