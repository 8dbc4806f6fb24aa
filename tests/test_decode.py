"""Decode stage: every bad record becomes a dead letter with the right reason, in place."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fraud_warning.decode import (
    MAX_RAW_CHARS,
    REASONS,
    DeadLetter,
    Decoded,
    Decoder,
    classify,
)
from fraud_warning.wire import E164_PATTERN, Call, Sms, Transfer

TS = "2026-03-02T09:00:00+08:00"
CALL: dict[str, Any] = {
    "event_id": "c1",
    "type": "call",
    "ts": TS,
    "caller": "+8613800000001",
    "callee": "+8613800000002",
    "duration_s": 60,
}
SMS: dict[str, Any] = {
    "event_id": "s1",
    "type": "sms",
    "ts": TS,
    "sender": "+8613800000001",
    "receiver": "+8613800000002",
}
TRANSFER: dict[str, Any] = {
    "event_id": "t1",
    "type": "transfer",
    "ts": TS,
    "payer": "+8613800000001",
    "payer_account": "ACC1",
    "payee_account": "ACC2",
    "amount_cny": 500.0,
    "channel": "mobile_banking",
}
BASES = {"call": CALL, "sms": SMS, "transfer": TRANSFER}
REQUIRED = {
    "call": ("event_id", "type", "ts", "caller", "callee", "duration_s"),
    "sms": ("event_id", "type", "ts", "sender", "receiver"),
    "transfer": (
        "event_id",
        "type",
        "ts",
        "payer",
        "payer_account",
        "payee_account",
        "amount_cny",
        "channel",
    ),
}


def rec(base: dict[str, Any], drop: str | None = None, **changes: Any) -> bytes:
    out = {k: v for k, v in base.items() if k != drop}
    out.update(changes)
    return orjson.dumps(out)


#: (name, raw record, reason): shared with tests/test_wire.py.
BAD: list[tuple[str, bytes, str]] = [
    ("not json", b"hello world", "invalid_json"),
    ("truncated json", rec(CALL)[:-12], "invalid_json"),
    ("trailing garbage", rec(CALL) + b" x", "invalid_json"),
    (
        "invalid utf-8 in a kept field",
        rec(CALL, event_id="X").replace(b'"X"', b'"\xff\xfe"'),
        "invalid_json",
    ),
    (
        "invalid utf-8 in an unknown field",
        rec(CALL, note="X").replace(b'"X"', b'"\xc3\x28"'),
        "invalid_json",
    ),
    ("invalid utf-8 before the type", b'{"event_id":"\xff"}', "invalid_json"),
    ("NaN literal", rec(TRANSFER).replace(b"500.0", b"NaN"), "invalid_json"),
    ("json array", b"[1, 2, 3]", "not_an_object"),
    ("json number", b"42", "not_an_object"),
    ("json string", b'"call"', "not_an_object"),
    ("json null", b"null", "not_an_object"),
    *[
        (f"{kind} without {field}", rec(BASES[kind], drop=field), "missing_field")
        for kind, fields in REQUIRED.items()
        for field in fields
    ],
    ("string duration", rec(CALL, duration_s="60"), "wrong_type"),
    ("float duration", rec(CALL, duration_s=60.5), "wrong_type"),
    ("bool duration", rec(CALL, duration_s=True), "wrong_type"),
    ("numeric phone", rec(CALL, caller=8613800000001), "wrong_type"),
    ("numeric event_id", rec(CALL, event_id=7), "wrong_type"),
    ("null phone", rec(CALL, callee=None), "wrong_type"),
    ("string amount", rec(TRANSFER, amount_cny="500"), "wrong_type"),
    ("string has_url", rec(SMS, has_url="yes"), "wrong_type"),
    ("numeric cell", rec(CALL, caller_cell=5), "wrong_type"),
    ("unknown type", rec(CALL, type="fax"), "unknown_type"),
    ("upper-case type", rec(CALL, type="CALL"), "unknown_type"),
    ("numeric type", rec(CALL, type=3), "unknown_type"),
    ("zero amount", rec(TRANSFER, amount_cny=0), "invalid_value"),
    ("negative amount", rec(TRANSFER, amount_cny=-10.0), "invalid_value"),
    ("amount beyond 1e12", rec(TRANSFER, amount_cny=1.5e12), "invalid_value"),
    ("amount 1e400", rec(TRANSFER).replace(b"500.0", b"1e400"), "invalid_value"),
    ("negative duration", rec(CALL, duration_s=-1), "invalid_value"),
    ("phone without +", rec(CALL, caller="8613800000001"), "invalid_value"),
    ("phone with letters", rec(SMS, sender="+86138000000ab"), "invalid_value"),
    ("phone too long", rec(CALL, callee="+86138000000011111"), "invalid_value"),
    ("phone with trailing newline", rec(CALL, caller="+8613800000001\n"), "invalid_value"),
    ("phone with a leading zero", rec(CALL, callee="+08613800000002"), "invalid_value"),
    ("phone too short", rec(SMS, receiver="+86138"), "invalid_value"),
    ("phone with full-width digits", rec(CALL, caller="+86１3800000001"), "invalid_value"),
    ("payer not E.164", rec(TRANSFER, payer="+86 138 0000 0001"), "invalid_value"),
    ("empty event_id", rec(CALL, event_id=""), "invalid_value"),
    ("empty payee account", rec(TRANSFER, payee_account=""), "invalid_value"),
    ("unknown origin", rec(CALL, origin="mars"), "invalid_value"),
    ("origin that reads like a timestamp", rec(CALL, origin="datetime"), "invalid_value"),
    ("unknown channel", rec(TRANSFER, channel="cash"), "invalid_value"),
    ("unparseable timestamp", rec(CALL, ts="yesterday"), "bad_timestamp"),
    ("timestamp without offset", rec(CALL, ts="2026-03-02T09:00:00"), "bad_timestamp"),
    ("date only", rec(SMS, ts="2026-03-02"), "bad_timestamp"),
    ("minutes-only timestamp", rec(CALL, ts="2026-03-02T09:00+08:00"), "bad_timestamp"),
    ("hour 24", rec(CALL, ts="2026-03-02T24:00:00+08:00"), "bad_timestamp"),
    ("numeric timestamp", rec(TRANSFER, ts=1772413200), "bad_timestamp"),
    ("year 1", rec(CALL, ts="0001-01-01T00:00:00+08:00"), "bad_timestamp"),
    ("year 1999", rec(SMS, ts="1999-12-31T23:59:59Z"), "bad_timestamp"),
    ("year 9999", rec(TRANSFER, ts="9999-12-31T23:59:59-08:00"), "bad_timestamp"),
    ("duration beyond a week", rec(CALL, duration_s=7 * 86_400 + 1), "invalid_value"),
    ("duration beyond 64 bits", rec(CALL)[:-3] + b"1" + b"0" * 40 + b"}", "invalid_value"),
    ("nested too deep", b"[" * 1500 + b"]" * 1500, "invalid_json"),
    (
        "unknown field nested too deep",
        rec(CALL)[:-1] + b',"x":' + b"[" * 1500 + b"]" * 1500 + b"}",
        "invalid_json",
    ),
]

#: Good records that stretch the contract (raw, what to check on the event).
GOOD: list[tuple[str, bytes]] = [
    ("call", rec(CALL)),
    ("sms", rec(SMS)),
    ("transfer", rec(TRANSFER)),
    ("integer amount", rec(TRANSFER, amount_cny=500)),
    ("amount exactly 1e12", rec(TRANSFER, amount_cny=1e12)),
    ("zero duration", rec(CALL, duration_s=0)),
    ("a week's duration", rec(CALL, duration_s=7 * 86_400)),
    ("year 2000", rec(CALL, ts="2000-01-01T00:00:00+08:00")),
    ("year 2099", rec(CALL, ts="2099-12-31T23:59:59-08:00")),
    ("utc Z", rec(CALL, ts="2026-03-02T01:00:00Z")),
    ("fractional seconds", rec(CALL, ts="2026-03-02T09:00:00.123456+08:00")),
    ("unknown extra fields", rec(CALL, vendor={"x": [1, 2]}, note="备注")),
    ("optional nulls", rec(SMS, text=None, has_url=None, sender_cell=None)),
    ("chinese text", rec(SMS, text="您的账户涉嫌洗钱，请立即转账到安全账户", has_url=True)),
    ("trailing whitespace", rec(CALL) + b"  \r"),
]


def decode(raw: bytes, offset: int = 1) -> Decoded | DeadLetter:
    return Decoder("events.jsonl").decode_one(raw, offset)


@pytest.mark.parametrize(("name", "raw", "reason"), BAD, ids=[b[0] for b in BAD])
def test_bad_record_gets_its_reason_offset_and_raw_text(name: str, raw: bytes, reason: str) -> None:
    out = decode(raw, offset=17)
    assert isinstance(out, DeadLetter), name
    assert out.reason == reason, out.detail
    assert out.reason in REASONS
    assert out.offset == 17
    assert out.source == "events.jsonl"
    assert out.raw == raw.decode("utf-8", errors="replace")
    assert out.detail


@pytest.mark.parametrize(("name", "raw"), GOOD, ids=[g[0] for g in GOOD])
def test_good_record_is_kept(name: str, raw: bytes) -> None:
    out = decode(raw, offset=3)
    assert isinstance(out, Decoded), getattr(out, "detail", "")
    assert out.offset == 3


def test_fields_are_decoded_to_their_types() -> None:
    out = decode(rec(TRANSFER, amount_cny=500))
    assert isinstance(out, Decoded)
    ev = out.event
    assert isinstance(ev, Transfer)
    assert ev.amount_cny == 500.0 and isinstance(ev.amount_cny, float)
    assert ev.ts.isoformat() == TS
    assert ev.channel == "mobile_banking"
    sms = decode(rec(SMS, has_url=True, text="hi"))
    assert isinstance(sms, Decoded) and isinstance(sms.event, Sms)
    assert sms.event.has_url is True and sms.event.text == "hi"


def test_missing_field_detail_names_the_field() -> None:
    out = decode(rec(TRANSFER, drop="payee_account"))
    assert isinstance(out, DeadLetter)
    assert "payee_account" in out.detail


def test_raw_text_of_a_huge_record_is_truncated() -> None:
    raw = rec(CALL, type="fax", padding="x" * 10_000)
    out = decode(raw)
    assert isinstance(out, DeadLetter)
    assert out.reason == "unknown_type"
    assert out.raw == raw[:MAX_RAW_CHARS].decode()
    assert len(out.detail) <= 300
    assert out.to_dict()["raw"] == out.raw


def test_bad_records_between_good_ones_keep_the_good_ones_in_order() -> None:
    goods = [rec(CALL, event_id=f"g{i}") for i in range(len(BAD) + 1)]
    lines: list[bytes] = []
    for i, (_, raw, _) in enumerate(BAD):
        lines += [goods[i], raw, b"", b"   \t"]
    lines.append(goods[-1])
    numbered = [(n, line) for n, line in enumerate(lines, 1)]
    good, bad = Decoder("f").decode_lines(numbered)

    assert [d.event.event_id for d in good] == [f"g{i}" for i in range(len(goods))]
    assert [d.offset for d in good] == [n for n, line in numbered if line in goods]
    assert [d.reason for d in bad] == [reason for _, _, reason in BAD]
    assert [d.offset for d in bad] == [2 + 4 * i for i in range(len(BAD))]
    assert [d.raw for d in bad] == [raw.decode("utf-8", "replace") for _, raw, _ in BAD]


LURE = "您的账户涉嫌洗钱，请转入安全账户"


def _note(base: dict[str, Any], note: bytes, **fields: Any) -> bytes:
    """`base` with an unknown field `note` holding `note` as raw bytes."""
    return rec(base, note="@@", **fields).replace(b'"@@"', b'"' + note + b'"')


@pytest.mark.parametrize(
    ("name", "raw", "good"),
    [
        ("the text the only non-ASCII", rec(SMS, text=LURE), True),
        ("the text's copy in an unknown field", _note(SMS, LURE.encode(), text=LURE), True),
        ("other valid UTF-8 in an unknown field", _note(SMS, "周末".encode(), text=LURE), True),
        ("the text with escapes", rec(SMS, text=LURE).replace("账".encode(), b"\\u8d26"), True),
        ("invalid UTF-8 in an unknown field", _note(SMS, b"\xe8\xb4", text=LURE), False),
        ("a copy, then half a character", _note(SMS, LURE.encode() + b"\xe8", text=LURE), False),
        ("invalid UTF-8 in a call", _note(CALL, b"\xe4\xb8"), False),
    ],
)  # fmt: skip
def test_a_non_ascii_line_is_kept_exactly_when_utf8(name: str, raw: bytes, good: bool) -> None:
    """msgspec checks UTF-8 only in the strings it keeps: exactly the valid lines are
    kept, whatever holds their non-ASCII bytes, each bad one dead-lettered as invalid
    JSON (an SMS text copied into an unknown field, half a character after it)."""
    assert is_utf8(raw) is good, name  # the case is what it says
    kept, bad = Decoder().decode_lines([(1, raw)])
    assert (len(kept), len(bad)) == ((1, 0) if good else (0, 1)), name
    if good:
        assert kept[0].fields == Decoder().decode_one(raw, 1).fields  # type: ignore[union-attr]
    else:
        assert bad[0].reason == "invalid_json"


def test_blank_lines_are_skipped_not_dead_lettered() -> None:
    good, bad = Decoder().decode_lines([(1, b""), (2, b"\n"), (3, b"  \r\n"), (4, rec(SMS))])
    assert bad == []
    assert [d.offset for d in good] == [4]


@pytest.mark.parametrize(
    ("caller", "origin"),
    [
        ("+85260001234", "overseas"),
        ("+14155550123", "overseas"),
        ("+8617012345678", "virtual_operator"),
        ("+8617112345678", "virtual_operator"),
        ("+8617212345678", "mobile"),
        ("+8613812345678", "mobile"),
        ("+862812345678", "mobile"),
    ],
)
def test_origin_is_derived_from_the_caller_when_absent(caller: str, origin: str) -> None:
    out = decode(rec(CALL, caller=caller))
    assert isinstance(out, Decoded) and isinstance(out.event, Call)
    assert out.event.origin == origin
    batch, _ = Decoder().decode_record(orjson.dumps([{**CALL, "caller": caller}]), 0)
    assert isinstance(batch[0].event, Call)
    assert batch[0].event.origin == origin


def test_origin_given_is_kept() -> None:
    out = decode(rec(CALL, caller="+85260001234", origin="voip_gateway"))
    assert isinstance(out, Decoded) and isinstance(out.event, Call)
    assert out.event.origin == "voip_gateway"
    fixed = decode(rec(CALL, caller="+8617012345678", origin="fixed"))
    assert isinstance(fixed, Decoded) and isinstance(fixed.event, Call)
    assert fixed.event.origin == "fixed"


# -- broker records: one object or a JSON array --------------------------------------


def is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def array(*records: bytes) -> bytes:
    return b"[" + b",".join(records) + b"]"


def test_record_with_one_object() -> None:
    good, bad = Decoder().decode_record(rec(SMS), 9)
    assert [(d.offset, d.event.event_id) for d in good] == [(9, "s1")]
    assert bad == []
    good, bad = Decoder().decode_record(rec(SMS, ts="soon"), 9)
    assert good == [] and [d.reason for d in bad] == ["bad_timestamp"]


def test_array_all_good_keeps_all_in_order() -> None:
    value = b"  " + array(*(rec(CALL, event_id=f"e{i}") for i in range(50)))
    good, bad = Decoder().decode_record(value, 4)
    assert [d.event.event_id for d in good] == [f"e{i}" for i in range(50)]
    assert {d.offset for d in good} == {4}
    assert bad == []


# Malformed JSON inside an array makes the whole array malformed (next test); the rest
# are valid JSON values, so the array splits around them.
IN_ARRAY = [b for b in BAD if b[2] != "invalid_json" or not is_utf8(b[1])]


@pytest.mark.parametrize(("name", "raw", "reason"), IN_ARRAY, ids=[b[0] for b in IN_ARRAY])
def test_array_with_one_bad_keeps_the_good_ones(name: str, raw: bytes, reason: str) -> None:
    value = array(rec(CALL, event_id="a"), raw, rec(TRANSFER, event_id="b"))
    good, bad = Decoder("topic").decode_record(value, 11)
    assert [d.event.event_id for d in good] == ["a", "b"]
    assert len(bad) == 1
    assert bad[0].reason == reason
    assert bad[0].offset == 11
    assert bad[0].raw == raw.decode("utf-8", "replace")


def test_array_with_a_year_9999_event_keeps_the_good_ones() -> None:
    value = array(rec(CALL, event_id="a"), rec(SMS, ts="9999-01-01T00:00:00Z"), rec(SMS))
    good, bad = Decoder().decode_record(value, 5)
    assert [d.event.event_id for d in good] == ["a", "s1"]
    assert [(d.reason, d.offset) for d in bad] == [("bad_timestamp", 5)]


def test_array_nested_too_deep_is_one_invalid_json_dead_letter() -> None:
    good, bad = Decoder().decode_record(b"[" * 1500 + b"]" * 1500, 1)
    assert good == [] and [d.reason for d in bad] == ["invalid_json"]
    assert bad[0].detail == "JSON is nested too deeply"


def test_malformed_array_is_one_invalid_json_dead_letter() -> None:
    value = array(rec(CALL), rec(SMS))[:-5]
    good, bad = Decoder().decode_record(value, 2)
    assert good == []
    assert [(d.reason, d.offset) for d in bad] == [("invalid_json", 2)]
    assert bad[0].raw == value.decode()


def test_empty_array_is_nothing() -> None:
    assert Decoder().decode_record(b"[]", 0) == ([], [])


# -- classify is keyed on msgspec's wording and the path, not on the record's text ----


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("Object missing required field `caller`", "missing_field"),
        ("Invalid enum value 'missing required field' - at `$.origin`", "invalid_value"),
        ("Invalid enum value 'datetime' - at `$.channel`", "invalid_value"),
        ("Invalid value 'RFC3339' - at `$.type`", "unknown_type"),
        ("Expected `datetime`, got `int` - at `$.ts`", "bad_timestamp"),
        ("Expected `object`, got `array`", "not_an_object"),
        ("Expected `int` >= 0 - at `$.duration_s`", "invalid_value"),
        ("Expected `str` of length >= 1 - at `$.event_id`", "invalid_value"),
        ("Expected `int`, got `str` - at `$.duration_s`", "wrong_type"),
    ],
)
def test_classify(message: str, reason: str) -> None:
    assert classify(message, b"") == reason


# -- properties ------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
# Near misses: good events with one field replaced by an arbitrary JSON value.
mutated = st.builds(
    # stdlib json: big ints, Infinity and lone surrogates (invalid UTF-8) get through.
    lambda base, key, value: json.dumps({**base, key: value}, ensure_ascii=False).encode(
        "utf-8", "surrogatepass"
    ),
    st.sampled_from(list(BASES.values())),
    st.sampled_from(sorted({k for fields in REQUIRED.values() for k in fields} | {"origin"})),
    json_values,
)
raw_lines = st.one_of(
    st.binary(max_size=200).map(lambda b: b.replace(b"\n", b"")),
    st.sampled_from([raw for _, raw, _ in BAD] + [raw for _, raw in GOOD]),
    mutated,
)


@settings(max_examples=150, deadline=None)
@given(st.lists(raw_lines, max_size=12))
def test_any_bytes_give_exactly_one_outcome_per_line(lines: list[bytes]) -> None:
    numbered = list(enumerate(lines, 1))
    good, bad = Decoder().decode_lines(numbered)
    non_blank = [n for n, line in numbered if line.strip()]
    assert sorted([d.offset for d in good] + [d.offset for d in bad]) == non_blank
    assert all(d.reason in REASONS for d in bad)
    # Lines that are JSON on their own give the same verdicts batched in one array.
    objects = [line for line in lines if line.strip()]
    if objects and all(d.reason != "invalid_json" for d in bad):
        g2, b2 = Decoder().decode_record(array(*objects), 0)
        assert [d.event for d in g2] == [d.event for d in good]
        assert [d.reason for d in b2] == [d.reason for d in bad]


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300))
def test_decode_record_never_raises(value: bytes) -> None:
    good, bad = Decoder().decode_record(value, 0)
    assert all(d.reason in REASONS for d in bad)
    if not value.lstrip().startswith(b"["):
        assert len(good) + len(bad) == 1


# -- phone numbers (the checks themselves: tests/test_textcheck.py) -------------------


def test_bad_phone_detail_names_the_field_in_msgspec_wording() -> None:
    out = decode(rec(SMS, receiver="+86 138"))
    assert isinstance(out, DeadLetter)
    assert out.detail == f"Expected `str` matching regex {E164_PATTERN!r} - at `$.receiver`"


def test_a_bad_phone_in_a_batch_is_dead_lettered_in_place() -> None:
    lines = [(1, rec(CALL)), (2, rec(CALL, caller="+86abc")), (3, rec(SMS))]
    good, bad = Decoder().decode_lines(lines)
    assert [g.offset for g in good] == [1, 3]
    assert [(b.offset, b.reason) for b in bad] == [(2, "invalid_value")]
    good, bad = Decoder().decode_record(b"[" + rec(CALL) + b"," + rec(SMS, sender="1") + b"]", 9)
    assert [type(g.event) for g in good] == [Call]
    assert [(b.offset, b.reason) for b in bad] == [(9, "invalid_value")]
