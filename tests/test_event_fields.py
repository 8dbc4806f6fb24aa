"""Field positions in a wire event's tuple: the constants the compiled stages index with."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from fraud_warning import event_fields
from fraud_warning.decode import Decoded, Decoder
from fraud_warning.wire import Call, Sms, Transfer

TS = datetime(2026, 3, 2, 8, tzinfo=UTC)


def test_the_constants_match_the_wire_structs() -> None:
    assert event_fields.layout_errors() == []
    for struct in (Call, Sms, Transfer):
        names = [field.name for field in msgspec.structs.fields(struct)]
        assert names[event_fields.EVENT_ID] == "event_id" and names[event_fields.TS] == "ts"
    call = [field.name for field in msgspec.structs.fields(Call)]
    assert call[event_fields.CALL_CALLEE_CELL] == "callee_cell"
    assert call[event_fields.CALL_ORIGIN] == "origin"


def test_a_reordered_struct_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    class Moved(msgspec.Struct):
        ts: datetime
        event_id: str

    monkeypatch.setitem(event_fields._LAYOUT, Moved, {"event_id": 0, "ts": 1})
    errors = event_fields.layout_errors()
    assert errors == ["Moved.event_id is field 1, not 0", "Moved.ts is field 0, not 1"]
    monkeypatch.setitem(event_fields._LAYOUT, Moved, {"event_id": 1})
    assert event_fields.layout_errors() == ["Moved: 2 fields, 1 positions"]


def test_decoded_fields_are_the_events_own_after_decoding() -> None:
    """The origin a decoder derives is in the tuple too: fields are taken after it."""
    lines = [
        b'{"event_id":"c1","type":"call","ts":"2026-03-02T08:00:00+08:00",'
        b'"caller":"+4915112345678","callee":"+8613900000001","duration_s":60}',
        b'{"event_id":"s1","type":"sms","ts":"2026-03-02T08:00:01+08:00",'
        b'"sender":"+8613900000002","receiver":"+8613900000001","text":"hi","has_url":false}',
        b'{"event_id":"t1","type":"transfer","ts":"2026-03-02T08:00:02+08:00",'
        b'"payer":"+8613900000001","payer_account":"A1","payee_account":"B2",'
        b'"amount_cny":5000,"channel":"atm"}',
    ]
    good, bad = Decoder().decode_lines(enumerate(lines))
    assert bad == [] and len(good) == 3
    for item in good:
        assert item.fields == msgspec.structs.astuple(item.event)
    call = good[0]
    assert call.fields[event_fields.CALL_ORIGIN] == "overseas"
    assert call.fields[event_fields.CALL_CALLER] == "+4915112345678"
    assert good[2].fields[event_fields.TRANSFER_AMOUNT_CNY] == 5000.0
    built = Decoded(7, Transfer("t", TS, "+8613900000001", "A", "B", 10.0, "atm"))
    assert built.fields[event_fields.TRANSFER_PAYEE_ACCOUNT] == "B"


def test_the_stage_records_positions_match_their_structs() -> None:
    """Every ordered record is laid out (the merge reads each one's time and id off its
    field tuple), and the positions agree with the structs."""
    from typing import get_args

    from fraud_warning.stages import records

    assert event_fields.layout_errors(records.LAYOUT) == []
    assert set(records.LAYOUT) == set(get_args(records.Ordered))
    made = records.CallReceived("e", 1.5, 28_800, "+861", "+862", None, 60, "mobile", 3.0, True)
    f = msgspec.structs.astuple(made)
    assert (f[records.AT_T], f[records.CR_CALLEE], f[records.CR_FLAGGED]) == (1.5, "+862", True)


def test_a_module_with_positions_out_of_step_refuses_to_import() -> None:
    class Moved(msgspec.Struct):
        ts: datetime
        event_id: str

    with pytest.raises(ImportError, match=r"somewhere: field positions out of step: "):
        event_fields.require_layout({Moved: {"event_id": 0, "ts": 1}}, "somewhere")
    event_fields.require_layout({Moved: {"ts": 0, "event_id": 1}}, "somewhere")
