"""labels.jsonl tells the truth about events.jsonl."""

from __future__ import annotations

from collections import defaultdict

from fraud_warning.feed import NAMES, TYPOLOGIES

from .conftest import Feed

EXPECTED = {
    "impersonating_police",
    "fake_customer_service",
    "click_farm_rebate",
    "fake_investment_romance",
    "fake_loan",
    "fake_credit_repair",
    "impersonating_acquaintance",
}


def test_typology_names_are_the_documented_constants() -> None:
    assert set(NAMES) == EXPECTED
    assert all(t.chinese and t.english for t in TYPOLOGIES)
    assert abs(sum(t.share for t in TYPOLOGIES) - 1.0) < 1e-9


def test_every_typology_appears_in_a_day(day_feed: Feed) -> None:
    seen = {v["typology"] for v in day_feed.victims}
    assert seen == EXPECTED
    assert {r["typology"] for r in day_feed.labels if r["kind"] == "fraud_number"} == EXPECTED


def test_label_counts_match_meta(day_feed: Feed) -> None:
    meta = day_feed.meta
    assert meta["victims"] == len(day_feed.victims)
    assert meta["fraud_numbers"] == len(day_feed.fraud_numbers)
    assert meta["mule_accounts"] == len(day_feed.mules)


def test_labels_reference_things_in_events(day_feed: Feed) -> None:
    parties: set[str] = set()
    payees: set[str] = set()
    ring_payers: set[str] = set()
    for e in day_feed.events:
        if e["type"] == "call":
            parties.update((e["caller"], e["callee"]))
        elif e["type"] == "sms":
            parties.update((e["sender"], e["receiver"]))
        else:
            payees.add(e["payee_account"])
            if e["payer"] in day_feed.fraud_numbers:
                ring_payers.add(e["payer_account"])
    assert {v["subscriber"] for v in day_feed.victims} <= parties & day_feed.subscribers
    assert day_feed.fraud_numbers <= parties
    assert not day_feed.fraud_numbers & day_feed.subscribers
    # Mules receive victims' money; a few only pay "commissions" out to hook victims.
    assert day_feed.mules <= payees | ring_payers
    assert len(day_feed.mules & payees) > 0.8 * len(day_feed.mules)


def test_first_loss_is_first_transfer_to_a_mule(day_feed: Feed) -> None:
    first_paid: dict[str, str] = {}
    for e in day_feed.events:
        if e["type"] == "transfer" and e["payee_account"] in day_feed.mules:
            first_paid.setdefault(e["payer"], e["ts"])
    victims = {v["subscriber"]: v for v in day_feed.victims}
    for who, v in victims.items():
        assert v["first_loss_ts"] == first_paid.get(who), v
    # Only victims (and rings paying "commissions") send money to mules.
    assert set(first_paid) - set(victims) <= day_feed.fraud_numbers


def test_first_contact_is_the_rings_first_contact(day_feed: Feed) -> None:
    ring_numbers: dict[str, set[str]] = defaultdict(set)
    for r in day_feed.labels:
        if r["kind"] == "fraud_number":
            ring_numbers[r["ring"]].add(r["number"])
    first: dict[tuple[str, str], str] = {}
    for e in day_feed.events:
        if e["type"] == "transfer":
            continue
        a, b = (e["caller"], e["callee"]) if e["type"] == "call" else (e["sender"], e["receiver"])
        for ring, numbers in ring_numbers.items():
            if a in numbers:
                first.setdefault((b, ring), e["ts"])
            elif b in numbers:
                first.setdefault((a, ring), e["ts"])
    for v in day_feed.victims:
        assert v["first_contact_ts"] == first[(v["subscriber"], v["ring"])], v
        assert v["first_loss_ts"] is None or v["first_loss_ts"] >= v["first_contact_ts"]


def test_a_good_share_of_victims_never_pay(day_feed: Feed) -> None:
    unpaid = sum(v["first_loss_ts"] is None for v in day_feed.victims) / len(day_feed.victims)
    assert 0.2 < unpaid < 0.6


def test_mules_collect_from_several_victims(day_feed: Feed) -> None:
    payers: dict[str, set[str]] = defaultdict(set)
    victims = {v["subscriber"] for v in day_feed.victims}
    for e in day_feed.events:
        if e["type"] == "transfer" and e["payee_account"] in day_feed.mules:
            payers[e["payee_account"]].add(e["payer"])
    assert max(len(p & victims) for p in payers.values()) >= 3


def test_victims_skew_by_typology_but_not_exclusively(day_feed: Feed) -> None:
    old = {"55-64", "65+"}
    by = defaultdict(list)
    for v in day_feed.victims:
        by[v["typology"]].append(v["age_band"] in old)
    police_old = sum(by["impersonating_police"]) / len(by["impersonating_police"])
    farm_old = sum(by["click_farm_rebate"]) / len(by["click_farm_rebate"])
    assert police_old > farm_old
    ages = {v["age_band"] for v in day_feed.victims}
    assert len(ages) >= 5
