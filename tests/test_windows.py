"""Rule-defined windowed features: the language, the run-time windows and the registry."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fraud_warning.engine import Engine
from fraud_warning.features import CATALOGUE
from fraud_warning.join import Joiner
from fraud_warning.refdata import RefData
from fraud_warning.registry import Registry, RegistryError, load_registry
from fraud_warning.rules import RuleError, load_rule_file
from fraud_warning.ruletests import run_rule_tests
from fraud_warning.state import StateStore
from fraud_warning.windowlang import FIELDS, MAX_DEPTH, WindowError, parse_feature
from fraud_warning.windows import MAX_ENTRIES, Windows
from fraud_warning.wire import Call, Sms, Transfer, derive_origin
from tests.factories import Feed as EventFactory

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
VICTIM = "+8613800000001"
LISTS = {
    "risky": ("overseas", "voip_gateway"),
    "lures": ("安全账户", "涉嫌洗钱"),
    "vip": ("+86188",),
}


# -- the language ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "sum(call.duration_s / 60, within=30m, where=call.origin in $risky)",
        "count(sms, within=24h, where=sms.text contains $lures and not sms.sender_is_contact)",
        "distinct(transfer.payee_account, within=2h, where=transfer.payee_is_new)",
        "max(call.caller_fanout_1h, within=2h)",
        "min(transfer.amount_cny, within=1h, where=transfer.channel == 'atm')",
        "avg(call.duration_s, within=90s, where=(call.duration_s >= 60 or call.caller_flagged))",
        "last(transfer.amount_cny * 2, within=1d)",
        "count(call, within=10m, where=call.caller startswith $vip and call.origin not in ['x'])",
    ],
)
def test_good_definitions_parse_and_print_back_to_the_same_feature(text: str) -> None:
    spec = parse_feature(text, "victim")
    assert spec.side == "victim"
    assert parse_feature(text.replace(" ", "  "), "victim").fid == spec.fid


def test_equal_definitions_are_one_feature_and_different_ones_are_not() -> None:
    a = parse_feature("count(sms, within=1h, where=sms.has_url)", "victim")
    b = parse_feature("count( sms ,within=60m,where=sms.has_url )", "victim")
    c = parse_feature("count(sms, within=2h, where=sms.has_url)", "victim")
    d = parse_feature("sum(sms.sender_fanout_1h, within=2h, where=sms.has_url)", "victim")
    e = parse_feature("max(sms.sender_fanout_1h, within=1h, where=sms.has_url)", "victim")
    assert a.fid == b.fid != c.fid
    assert a.source == c.source != d.source
    assert d.source == e.source and d.fid != e.fid  # one recorded source, two features


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cnt(sms, within=1h)", "unknown window function 'cnt' (did you mean 'count'?"),
        ("count(sms)", "needs a window: within=30m"),
        ("count(sms, within=2d)", "within=2d is out of range"),
        ("count(fax, within=1h)", "unknown event type 'fax'"),
        ("sum(call.durration_s, within=1h)", "did you mean 'duration_s'?"),
        ("sum(call.origin, within=1h)", "needs a numeric field; 'call.origin' is text"),
        ("count(call.duration_s, within=1h)", "count takes an event type"),
        ("sum(sms, within=1h)", "sum(...) needs a field such as sms."),
        ("count(call, within=1h, where=sms.has_url)", "a feature reads one event type (call)"),
        ("count(call, within=1h, side=number)", "this rule's features are on the victim side"),
        ("count(call, within=1h, where=call.origin >= 3)", "compare it with == or !="),
        ("count(call, within=1h, where=call.duration_s == 'x')", "compare it with a number"),
        ("count(call, within=1h, where=call.duration_s)", "a comparison after 'call.duration_s'"),
        ("count(call, within=1h, where=call.duration_s in $risky)", "'in' needs a text field"),
        ("count(call, within=1h, where=origin == 'x')", "name a field as EVENT.FIELD"),
        ("count(call, within=1h, where=call.__class__)", "names starting with '__'"),
        ("count(call, within=1h, where=call.origin.upper)", "attribute access is not allowed"),
        ("count(call, within=1h, where=call.caller + 1)", "arithmetic"),
        ("sum(call.duration_s / 0, within=1h)", "division by zero"),
        ("sum(call.duration_s * 1e400, within=1h)", "out of range"),
        ("count(call, within=1h, when=1)", "unknown argument 'when'"),
        ("count(call, within=1h, within=2h)", "'within' given twice"),
        ("count(call, within=1h) and 1", "expected the end of the feature"),
        ("count(call, within=1h, where=import os)", "a field as EVENT.FIELD"),
        ("count(call, within=1h, where=call.caller in ['" + "x" * 300 + "'])", "longer than 200"),
        (
            "count(call, within=1h, where=" + "(" * 40 + "call.caller_flagged" + ")" * 40 + ")",
            "nested too deeply",
        ),
        (
            "count(sms, within=1h, where=" + " or ".join(["sms.has_url"] * 55) + ")",
            "more than 50 terms",
        ),
        ("x" * 2000, "longer than 1000 characters"),
        ("", "empty feature"),
    ],
)
def test_bad_definitions_are_refused_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(WindowError) as exc:
        parse_feature(text, "victim")
    assert message in str(exc.value)
    assert MAX_DEPTH < 40


def test_number_side_reads_the_numbers_own_events() -> None:
    spec = parse_feature("distinct(call.callee, within=10m, where=call.duration_s < 30)", "number")
    assert (spec.side, spec.event) == ("number", "call")
    with pytest.raises(WindowError, match="unknown event type 'transfer'"):
        parse_feature("count(transfer, within=1h)", "number")


# -- the values, against a brute-force reference ----------------------------------------

FEATURES: dict[str, tuple[str, str, Callable[[list[tuple[float, dict[str, Any]]]], float]]] = {}


def _agg(func: str, values: list[Any]) -> float:
    if not values:
        return 0.0
    return {
        "count": lambda: float(len(values)),
        "sum": lambda: float(sum(values)),
        "distinct": lambda: float(len(set(values))),
        "max": lambda: float(max(values)),
        "min": lambda: float(min(values)),
        "avg": lambda: sum(values) / len(values),
        "last": lambda: float(values[-1]),
    }[func]()


# (kind the row belongs to, definition, event type, field, scale, window s, test)
CASES: list[tuple[str, str, str, str | None, float, float, Callable[[dict[str, Any]], bool]]] = [
    ("call", "sum(call.duration_s / 60, within=30m, where=call.origin in $risky)", "call",
     "duration_s", 1 / 60, 1800, lambda f: f["origin"] in LISTS["risky"]),
    ("call", "count(call, within=2h, where=not call.caller_is_contact)", "call", None, 1, 7200,
     lambda f: not f["caller_is_contact"]),
    ("call", "distinct(call.caller, within=1h)", "call", "caller", 1, 3600, lambda f: True),
    ("call", "max(call.duration_s, within=45m, where=call.duration_s >= 60)", "call",
     "duration_s", 1, 2700, lambda f: f["duration_s"] >= 60),
    ("call", "min(call.duration_s, within=20m)", "call", "duration_s", 1, 1200, lambda f: True),
    ("call", "avg(call.duration_s, within=3h)", "call", "duration_s", 1, 10800, lambda f: True),
    ("call", "last(call.duration_s * 2, within=15m)", "call", "duration_s", 2, 900,
     lambda f: True),
    ("call", "count(sms, within=24h, where=sms.text contains $lures)", "sms", None, 1, 86400,
     lambda f: any(k in f["text"] for k in LISTS["lures"])),
    ("call", "count(transfer, within=6h, where=transfer.amount_cny > 500)", "transfer", None, 1,
     21600, lambda f: f["amount_cny"] > 500),
    ("call", "sum(transfer.amount_cny, within=2h, where=transfer.payee_is_new)", "transfer",
     "amount_cny", 1, 7200, lambda f: f["payee_is_new"]),
]  # fmt: skip


def _events(rng: random.Random, n: int) -> list[Call | Sms | Transfer]:
    callers = [f"+86188{i:08d}" for i in range(40)] + ["+447700900001", "+8617012345678"]
    texts = ["您好", "您的账户涉嫌洗钱，请转入安全账户", "取件码 1234", ""]
    out: list[Call | Sms | Transfer] = []
    t = 0.0
    for i in range(n):
        t += rng.expovariate(1 / 400)
        ts = T0 + timedelta(seconds=round(t, 3))
        roll = rng.random()
        caller = rng.choice(callers)
        if roll < 0.5:
            origin = rng.choice([None, "mobile", "overseas", "voip_gateway"])
            out.append(
                Call(f"e{i}", ts, caller, VICTIM, rng.choice([5, 45, 90, 700]), None, None, origin)
            )  # type: ignore[arg-type]
        elif roll < 0.6:  # the victim calls someone: a contact from then on
            out.append(Call(f"e{i}", ts, VICTIM, caller, 30))
        elif roll < 0.85:
            out.append(Sms(f"e{i}", ts, caller, VICTIM, rng.choice(texts), rng.random() < 0.3))
        else:
            amount = rng.choice([50.0, 800.0, 3000.0])
            out.append(Transfer(f"e{i}", ts, VICTIM, "A1", f"P{rng.randrange(4)}", amount, "atm"))
    return out


def test_window_values_equal_a_brute_force_count_over_the_history() -> None:
    specs = [parse_feature(text, "victim") for _, text, *_ in CASES]
    windows = Windows({"call": specs, "transfer": specs[:2]}, LISTS)
    joiner = Joiner(StateStore(), RefData.empty(), {"call": 0.0, "transfer": 0.0}, None, windows)
    history: dict[str, list[tuple[float, dict[str, Any]]]] = {"call": [], "sms": [], "transfer": []}
    contacts: set[str] = set()
    paid: set[str] = set()
    checked = 0
    for ev in _events(random.Random(7), 1500):
        ts = ev.ts.timestamp()
        if isinstance(ev, Call) and ev.caller == VICTIM:
            joiner.call(ev, ts)
            contacts.add(ev.callee)
            continue
        if isinstance(ev, Call):
            fields = {"duration_s": ev.duration_s, "caller": ev.caller,
                      "origin": ev.origin or derive_origin(ev.caller),
                      "caller_is_contact": ev.caller in contacts}  # fmt: skip
            history["call"].append((ts, fields))
            row, _ = joiner.call(ev, ts)
        elif isinstance(ev, Sms):
            history["sms"].append((ts, {"text": ev.text or ""}))
            joiner.sms(ev, ts)
            continue
        else:
            fields = {"amount_cny": ev.amount_cny, "payee_is_new": ev.payee_account not in paid}
            history["transfer"].append((ts, fields))
            paid.add(ev.payee_account)
            joiner.transfer(ev, ts)
            continue
        if row is None:  # a contact's call: no stranger's row
            continue
        got = row[len(CATALOGUE["call"]) :]
        want = []
        for (_, text, event, field, scale, within, test), _spec in zip(CASES, specs, strict=True):
            picked = [
                f[field] if field else 1
                for t, f in history[event]
                if ts - within < t <= ts and test(f)
            ]
            func = text.split("(", 1)[0]
            want.append(_agg(func, picked) * (scale if func not in ("count", "distinct") else 1))
        assert got == pytest.approx(want, rel=1e-9), ev
        checked += 1
    assert checked > 100


def test_a_window_saturates_at_its_cap_and_keeps_event_time_order() -> None:
    spec = parse_feature("count(sms, within=24h)", "victim")
    windows = Windows({"sms": [spec]})

    class Key:
        windows = None

    key = Key()
    for i in range(MAX_ENTRIES + 50):
        windows.record(key, "victim:sms", float(i), ())
    windows.record(key, "victim:sms", 500.5, ())  # late: slotted in by time
    held = key.windows[spec.source]  # type: ignore[index]
    assert len(held) == MAX_ENTRIES
    assert [t for t, _ in held] == sorted(t for t, _ in held)
    assert windows.values(key, "sms", 2000.0) == [float(MAX_ENTRIES)]
    assert windows.values(key, "sms", 600.0) == [float(sum(1 for t, _ in held if t <= 600))]


def _reads(side: str, event: str, field: str, value: Any) -> str:
    """A feature whose value shows whether `field` held `value` (1) or not (0), or, for
    a number, the value itself."""
    kind = FIELDS[side][event][field]
    if kind == "num":
        return f"last({event}.{field}, within=1h)"
    if kind == "bool":
        return f"count({event}, within=1h, where={'' if value else 'not '}{event}.{field})"
    return f"count({event}, within=1h, where={event}.{field} == '{value}')"


@pytest.mark.parametrize("contact", [False, True])
@pytest.mark.parametrize("flagged", [False, True])
def test_the_join_hands_every_field_in_the_order_the_language_names_them(
    contact: bool, flagged: bool
) -> None:
    # the tests read fields by position: a field out of place would read another's value
    caller, text = "+447700900001", "您好 https://x.cn"
    want = {
        ("number", "call"): {"callee": VICTIM, "duration_s": 45, "origin": "voip_gateway"},
        ("number", "sms"): {"receiver": VICTIM, "text": text, "has_url": True},
        ("victim", "call"): {
            "caller": caller, "duration_s": 45, "origin": "voip_gateway",
            "caller_is_contact": contact, "caller_is_service": False,
            "caller_fanout_1h": 1.0, "caller_flagged": flagged,
        },
        ("victim", "sms"): {
            "sender": caller, "text": text, "has_url": True, "sender_is_contact": contact,
            "sender_is_service": False, "sender_fanout_1h": 2.0, "sender_flagged": flagged,
        },
        ("victim", "transfer"): {
            "payee_account": "P9", "amount_cny": 900.0, "payee_is_new": True, "channel": "atm"
        },
    }  # fmt: skip
    every = {(side, event): list(f) for side, ev in FIELDS.items() for event, f in ev.items()}
    assert {k: list(v) for k, v in want.items()} == every  # each field of each event
    specs: dict[str, list[Any]] = {"call": [], "number": []}
    for (side, event), fields in want.items():
        for field, value in fields.items():
            kind = "number" if side == "number" else "call"
            specs[kind].append(parse_feature(_reads(side, event, field, value), side))
    store = StateStore()
    joiner = Joiner(store, RefData.empty(), {}, None, Windows(specs))
    ts = T0.timestamp()
    if contact:
        joiner.call(Call("c0", T0, VICTIM, caller, 30), ts - 60)
    if flagged:
        store.flags[caller] = store.numbers.touch(caller, ts - 30).flagged_at = ts - 30
    joiner.call(Call("c1", T0, caller, VICTIM, 45, None, None, "voip_gateway"), ts)
    joiner.sms(Sms("s1", T0, caller, "+8613800000002", "hi", False), ts + 1)
    joiner.sms(Sms("s2", T0, caller, VICTIM, text, True), ts + 2)
    joiner.transfer(Transfer("t1", T0, VICTIM, "A1", "P9", 900.0, "atm"), ts + 3)
    expected = {
        kind: [
            float(value) if FIELDS[side][event][field] == "num" else 1.0
            for (side, event), fields in want.items()
            if ("number" if side == "number" else "call") == kind
            for field, value in fields.items()
        ]
        for kind in specs
    }
    at = ts + 4
    victim, number = store.victims.get(VICTIM, at), store.numbers.get(caller, at)
    assert joiner.sides.windows.values(victim, "call", at) == expected["call"]
    assert joiner.sides.windows.values(number, "number", at) == expected["number"]


# -- rules and the registry --------------------------------------------------------------

RULE = """\
id: lure-sms-transfer
version: 1
title: Transfer to a new payee after a lure SMS from a stranger
typology: impersonating_police
status: stable
priority: P1
owner: desk
on: transfer
features:
  lure_sms_24h: count(sms, within=24h, where=sms.text contains $lures and not sms.sender_is_contact)
  new_payee_cny_1h: sum(transfer.amount_cny, within=1h, where=transfer.payee_is_new)
