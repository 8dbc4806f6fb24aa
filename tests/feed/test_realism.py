"""Ordinary life looks like ordinary life, including its fraud look-alikes."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from .conftest import Feed


def _calls(feed: Feed) -> list[dict[str, Any]]:
    return [e for e in feed.events if e["type"] == "call"]


def test_volume_is_about_twenty_events_per_subscriber_day(day_feed: Feed) -> None:
    per_day = len(day_feed.events) / day_feed.meta["subscribers"]
    assert 14 < per_day < 32


def test_night_is_quieter_than_midday(day_feed: Feed) -> None:
    by_hour = Counter(int(str(e["ts"])[11:13]) for e in day_feed.events)
    night = sum(by_hour[h] for h in (2, 3, 4))
    midday = sum(by_hour[h] for h in (10, 11, 12))
    assert night * 5 < midday
    assert by_hour[20] > by_hour[2] * 5  # the evening peak


def test_people_call_their_own_circle_both_ways(day_feed: Feed) -> None:
    local = day_feed.subscribers
    pairs = Counter(
        (e["caller"], e["callee"])
        for e in _calls(day_feed)
        if e["caller"] in local and e["callee"] in local
    )
    repeated = sum(1 for n in pairs.values() if n >= 2)
    both_ways = sum(1 for a, b in pairs if (b, a) in pairs)
    assert repeated > 500
    assert both_ways > 500


def test_some_innocent_gets_a_long_overseas_call(day_feed: Feed) -> None:
    victims = {v["subscriber"] for v in day_feed.victims}
    innocent = [
        e
        for e in _calls(day_feed)
        if not str(e["caller"]).startswith("+86")
        and e["caller"] not in day_feed.fraud_numbers
        and e["callee"] not in victims
        and int(e["duration_s"]) >= 20 * 60
    ]
    assert innocent


def test_family_abroad_send_money_after_long_calls(day_feed: Feed) -> None:
    overseas_talkers = {
        e["callee"]
        for e in _calls(day_feed)
        if not str(e["caller"]).startswith("+86")
        and e["caller"] not in day_feed.fraud_numbers
        and int(e["duration_s"]) >= 600
    }
    big_payers = {
        e["payer"]
        for e in day_feed.events
        if e["type"] == "transfer" and float(e["amount_cny"]) >= 1000
    }
    assert overseas_talkers & big_payers


def test_legitimate_numbers_dial_many_strangers(day_feed: Feed) -> None:
    distinct: dict[tuple[object, str], set[object]] = defaultdict(set)
    for e in _calls(day_feed):
        distinct[(e["caller"], str(e["ts"])[:13])].add(e["callee"])
    busy = {caller for (caller, _), callees in distinct.items() if len(callees) >= 15}
    legit = busy - day_feed.fraud_numbers
    assert len(legit & day_feed.subscribers) >= 3  # couriers, sales people
    assert legit - day_feed.subscribers  # telemarketers
    assert busy & day_feed.fraud_numbers


def test_fraud_numbers_mostly_risky_but_some_look_ordinary(day_feed: Feed) -> None:
    origins = Counter(r["origin"] for r in day_feed.labels if r["kind"] == "fraud_number")
    assert origins["overseas"] and origins["voip_gateway"] and origins["virtual_operator"]
    ordinary = origins["mobile"] / sum(origins.values())
    assert 0.05 < ordinary < 0.45


def test_most_fraud_calls_to_non_victims_are_short(day_feed: Feed) -> None:
    victims = {v["subscriber"] for v in day_feed.victims}
    to_others = [
        int(e["duration_s"])
        for e in _calls(day_feed)
        if e["caller"] in day_feed.fraud_numbers and e["callee"] not in victims
    ]
    assert len(to_others) > 500
    assert max(to_others) <= 300
    assert sum(d == 0 for d in to_others) / len(to_others) > 0.2


def test_victims_have_long_calls_with_the_ring(day_feed: Feed) -> None:
    longest: dict[object, int] = defaultdict(int)
    for e in _calls(day_feed):
        if e["caller"] in day_feed.fraud_numbers:
            longest[e["callee"]] = max(longest[e["callee"]], int(e["duration_s"]))
        elif e["callee"] in day_feed.fraud_numbers:
            longest[e["caller"]] = max(longest[e["caller"]], int(e["duration_s"]))
    police = [v for v in day_feed.victims if v["typology"] == "impersonating_police"]
    assert police and all(longest[v["subscriber"]] >= 240 for v in police)
    paid = [v for v in police if v["first_loss_ts"]]
    assert paid and all(longest[v["subscriber"]] >= 20 * 60 for v in paid)
    # Lure-by-SMS typologies reach some victims without any call from their ring.
    ring_of = {r["number"]: r["ring"] for r in day_feed.labels if r["kind"] == "fraud_number"}
    called = {
        (e["callee"], ring_of[e["caller"]]) for e in _calls(day_feed) if e["caller"] in ring_of
    } | {(e["caller"], ring_of[e["callee"]]) for e in _calls(day_feed) if e["callee"] in ring_of}
    farm = [v for v in day_feed.victims if v["typology"] == "click_farm_rebate"]
    assert any((v["subscriber"], v["ring"]) not in called for v in farm)
    assert any((v["subscriber"], v["ring"]) in called for v in farm)


def test_look_alike_payees_receive_from_many(day_feed: Feed) -> None:
    payers: dict[object, set[object]] = defaultdict(set)
    amounts: dict[object, list[float]] = defaultdict(list)
    for e in day_feed.events:
        if e["type"] == "transfer":
            payers[e["payee_account"]].add(e["payer"])
            amounts[e["payee_account"]].append(float(e["amount_cny"]))
    # Schools: corporate accounts taking large sums from many unrelated parents.
    schools = [
        acc
        for acc, who in payers.items()
        if str(acc).startswith("51001") and len(who) >= 5 and min(amounts[acc]) >= 1000
    ]
    assert schools
    assert any(len(payers[m]) >= 3 for m in day_feed.mules)


def test_elderly_and_virtual_operator_subscribers(day_feed: Feed) -> None:
    rows = day_feed.csv("subscribers.csv")
    elderly = sum(r["age_band"] == "65+" for r in rows) / len(rows)
    assert 0.10 < elderly < 0.18
    virtual = {r["msisdn"] for r in rows if r["msisdn"].startswith(("+86170", "+86171"))}
    assert virtual
    callers = {e["caller"] for e in _calls(day_feed)}
    assert virtual & callers


def test_sms_lures_with_links_open_click_farm_and_loan_episodes(day_feed: Feed) -> None:
    ring_of = {r["number"]: r["ring"] for r in day_feed.labels if r["kind"] == "fraud_number"}
    opener: dict[tuple[object, object], dict[str, object]] = {}
    for e in day_feed.events:
        if e["type"] == "sms" and e["sender"] in ring_of:
            opener.setdefault((e["receiver"], ring_of[e["sender"]]), e)
        elif e["type"] == "call" and e["caller"] in ring_of:
            opener.setdefault((e["callee"], ring_of[e["caller"]]), e)
    lured = [v for v in day_feed.victims if v["typology"] in ("click_farm_rebate", "fake_loan")]
    first = [opener[(v["subscriber"], v["ring"])] for v in lured]
    assert all(f["ts"] == v["first_contact_ts"] for f, v in zip(first, lured))
    by_link = sum(f["type"] == "sms" and f["has_url"] is True for f in first)
    assert by_link > 0.6 * len(lured)


def test_acquaintance_victims_pay_the_card_in_the_message(day_feed: Feed) -> None:
    asked: dict[object, str] = {}
    for e in day_feed.events:
        if e["type"] == "sms" and e["sender"] in day_feed.fraud_numbers:
            for mule in day_feed.mules:
                if mule in str(e["text"]):
                    asked[e["receiver"]] = mule
    paid_to: dict[object, object] = {}
    for e in day_feed.events:
        if e["type"] == "transfer" and e["payee_account"] in day_feed.mules:
            paid_to.setdefault(e["payer"], e["payee_account"])
    checked = [who for who in asked if who in paid_to]
    assert checked
    assert all(paid_to[who] == asked[who] for who in checked)
