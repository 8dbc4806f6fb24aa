"""Subscribers: ages, homes and workplaces, contact circles, accounts and roles.

Each subscriber has a small stable circle (household and neighbours, colleagues, two
friends, two relatives out of town) built so that most ties run both ways. Roles give
legitimate look-alikes of fraud: couriers and sales people dialling tens of strangers an
hour, families abroad, renters, parents paying tuition, employers paying wages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from . import numbers as nb
from .city import City, pick_work_cells, place_homes, random_cells
from .services import Services, build_services

AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
AGE_SHARES = np.asarray([0.11, 0.20, 0.19, 0.19, 0.17, 0.14])
ELDERLY = 5
_CALL_BY_AGE = np.asarray([1.10, 1.20, 1.15, 1.00, 0.80, 0.55])
_PAY_BY_AGE = np.asarray([1.20, 1.35, 1.25, 1.00, 0.70, 0.35])
_SMS_BY_AGE = np.asarray([1.25, 1.25, 1.10, 0.95, 0.80, 0.55])
_EMPLOYED_BY_AGE = np.asarray([0.55, 0.88, 0.88, 0.82, 0.55, 0.08])

# Contact slots: 4 household/neighbours, 4 colleagues, 2 friends, 2 relatives elsewhere.
N_SLOTS = 12
HOUSEHOLD = np.arange(0, 4)
COLLEAGUE = np.arange(4, 8)
EXTERNAL = np.arange(10, 12)
ABROAD_COUNTRIES = ("1", "44", "61", "81", "65", "60", "852", "886", "63", "66", "82", "49")
ABROAD_WEIGHTS = (0.22, 0.10, 0.13, 0.08, 0.07, 0.06, 0.07, 0.04, 0.04, 0.05, 0.08, 0.06)

I64 = npt.NDArray[np.int64]


@dataclass
class Population:
    n: int
    city: City
    directory: nb.Directory
    book: nb.AccountBook
    services: Services
    msisdn_of: list[str]
    age: npt.NDArray[np.int8]
    home_cell: npt.NDArray[np.int32]
    work_cell: npt.NDArray[np.int32]
    home_lat: npt.NDArray[np.float64]
    home_lon: npt.NDArray[np.float64]
    employed: npt.NDArray[np.bool_]
    call_cdf: npt.NDArray[np.float64]
    sms_cdf: npt.NDArray[np.float64]
    pay_cdf: npt.NDArray[np.float64]
    contacts: npt.NDArray[np.int32]  # (n, N_SLOTS) party ids
    bank: npt.NDArray[np.int8]  # bank of the main card (account id = subscriber id)
    second_acc: I64  # a second card's account id, -1 when none
    acc_bank: npt.NDArray[np.int8]  # bank of every subscriber card, by account id
    balance: I64  # typical balance of every subscriber card (fen), for bank notices
    ext_first: int  # relatives out of town: parties ext_first + k, accounts ext_acc_first + k
    ext_count: int
    ext_acc_first: int
    couriers: I64
    courier_rate: npt.NDArray[np.float64]
    sales: I64
    sales_rate: npt.NDArray[np.float64]
    employers: I64
    payday: I64
    payhour: I64
    staff: npt.NDArray[np.int32]  # (employers, 12) staff subscriber ids, -1 padded
    abroad: I64  # subscribers with close family abroad
    abroad_party: I64
    abroad_acc: I64
    renter: I64
    rent_payee: I64
    rent_cents: I64
    parent: I64
    school_idx: I64
    tuition_cents: I64
    investors: I64
    spare_mobile: list[str]  # unused numbers for fraud SIM boxes and spoofed VoIP lines
    spare_virtual: list[str]

    def cells_at(
        self, parties: I64, working: npt.NDArray[np.bool_] | bool, rng: np.random.Generator
    ) -> I64:
        """Serving cell of each party (-1 for non-subscribers): at work in office
        hours if employed, otherwise mostly at home, sometimes out elsewhere."""
        m = len(parties)
        local = parties < self.n
        p = np.where(local, parties, 0)
        at_work = self.employed[p] & working & (rng.random(m) < 0.85)
        cell = np.where(at_work, self.work_cell[p], self.home_cell[p]).astype(np.int64)
        out = rng.random(m) < 0.06
        if out.any():
            cell[out] = random_cells(self.city, int(out.sum()), rng)
        result: I64 = np.where(local, cell, -1)
        return result

    def account_owner(self, acc: I64) -> I64:
        """Subscriber owning each account id, -1 when not a subscriber's card."""
        owner = np.full(len(acc), -1, dtype=np.int64)
        main = acc < self.n
        owner[main] = acc[main]
        second = (acc >= self.n) & (acc < len(self.acc_bank))
        if second.any():
            lookup = np.full(len(self.acc_bank), -1, dtype=np.int64)
            has = self.second_acc >= 0
            lookup[self.second_acc[has]] = np.flatnonzero(has)
            owner[second] = lookup[acc[second]]
        return owner