condition: lure_sms_24h >= 1 and new_payee_cny_1h >= 5000
score: 0.9
reasons: ["{lure_sms_24h:.0f} lure SMS in 24 h", "{new_payee_cny_1h:.0f} CNY to new payees in 1 h"]
tests:
  - name: a lure, then two transfers to new accounts
    expect: fire
    events:
      - {type: sms, ts: "+0s", sender: "+8617012345678", receiver: "+8613800000001",
         text: "您的账户涉嫌洗钱，请转入安全账户"}
      - {type: transfer, ts: "+20m", payer: "+8613800000001", payer_account: A,
         payee_account: X1, amount_cny: 3000, channel: mobile_banking}
      - {type: transfer, ts: "+30m", payer: "+8613800000001", payer_account: A,
         payee_account: X2, amount_cny: 3000, channel: mobile_banking}
  - name: the same transfers without the lure
    expect: quiet
    events:
      - {type: sms, ts: "+0s", sender: "+8617012345678", receiver: "+8613800000001",
         text: "周末聚聚"}
      - {type: transfer, ts: "+20m", payer: "+8613800000001", payer_account: A,
         payee_account: X1, amount_cny: 3000, channel: mobile_banking}
      - {type: transfer, ts: "+30m", payer: "+8613800000001", payer_account: A,
         payee_account: X2, amount_cny: 3000, channel: mobile_banking}
  - name: the lure was more than a day earlier
    expect: quiet
    events:
      - {type: sms, ts: "+0s", sender: "+8617012345678", receiver: "+8613800000001",
         text: "涉嫌洗钱"}
      - {type: transfer, ts: "+25h", payer: "+8613800000001", payer_account: A,
         payee_account: X1, amount_cny: 6000, channel: mobile_banking}
