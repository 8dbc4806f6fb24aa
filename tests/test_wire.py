"""The hot-path msgspec structs and the documented pydantic models are one contract.

The engine decodes with `Decoder` (msgspec); users and `fraud-warning schema` see the
pydantic models. Both must accept and refuse the same records. Known, deliberate
difference: the msgspec structs on their own check UTF-8 only in the strings they keep
(invalid bytes in an unknown field pass), so `Decoder` checks UTF-8 before msgspec runs;
pydantic refuses such a record as invalid JSON, and so does the decoder.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from fraud_warning.contracts import Event, json_schema
from fraud_warning.decode import Decoded, Decoder
from fraud_warning.wire import Call, WireEvent, derive_origin
from tests.test_decode import BAD, BASES, CALL, GOOD, REQUIRED, TRANSFER, rec

ADAPTER: TypeAdapter[Any] = TypeAdapter(Event)
DECODER = Decoder()

CORPUS: list[tuple[str, bytes]] = (
    [(name, raw) for name, raw, _ in BAD]
    + GOOD
    + [
        ("duplicate key, last wins", rec(CALL)[:-1] + b',"duration_s":7}'),
        ("space separator", rec(CALL, ts="2026-03-02 09:00:00+08:00")),
        ("lower-case t and z", rec(CALL, ts="2026-03-02t01:00:00z")),
        ("offset without colon", rec(CALL, ts="2026-03-02T09:00:00+0800")),
        ("nanoseconds", rec(CALL, ts="2026-03-02T09:00:00.123456789+08:00")),
        ("comma fraction", rec(CALL, ts="2026-03-02T09:00:00,5+08:00")),
        ("underscore separator", rec(CALL, ts="2026-03-02_09:00:00+08:00")),
        ("digits as unix time", rec(CALL, ts="1772413200")),
        ("offset hours only", rec(CALL, ts="2026-03-02T09:00:00+08")),
        ("leap second", rec(CALL, ts="2026-03-02T09:00:60+08:00")),
        ("february 30", rec(CALL, ts="2026-02-30T09:00:00+08:00")),
        ("year 0", rec(CALL, ts="0000-03-02T09:00:00+08:00")),
        ("float duration 60.0", rec(CALL, duration_s=60.0)),
        ("exponent duration", rec(CALL)[:-3] + b"6e1}"),
        ("int has_url", rec(BASES["sms"], has_url=1)),
        ("full-width digit phone", rec(CALL, caller="+86１3800000001")),
        ("whitespace event_id", rec(CALL, event_id=" ")),
        ("tiny amount", rec(TRANSFER, amount_cny=5e-324)),
        ("huge integer amount", rec(TRANSFER).replace(b"500.0", b"1" + b"0" * 30)),
    ]
)


def wire_ok(raw: bytes) -> bool:
    return isinstance(DECODER.decode_one(raw, 0), Decoded)


def model_ok(raw: bytes) -> bool:
    try:
        ADAPTER.validate_json(raw)
    except ValidationError:
        return False
    return True


def test_corpus_covers_both_outcomes() -> None:
    outcomes = [wire_ok(raw) for _, raw in CORPUS]
    assert outcomes.count(True) >= 15
    assert outcomes.count(False) >= len(BAD)


@pytest.mark.parametrize(("name", "raw"), CORPUS, ids=[c[0] for c in CORPUS])
def test_msgspec_and_pydantic_agree(name: str, raw: bytes) -> None:
    assert wire_ok(raw) == model_ok(raw)


@pytest.mark.parametrize(("name", "raw"), GOOD, ids=[g[0] for g in GOOD])
def test_accepted_records_have_the_same_values(name: str, raw: bytes) -> None:
    out = DECODER.decode_one(raw, 0)
    assert isinstance(out, Decoded)
    model = ADAPTER.validate_json(raw)
    struct = msgspec.structs.asdict(out.event)
    if isinstance(out.event, Call):
        # pydantic leaves an absent origin as None; the decoder derives it.
        assert struct.pop("origin") == (model.origin or derive_origin(model.caller))
    for key, value in struct.items():
        assert getattr(model, key) == value, key
    assert model.type == type(out.event).__struct_config__.tag


def test_duplicate_key_takes_the_last_value_in_both() -> None:
    raw = rec(CALL)[:-1] + b',"duration_s":7}'
    out = DECODER.decode_one(raw, 0)
    assert isinstance(out, Decoded) and isinstance(out.event, Call)
    assert out.event.duration_s == 7
    assert ADAPTER.validate_json(raw).duration_s == 7


def test_raw_msgspec_alone_lets_bad_utf8_through_an_unknown_field() -> None:
    # The deliberate difference the module docstring names, and why Decoder checks first.
    raw = rec(CALL, note="X").replace(b'"X"', b'"\xff"')
    assert isinstance(msgspec.json.decode(raw, type=WireEvent), Call)
    assert not wire_ok(raw)
    assert not model_ok(raw)


# -- differential property: near-miss records ------------------------------------------

timestamps = st.builds(
    "{}{}{}{}".format,
    st.sampled_from(["2026-03-02", "2026-3-02", "20260302", "2024-02-29", "2026-02-29"]),
    st.sampled_from(["T", "t", " ", "_", ""]),
    st.sampled_from(
        ["09:00:00", "09:00", "23:59:59", "24:00:00", "09:00:60", "09:00:00.5", "09:00:00,5"]
    ),
    st.sampled_from(["Z", "z", "+08:00", "+0800", "+08", "-00:00", "+24:00", "", "\n"]),
)
phones = st.from_regex(r"\A\+?[0-9１]{4,18}\n?\Z", fullmatch=True)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | timestamps
    | phones
    | st.sampled_from(["call", "sms", "transfer", "overseas", "atm", "fixed", "", "0"])
)
values = scalars | st.lists(scalars, max_size=2) | st.dictionaries(st.text(max_size=4), scalars)
FIELDS = sorted({f for fields in REQUIRED.values() for f in fields} | {"origin", "has_url"})


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(sorted(BASES)),
    st.dictionaries(st.sampled_from(FIELDS), values, min_size=1, max_size=2),
    st.sets(st.sampled_from(FIELDS), max_size=1),
)
def test_near_miss_records_get_the_same_verdict(
    kind: str, changes: dict[str, Any], dropped: set[str]
) -> None:
    record = {k: v for k, v in {**BASES[kind], **changes}.items() if k not in dropped}
    raw = json.dumps(record, ensure_ascii=False).encode()
    assert wire_ok(raw) == model_ok(raw), raw


# -- json_schema -------------------------------------------------------------------------

ARCH_EVENTS = {
    "CallEvent": {"event_id", "type", "ts", "caller", "callee", "duration_s"},
    "SmsEvent": {"event_id", "type", "ts", "sender", "receiver"},
    "TransferEvent": {
        "event_id",
        "type",
        "ts",
        "payer",
        "payer_account",
        "payee_account",
        "amount_cny",
        "channel",
    },
}
ARCH_OPTIONAL = {
    "CallEvent": {"caller_cell", "callee_cell", "origin"},
    "SmsEvent": {"text", "has_url", "sender_cell"},
    "TransferEvent": set(),
}
ARCH_ALERT = {
    "alert_id",
    "subscriber",
    "score",
    "priority",
    "typology",
    "models",
    "evidence",
    "event_ts",
    "emitted_at",
    "location",
}
ARCH_TASK = {
    "task_id",
    "alert_id",
    "subscriber",
    "unit_id",
    "location",
    "created_at",
    "target_arrival",
    "eta_s",
    "status",
}


def test_events_schema_required_fields_match_the_architecture() -> None:
    schema = json_schema("events")
    defs: dict[str, Any] = schema["$defs"]  # type: ignore[assignment]
    assert set(defs) >= set(ARCH_EVENTS)
    assert schema["discriminator"]["propertyName"] == "type"  # type: ignore[index]
    for name, required in ARCH_EVENTS.items():
        assert set(defs[name]["required"]) == required, name
        assert set(defs[name]["properties"]) == required | ARCH_OPTIONAL[name], name
        assert defs[name]["properties"]["ts"]["format"] == "date-time"
    call = defs["CallEvent"]["properties"]
    assert call["duration_s"]["minimum"] == 0
    assert re.fullmatch(call["caller"]["pattern"], "+8613800000000")
    amount = defs["TransferEvent"]["properties"]["amount_cny"]
    assert amount["exclusiveMinimum"] == 0 and amount["maximum"] == 1e12


def test_alert_schema_required_fields_match_the_architecture() -> None:
    schema = json_schema("alert")
    props = set(schema["properties"])  # type: ignore[arg-type]
    required = set(schema["required"])  # type: ignore[arg-type]
    assert props >= ARCH_ALERT
    # `location` is nullable and optional: a number-side alert has no place to send to.
    assert required == ARCH_ALERT - {"location"}
    priority = schema["properties"]["priority"]  # type: ignore[index]
    assert priority["enum"] == ["P1", "P2", "P3"]
    model = schema["$defs"]["ModelScore"]  # type: ignore[index]
    assert set(model["required"]) == {"id", "version", "score", "reasons"}
    assert set(schema["$defs"]["Location"]["required"]) == {"lat", "lon", "source"}  # type: ignore[index]


def test_task_schema_required_fields_match_the_architecture() -> None:
    schema = json_schema("task")
    assert set(schema["required"]) == ARCH_TASK  # type: ignore[arg-type]
    status = schema["properties"]["status"]  # type: ignore[index]
    assert set(status["enum"]) == {"assigned", "acknowledged", "on_scene", "resolved", "escalated"}


def test_schemas_are_json() -> None:
    for name in ("events", "alert", "task"):
        assert json.loads(json.dumps(json_schema(name))) == json_schema(name)


def test_unknown_schema_name_raises_key_error_naming_the_valid_ones() -> None:
    with pytest.raises(KeyError) as info:
        json_schema("alerts")
    message = str(info.value)
    assert "alerts" in message
    for valid in ("events", "alert", "task"):
        assert valid in message


def test_pydantic_event_models_still_take_python_datetimes() -> None:
    model = ADAPTER.validate_python({**CALL, "ts": datetime.fromisoformat(CALL["ts"])})
    assert model.ts.isoformat() == CALL["ts"]