def _cdf(weights: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    cdf = np.cumsum(weights)
    result: npt.NDArray[np.float64] = cdf / cdf[-1]
    return result


def _neighbours(order: I64, offsets: Sequence[int]) -> npt.NDArray[np.int32]:
    """For each person, the people `offsets` places away in `order` (symmetric ties)."""
    n = len(order)
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(n)
    return np.stack([order[(pos + o) % n] for o in offsets], axis=1).astype(np.int32)


def _matching(rng: np.random.Generator, n: int) -> npt.NDArray[np.int32]:
    """A random pairing: everyone's friend has them as a friend too."""
    perm = rng.permutation(n)
    partner = np.empty(n, dtype=np.int32)
    half = n // 2
    partner[perm[:half]] = perm[half : 2 * half]
    partner[perm[half : 2 * half]] = perm[:half]
    if n % 2:
        partner[perm[-1]] = perm[0]
    return partner


def _members(rng: np.random.Generator, age: npt.NDArray[np.int8], by_age: Sequence[float]) -> I64:
    """Subscribers holding a role, with a per-age-band probability."""
    p = np.asarray(by_age)[age]
    return np.flatnonzero(rng.random(len(age)) < p).astype(np.int64)


def build_population(n: int, city: City, rng: np.random.Generator, spare: int = 0) -> Population:
    """Subscribers of `city`; `spare` extra numbers are reserved for fraud rings."""
    age = rng.choice(len(AGE_BANDS), size=n, p=AGE_SHARES / AGE_SHARES.sum()).astype(np.int8)
    home_cell, home_lat, home_lon = place_homes(city, n, rng)
    work_cell = pick_work_cells(city, n, rng)
    employed = rng.random(n) < _EMPLOYED_BY_AGE[age]

    # Numbers: everybody's comes from one shuffled space (see numbers.py).
    is_virtual = rng.random(n) < 0.015
    n_virtual = int(is_virtual.sum())
    ext_count = max(50, int(0.9 * n))
    n_spare = max(400, n // 100) + spare
    local_mob, ext_mob, spare_mobile = nb.mobile_numbers(rng, [n - n_virtual, ext_count, n_spare])
    local_virt, spare_virtual = nb.mobile_numbers(
        rng, [n_virtual, max(200, n // 200) + spare], nb.VIRTUAL_PREFIXES
    )
    msisdn: list[str] = [""] * n
    origin = np.where(is_virtual, nb.VIRTUAL, nb.MOBILE).astype(np.int64)
    vi, mi = iter(local_virt), iter(local_mob)
    for k, v in enumerate(is_virtual.tolist()):
        msisdn[k] = next(vi) if v else next(mi)
    directory = nb.Directory()
    directory.add(msisdn, origin.tolist())
    ext_first = directory.add(ext_mob, nb.MOBILE)

    # Cards: the main card's account id is the subscriber id; a third hold a second card.
    book = nb.AccountBook()
    bank = rng.choice(len(nb.BANKS), size=n, p=nb.BANK_SHARES).astype(np.int8)
    has_second = np.flatnonzero(rng.random(n) < 0.35)
    second_bank = ((bank[has_second] + rng.integers(1, len(nb.BANKS), len(has_second))) % 7).astype(
        np.int8
    )
    acc_bank = np.concatenate([bank, second_bank]).astype(np.int8)
    book.add(nb.card_numbers(acc_bank.astype(np.int64), np.arange(len(acc_bank), dtype=np.int64)))
    second_acc = np.full(n, -1, dtype=np.int64)
    second_acc[has_second] = n + np.arange(len(has_second))
    ext_banks = rng.choice(len(nb.BANKS), size=ext_count, p=nb.BANK_SHARES).astype(np.int64)
    ext_acc_first = book.add(
        nb.card_numbers(ext_banks, np.arange(ext_count, dtype=np.int64) + len(book.accounts))
    )

    # Contact circles.
    tiebreak = rng.random(n)
    household = _neighbours(np.lexsort((tiebreak, home_cell)).astype(np.int64), (-2, -1, 1, 2))
    work_key = np.where(employed, work_cell, city.n_cells + home_cell)
    work_order = np.lexsort((rng.random(n), work_key)).astype(np.int64)
    colleague = _neighbours(work_order, (-2, -1, 1, 2))
    friends = np.stack([_matching(rng, n), _matching(rng, n)], axis=1)
    external = (ext_first + rng.integers(0, ext_count, size=(n, 2))).astype(np.int32)
    contacts = np.concatenate([household, colleague, friends, external], axis=1)

    call_w = rng.lognormal(0.0, 0.6, n) * _CALL_BY_AGE[age]
    pay_w = rng.lognormal(0.0, 0.7, n) * _PAY_BY_AGE[age]
    sms_w = rng.lognormal(0.0, 0.5, n) * _SMS_BY_AGE[age]

    services = build_services(n, directory, book, rng, spare_mobile, spare_virtual)

    couriers = _members(rng, age, (0.007, 0.008, 0.006, 0.004, 0.0, 0.0))
    couriers = couriers[employed[couriers]]
    sales = _members(rng, age, (0.004, 0.006, 0.005, 0.003, 0.001, 0.0))
    sales = sales[employed[sales]]
    employers = _members(rng, age, (0.0, 0.002, 0.004, 0.005, 0.003, 0.0))
    # Staff are the people beside the employer in workplace order (shared work cell).
    pos = np.empty(n, dtype=np.int64)
    pos[work_order] = np.arange(n)
    n_staff = rng.integers(3, 13, len(employers))
    staff = np.full((len(employers), 12), -1, dtype=np.int32)
    for j in range(12):
        cand = work_order[(pos[employers] + j + 1) % n]
        staff[:, j] = np.where(j < n_staff, cand, -1)

    abroad = _members(rng, age, (0.006, 0.008, 0.010, 0.016, 0.020, 0.014))
    abroad_numbers = nb.overseas_numbers(rng, len(abroad), ABROAD_COUNTRIES, ABROAD_WEIGHTS)
    abroad_first = directory.add(abroad_numbers, nb.OVERSEAS)
    abroad_banks = rng.choice(len(nb.BANKS), size=len(abroad), p=nb.BANK_SHARES).astype(np.int64)
    abroad_acc_first = book.add(
        nb.card_numbers(abroad_banks, np.arange(len(abroad), dtype=np.int64) + len(book.accounts))
    )

    # Rent goes to a local landlord's card (some own several flats) or to an agency.
    renter = _members(rng, age, (0.30, 0.28, 0.14, 0.07, 0.04, 0.03))
    landlords = _members(rng, age, (0.0, 0.0, 0.01, 0.03, 0.05, 0.05))
    if len(landlords) == 0:
        landlords = np.asarray([int(np.argmax(age))], dtype=np.int64)
    by_landlord = landlords[
        np.minimum(
            np.searchsorted(
                _cdf(rng.pareto(1.5, len(landlords)) + 0.2), rng.random(len(renter)), side="right"
            ),
            len(landlords) - 1,
        )
    ]
    agency = services.agencies[rng.integers(0, len(services.agencies), len(renter))]
    rent_payee = np.where(rng.random(len(renter)) < 0.3, agency, by_landlord).astype(np.int64)
    rent_cents = (np.round(rng.lognormal(np.log(2200), 0.4, len(renter)) / 50) * 5000).astype(
        np.int64
    )

    parent = _members(rng, age, (0.01, 0.10, 0.30, 0.22, 0.06, 0.04))
    school_idx = rng.integers(0, len(services.schools), len(parent))
    tuition = services.school_fees[school_idx, rng.integers(0, 3, len(parent))]
    investors = _members(rng, age, (0.01, 0.03, 0.07, 0.10, 0.10, 0.07))

    call_w[sales] *= 1.3
    return Population(
        n=n,
        city=city,
        directory=directory,
        book=book,
        services=services,
        msisdn_of=msisdn,
        age=age,
        home_cell=home_cell,
        work_cell=work_cell,
        home_lat=home_lat,
        home_lon=home_lon,
        employed=employed,
        call_cdf=_cdf(call_w),
        sms_cdf=_cdf(sms_w),
        pay_cdf=_cdf(pay_w),
        contacts=contacts,
        bank=bank,
        second_acc=second_acc,
        acc_bank=acc_bank,
        balance=(rng.lognormal(np.log(2_500_000), 1.2, len(acc_bank))).astype(np.int64),
        ext_first=ext_first,
        ext_count=ext_count,
        ext_acc_first=ext_acc_first,
        couriers=couriers,
        courier_rate=rng.uniform(15.0, 45.0, len(couriers)),
        sales=sales,
        sales_rate=rng.uniform(10.0, 30.0, len(sales)),
        employers=employers,
        payday=rng.integers(1, 29, len(employers)),
        payhour=rng.integers(9, 18, len(employers)),
        staff=staff,
        abroad=abroad,
        abroad_party=np.arange(abroad_first, abroad_first + len(abroad), dtype=np.int64),
        abroad_acc=np.arange(abroad_acc_first, abroad_acc_first + len(abroad), dtype=np.int64),
        renter=renter,
        rent_payee=rent_payee,
        rent_cents=rent_cents,
        parent=parent,
        school_idx=school_idx,
        tuition_cents=tuition.astype(np.int64),
        investors=investors,
        spare_mobile=spare_mobile,
        spare_virtual=spare_virtual,
    )
