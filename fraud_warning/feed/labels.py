"""Ground truth for a feed, taken from the fraud events that actually fall inside it.

Victims: one row each with the first contact by their ring and their first payment to
a mule (null if they never paid inside the feed). Fraud numbers and mule accounts: one
row each for those that appear in events.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import events as ev
from . import numbers as nb
from .fraud import FraudPlan
from .population import AGE_BANDS, Population
from .timeline import Timeline


@dataclass(frozen=True)
class Labels:
    rows: list[dict[str, object]]
    victims: int
    fraud_numbers: int
    mule_accounts: int
    by_typology: dict[str, int]


def build_labels(plan: FraudPlan, pop: Population, timeline: Timeline) -> Labels:
    total = timeline.total_s
    batch = plan.events.take((plan.events.ts >= 0) & (plan.events.ts < total))
    ring_of_number = {n: r.rid for r in plan.rings for n in r.numbers}
    # Earliest contact between each (subscriber, ring): calls and SMS either way.
    first: dict[tuple[int, str], int] = {}
    talk = np.flatnonzero(batch.kind != ev.TRANSFER)
    for a, b, t in zip(
        batch.a[talk].tolist(), batch.b[talk].tolist(), batch.ts[talk].tolist(), strict=True
    ):
        if a in ring_of_number:
            key = (b, ring_of_number[a])
        elif b in ring_of_number:
            key = (a, ring_of_number[b])
        else:
            continue  # a bank notice after a fraud transfer
        if t < first.get(key, total):
            first[key] = t

    rows: list[dict[str, object]] = []
    by_typology: dict[str, int] = {}
    victims = sorted(
        plan.victims, key=lambda v: (first.get((v.subscriber, v.ring.rid), total), v.subscriber)
    )
    for v in victims:
        t0 = first.get((v.subscriber, v.ring.rid))
        if t0 is None:
            continue
        losses = sorted((t, c) for t, c in v.losses if 0 <= t < total)
        name = v.ring.typology.name
        by_typology[name] = by_typology.get(name, 0) + 1
        rows.append(
            {
                "subscriber": pop.msisdn_of[v.subscriber],
                "typology": name,
                "first_contact_ts": timeline.text(t0),
                "first_loss_ts": timeline.text(losses[0][0]) if losses else None,
                "kind": "victim",
                "ring": v.ring.rid,
                "age_band": AGE_BANDS[int(pop.age[v.subscriber])],
                "loss_cny": round(sum(c for _, c in losses) / 100.0, 2),
                "transfers": len(losses),
            }
        )
    n_victims = len(rows)

    seen = set(np.unique(np.concatenate([batch.a, batch.b])).tolist())
    n_numbers = 0
    for ring in plan.rings:
        for number, origin in zip(ring.numbers, ring.origins, strict=True):
            if number in seen:
                n_numbers += 1
                rows.append(
                    {
                        "number": pop.directory.numbers[number],
                        "kind": "fraud_number",
                        "typology": ring.typology.name,
                        "ring": ring.rid,
                        "origin": nb.ORIGINS[origin],
                    }
                )
    money = batch.kind == ev.TRANSFER
    accounts = set(np.unique(np.concatenate([batch.acc_a[money], batch.acc_b[money]])).tolist())
    n_mules = 0
    for ring in plan.rings:
        for acc in ring.mules:
            if acc in accounts:
                n_mules += 1
                rows.append(
                    {
                        "account": pop.book.accounts[acc],
                        "kind": "mule_account",
                        "typology": ring.typology.name,
                        "ring": ring.rid,
                    }
                )
    return Labels(rows, n_victims, n_numbers, n_mules, by_typology)