"""


def _write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text)
    return path


def _lists(directory: Path, items: str = '["涉嫌洗钱", "安全账户"]') -> None:
    _write(directory / "lists", "lures.yaml", f"list: lures\nkind: keywords\nitems: {items}\n")


def test_a_rule_with_window_features_fires_explains_and_runs_its_tests(tmp_path: Path) -> None:
    _lists(tmp_path)
    _write(tmp_path, "lure.yaml", RULE)
    registry = load_registry(tmp_path)
    (rule,) = registry.rules
    assert run_rule_tests(rule, (), registry.lists) == []
    factory = EventFactory()
    factory.sms(0, "+8617012345678", VICTIM, text="请转入安全账户配合调查")
    factory.transfer(600, VICTIM, "X1", 2500)
    factory.transfer(900, VICTIM, "X2", 2600)
    from fraud_warning.decode import Decoder

    good, bad = Decoder("t").decode_lines(enumerate(factory.lines(), 1))
    out = Engine(registry).process(good)
    assert not bad
    (alert,) = out.alerts
    assert alert["models"][0]["id"] == "lure-sms-transfer"
    assert "1 lure SMS in 24 h" in alert["models"][0]["reasons"]
    assert "5100 CNY to new payees in 1 h" in alert["models"][0]["reasons"]


def test_a_site_list_changes_what_the_rule_reads_without_editing_it(tmp_path: Path) -> None:
    rules, site = tmp_path / "rules", tmp_path / "site"
    _lists(rules, '["不会出现的词"]')
    _write(rules, "lure.yaml", RULE)
    registry = load_registry(rules)
    failures = run_rule_tests(registry.rules[0], (), registry.lists)
    assert "expected fire, stayed quiet" in failures[0]
    _write(site, "lures.yaml", 'list: lures\nkind: keywords\nmode: extend\nitems: ["涉嫌洗钱"]\n')
    registry = load_registry(rules, lists_dir=site)
    assert registry.lists["lures"] == ("不会出现的词", "涉嫌洗钱")
    assert run_rule_tests(registry.rules[0], (), registry.lists) == []


def test_an_unknown_list_is_refused_naming_file_and_line(tmp_path: Path) -> None:
    _write(tmp_path, "lure.yaml", RULE)
    with pytest.raises(RegistryError) as exc:
        load_registry(tmp_path)
    assert "lure.yaml:10: features.lure_sms_24h: unknown list '$lures'" in str(exc.value)


def test_a_bad_feature_names_file_line_and_feature(tmp_path: Path) -> None:
    path = _write(tmp_path, "lure.yaml", RULE.replace("count(sms,", "cnt(sms,"))
    with pytest.raises(RuleError) as exc:
        load_rule_file(path)
    assert f"{path}:10: features.lure_sms_24h: unknown window function 'cnt'" in str(exc.value)
    clash = RULE.replace("  new_payee_cny_1h:", "  amount_cny:").replace("new_payee_cny_1h", "x")
    with pytest.raises(RuleError, match="'amount_cny' is already a feature of 'transfer' rules"):
        load_rule_file(_write(tmp_path, "clash.yaml", clash))


def test_rules_defining_the_same_feature_share_one_column(tmp_path: Path) -> None:
    _lists(tmp_path)
    _write(tmp_path, "a.yaml", RULE)
    other = (
        RULE.replace("id: lure-sms-transfer", "id: lure-sms-transfer-b")
        .replace("lure_sms_24h", "lures_day")
        .replace("new_payee_cny_1h >= 5000", "new_payee_cny_1h >= 100")
    )
    _write(tmp_path, "b.yaml", other.split("tests:")[0])
    registry = load_registry(tmp_path)
    assert registry.windows.columns("transfer") == 2
    a, b = registry.by_kind["transfer"]
    assert a.names[-2:] == ("lure_sms_24h", "new_payee_cny_1h")
    assert b.names[-2:] == ("lures_day", "new_payee_cny_1h")
    assert len(CATALOGUE["transfer"]) + 2 == len(a.names) == len(b.names)


def test_a_registry_swap_starts_a_new_window_recording_at_the_swap(tmp_path: Path) -> None:
    _lists(tmp_path)
    _write(tmp_path, "lure.yaml", RULE)
    with_rule = load_registry(tmp_path)
    engine = Engine(Registry.of([], lists=with_rule.lists))
    from fraud_warning.decode import Decoder

    def run(factory: EventFactory) -> list[dict[str, Any]]:
        good, _ = Decoder("t").decode_lines(enumerate(factory.lines(), 1))
        return engine.process(good).alerts

    before = EventFactory()
    before.sms(0, "+8617012345678", VICTIM, text="涉嫌洗钱")
    assert run(before) == []
    engine.swap_registry(with_rule)
    after = EventFactory()
    after.transfer(600, VICTIM, "X1", 6000, event_id="t1")
    assert run(after) == []  # the lure came before the window existed
    again = EventFactory()
    again.sms(700, "+8617012345678", VICTIM, text="涉嫌洗钱", event_id="s2")
    again.transfer(800, VICTIM, "X2", 6000, event_id="t2")
    assert len(run(again)) == 1
