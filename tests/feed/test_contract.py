"""Every generated event obeys the wire contract, in both of its implementations."""

from __future__ import annotations

import re
from datetime import datetime

import msgspec
from pydantic import TypeAdapter

from fraud_warning.contracts import Event
from fraud_warning.wire import VIRTUAL_PREFIXES, Call, Sms, Transfer, WireEvent

from .conftest import Feed

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$")
ID = re.compile(r"^e\d{9,}$")


def test_every_event_decodes_with_msgspec_and_pydantic(day_feed: Feed) -> None:
    decoder = msgspec.json.Decoder(WireEvent)
    adapter = TypeAdapter(Event)
    kinds = {"Call": 0, "Sms": 0, "Transfer": 0}
    for line in day_feed.lines:
        event = decoder.decode(line)
        assert isinstance(event, Call | Sms | Transfer)
        kinds[type(event).__name__] += 1
        adapter.validate_json(line)
    assert all(n > 1000 for n in kinds.values()), kinds


def test_timestamps_sorted_with_china_offset_and_inside_the_feed(day_feed: Feed) -> None:
    stamps = [e["ts"] for e in day_feed.events]
    assert all(TS.match(t) for t in stamps)
    assert stamps == sorted(stamps)
    start = datetime.fromisoformat(day_feed.meta["start"])
    end = datetime.fromisoformat(day_feed.meta["end"])
    assert start <= datetime.fromisoformat(stamps[0])
    assert datetime.fromisoformat(stamps[-1]) < end


def test_event_ids_unique_and_sequential(day_feed: Feed) -> None:
    ids = [e["event_id"] for e in day_feed.events]
    assert len(set(ids)) == len(ids) == day_feed.meta["events"]
    assert all(ID.match(i) for i in ids)


def test_origin_mostly_present_and_consistent_with_number(day_feed: Feed) -> None:
    calls = [e for e in day_feed.events if e["type"] == "call"]
    absent = sum("origin" not in c for c in calls) / len(calls)
    assert 0.05 < absent < 0.15
    for c in calls:
        origin = c.get("origin")
        if origin is None:
            continue
        overseas = not c["caller"].startswith("+86")
        assert (origin == "overseas") == overseas, c
        assert (origin == "virtual_operator") == c["caller"].startswith(VIRTUAL_PREFIXES), c
    origins = {c.get("origin") for c in calls}
    assert {"mobile", "fixed", "virtual_operator", "overseas", "voip_gateway"} <= origins


def test_cells_exactly_on_local_parties(day_feed: Feed) -> None:
    local = day_feed.subscribers
    cells = {r["cell_id"] for r in day_feed.csv("cells.csv")}
    for e in day_feed.events:
        if e["type"] == "call":
            for party, cell in (("caller", "caller_cell"), ("callee", "callee_cell")):
                assert (cell in e) == (e[party] in local), e
                assert cell not in e or e[cell] in cells
        elif e["type"] == "sms":
            assert ("sender_cell" in e) == (e["sender"] in local), e


def test_transfers_are_payments_by_subscribers_with_stable_accounts(day_feed: Feed) -> None:
    local = day_feed.subscribers
    accounts_of: dict[str, set[str]] = {}
    owner: dict[str, str] = {}
    for e in day_feed.events:
        if e["type"] != "transfer":
            continue
        assert e["amount_cny"] > 0 and round(e["amount_cny"], 2) == e["amount_cny"]
        if e["payer"] in day_feed.fraud_numbers:
            continue  # a ring paying a click-farm "commission" back
        assert e["payer"] in local
        accounts_of.setdefault(e["payer"], set()).add(e["payer_account"])
        assert owner.setdefault(e["payer_account"], e["payer"]) == e["payer"]
    # Everyone pays from one or two cards of their own.
    assert max(len(a) for a in accounts_of.values()) <= 2
    channels = {e["channel"] for e in day_feed.events if e["type"] == "transfer"}
    assert channels == {"mobile_banking", "third_party_payment", "atm", "counter"}


def test_sms_bodies_and_links(day_feed: Feed) -> None:
    sms = [e for e in day_feed.events if e["type"] == "sms"]
    assert all(e["text"] and isinstance(e["has_url"], bool) for e in sms)
    for e in sms:
        assert e["has_url"] == ("http://" in e["text"] or "https://" in e["text"]), e
    bank = [e for e in sms if e["sender"] in ("+8695588", "+8695533")]
    assert bank and all("尾号" in e["text"] for e in bank)
