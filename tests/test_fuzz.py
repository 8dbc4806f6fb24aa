"""Fuzz: 100,000+ malformed and adversarial records through decode and the whole engine.

A seeded generator builds one stream: a small city's good traffic (with mass-dialler
fraud scenarios that raise alerts and dispatch tasks) with bad records mixed in from
templates, each template knowing which dead-letter reasons it may get. The stream goes
through `Decoder.decode_lines` and `Engine.process` (the shipped rules and scorers), and
the result is compared with an engine fed only the good records, in the same batches:

- nothing raises;
- every bad record is dead-lettered once, at its line, with a reason from `REASONS` and
  one its template allows (`late` and `duplicate` ones by the engine, the rest by the
  decoder);
- every good record is decoded, counted by the events metric, and the alerts and tasks
  are identical to the good-only run's: bad records changed nothing.

A Hypothesis test then does the same on small generated streams, and two tests hold
what the first fuzz runs found (docs/reliability.md): a far-future event must not drag
the watermark (it is refused as `bad_timestamp`), and a re-delivered event must not count
twice (it is refused as `duplicate`). Runtime: a few seconds (the 100,000 records are a
plain seeded loop).
"""

from __future__ import annotations

import functools
import json
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fraud_warning.decode import REASONS, DeadLetter, Decoded, Decoder
from fraud_warning.dispatch import Dispatcher
from fraud_warning.engine import Engine, EngineConfig
from fraud_warning.refdata import RefData, Subscriber, Unit
from fraud_warning.registry import Registry, load_registry
from fraud_warning.wire import MAX_AMOUNT_CNY, MAX_DURATION_S
from tests.factories import T0, Feed, subscriber

ROOT = Path(__file__).resolve().parent.parent
SEED = 20261127
N_RECORDS = 100_000
CHUNK = 5_000  # lines per decode + engine batch, as a file runner reads them
LATENESS_S = EngineConfig().allowed_lateness_s

Record = dict[str, Any]


@functools.cache
def registry() -> Registry:
    return load_registry(ROOT / "rules", ROOT / "models")


def refdata() -> RefData:
    cells = {f"C{i}": (30.60 + i / 100, 104.00 + i / 100) for i in range(10)}
    return RefData(
        cells=cells,
        units=(Unit("U1", "Jinjiang", 30.67, 104.07), Unit("U2", "Wuhou", 30.64, 104.04)),
        subscribers={subscriber(9_000): Subscriber(subscriber(9_000), "65+", 30.6, 104.0)},
    )


def engine() -> Engine:
    data = refdata()
    return Engine(registry(), data, dispatcher=Dispatcher(data.units))


# -- good traffic --------------------------------------------------------------------------


def city(rng: random.Random, hours: float) -> list[Record]:
    """Background calls, SMS and transfers among 400 subscribers, and a mass-dialler
    scenario every 40 minutes (40 short calls, long holds, then a transfer each)."""
    feed = Feed()
    people = [subscriber(i) for i in range(400)]
    span = hours * 3600
    for _ in range(int(span / 0.6)):
        at = rng.uniform(0, span)
        a, b = rng.sample(people, 2)
        roll = rng.random()
        if roll < 0.6:
            feed.call(
                at, a, b, rng.choice([0, 5, 40, 200, 900]), callee_cell=f"C{rng.randrange(10)}"
            )
        elif roll < 0.9:
            feed.sms(at, a, b, text=rng.choice(["晚上回家吃饭", "ok", None]), has_url=False)
        else:
            feed.transfer(at, a, f"ACC-{rng.randrange(50)}", round(rng.uniform(1, 5_000), 2))
    for k, start in enumerate(range(0, int(span) - 3600, 2400)):
        caller = f"+85260{k:06d}"
        for i in range(40):
            feed.call(start + i * 20, caller, subscriber(1_000 + 100 * k + i), 5, origin="overseas")
        for j in range(2):
            victim = subscriber(9_000 + 10 * k + j)
            at = start + 900 + j * 60
            feed.call(at, caller, victim, 1_800, origin="overseas", callee_cell=f"C{k % 10}")
            feed.transfer(at + 2_100, victim, f"MULE-{k}", 8_000)
    return feed.sorted()


def with_offset(ts: str, hours: int) -> str:
    """The same instant written with another UTC offset."""
    return datetime.fromisoformat(ts).astimezone(timezone(timedelta(hours=hours))).isoformat()


def stretch(rng: random.Random, ev: Record) -> Record:
    """A good record that is adversarial but within the contract."""
    out = dict(ev)
    pick = rng.randrange(8)
    if pick == 0:
        out["event_id"] = ev["event_id"] + "\x00\x1f\u2028\ud7ff"  # escaped controls: a string
    elif pick == 1:
        out["ts"] = with_offset(ev["ts"], rng.choice([-12, 0, 5, 14]))
    elif pick == 2:
        out["vendor"] = {"nested": [[[[{"deep": [1, 2, None]}]]]], "n": 10**30, "s": "x" * 2_000}
    elif pick == 3 and ev["type"] == "sms":
        out["text"] = "您的账户涉嫌洗钱 " * 2_000  # a long text (~20,000 chars)
    elif pick == 4 and ev["type"] == "transfer":
        out["amount_cny"] = rng.choice([5e-324, 0.01, MAX_AMOUNT_CNY])
    elif pick == 5 and ev["type"] == "call":
        out["duration_s"] = rng.choice([0, MAX_DURATION_S])
    elif pick == 6:
        out["event_id"] = ev["event_id"] + "e" * 20_000  # a huge id is still an id
    else:
        out["note"] = "tail\u202e\ufeff" + "".join(
            chr(rng.randrange(0x20, 0x2FFF)) for _ in range(8)
        )
    return out


# -- bad records: (raw, reasons it may get) ------------------------------------------------

STRING_FIELDS = {
    "call": ("event_id", "caller", "callee"),
    "sms": ("event_id", "sender", "receiver"),
    "transfer": ("event_id", "payer", "payer_account", "payee_account", "channel"),
}
PHONE_FIELDS = {"call": ("caller", "callee"), "sms": ("sender", "receiver"), "transfer": ("payer",)}
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
NOT_STRINGS: list[Any] = [0, -1, 3.5, True, False, None, [], ["+8613800000001"], {"a": 1}]
NOT_INTS: list[Any] = ["60", 60.5, 1e3, True, None, [60], {"s": 60}, ""]
NOT_FLOATS: list[Any] = ["500", True, None, [500.0], {"v": 1}, "NaN", "Infinity"]
BAD_PHONES = [
    "8613800000001",
    "+86138000000ab",
    "+0123456",
    "+1234",
    "+12345678901234567",
    "+86１3800000001",
    "+8613800000001\n",
    " +8613800000001",
    "",
    "+86138\x0000001",
    "+" + "9" * 100_000,
]
BAD_TIMES = [
    "yesterday",
    "",
    "2026-03-02T09:00:00",
    "2026-03-02",
    "2026-03-02T24:00:00+08:00",
    "2026-02-30T09:00:00+08:00",
    "2026-06-30T23:59:60Z",
    "2026-03-02T09:00:00+24:00",
    "2026-03-02T09:00+08:00",
    "0001-01-01T00:00:00+08:00",
    "0001-01-01T00:00:00Z",
    "1999-12-31T23:59:59+08:00",
    "2100-01-01T00:00:00Z",
    "9999-12-31T23:59:59-08:00",
    "9999-12-31T23:59:59+14:00",
    "2026-03-02T09:00:00+08:00" + "0" * 50_000,
]
INVALID_UTF8 = [
    b"\xff",
    b"\xfe\xff",
    b"\xc3\x28",
    b"\xc0\xaf",
    b"\xed\xa0\x80",
    b"\xe6\x82",
    b"\x80",
]
CONTROL = [bytes([c]) for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20))]


def dumps(record: Record) -> bytes:
    # stdlib json: writes NaN/Infinity literals and big integers as given
    return json.dumps(record, ensure_ascii=False).encode("utf-8", "surrogatepass")


def _with(ev: Record, **changes: Any) -> Record:
    return {**ev, **changes}


def t_truncated(rng: random.Random, ev: Record) -> tuple[bytes, set[str]]:
    raw = orjson.dumps(ev)
    return raw[: rng.randrange(1, len(raw) - 1)], {"invalid_json"}


def t_trailing(rng: random.Random, ev: Record) -> tuple[bytes, set[str]]:
    junk = rng.choice([b"x", b"}", b",", b"]", b'"', b"{}", b"\x00", b"// c", b",{}"])
    return orjson.dumps(ev) + rng.choice([b"", b" "]) + junk, {"invalid_json"}


def t_wrong_type(rng: random.Random, ev: Record) -> tuple[bytes, set[str]]:
    kind = ev["type"]
    field = rng.choice([*STRING_FIELDS[kind], "ts", "number"])
    if field == "ts":
        return orjson.dumps(_with(ev, ts=rng.choice(NOT_STRINGS))), {"bad_timestamp"}
    if field == "number":
        if kind == "call":
            return orjson.dumps(_with(ev, duration_s=rng.choice(NOT_INTS))), {"wrong_type"}
        if kind == "transfer":
            return orjson.dumps(_with(ev, amount_cny=rng.choice(NOT_FLOATS))), {"wrong_type"}
        return orjson.dumps(_with(ev, has_url=rng.choice(["yes", 1, [], {}]))), {"wrong_type"}
    return orjson.dumps(_with(ev, **{field: rng.choice(NOT_STRINGS)})), {"wrong_type"}


def t_type_tag(rng: random.Random, ev: Record) -> tuple[bytes, set[str]]:
    tag = rng.choice(
        ["fax", "CALL", "Sms", "call ", "transfer\x00", "", 3, None, ["call"], "x" * 5000]
    )
    return orjson.dumps(_with(ev, type=tag)), {"unknown_type"}


def t_missing(rng: random.Random, ev: Record) -> tuple[bytes, set[str]]:
    drop = rng.choice(REQUIRED[ev["type"]])
    return orjson.dumps({k: v for k, v in ev.items() if k != drop}), {"missing_field"}


def t_invalid_value(rng: random.Random, ev: Record) -> tuple[bytes, set[str]]:
    kind = ev["type"]
    roll = rng.randrange(4)
    if roll == 0:
        phone = rng.choice(BAD_PHONES)
        return orjson.dumps(_with(ev, **{rng.choice(PHONE_FIELDS[kind]): phone})), {"invalid_value"}
    if roll == 1:
        return orjson.dumps(_with(ev, event_id="")), {"invalid_value"}
    if kind == "call":
        if roll == 2:
            value = rng.choice([-1, -(2**63), MAX_DURATION_S + 1, 2**63, 2**64 + 1, 10**40])
            return dumps(_with(ev, duration_s=value)), {"invalid_value"}
        return orjson.dumps(_with(ev, origin=rng.choice(["mars", "datetime", "", "OVERSEAS"]))), {
            "invalid_value"
        }
    if kind == "transfer":
        if roll == 2:
            value = rng.choice([0, 0.0, -0.0, -10.0, MAX_AMOUNT_CNY * 1.5, 1e300, -5e-324])
            return dumps(_with(ev, amount_cny=value)), {"invalid_value"}
        return orjson.dumps(_with(ev, channel=rng.choice(["cash", "", "ATM"]))), {"invalid_value"}
    return orjson.dumps(_with(ev, sender=rng.choice(BAD_PHONES))), {"invalid_value"}


NUMBER_FIELD = {"call": "duration_s", "transfer": "amount_cny", "sms": "has_url"}


def _number_as(ev: Record, literal: bytes) -> bytes:
    """The record with its number field (a bool for SMS) written as `literal`, verbatim."""
    field = NUMBER_FIELD[ev["type"]]
    raw = orjson.dumps({**ev, field: "@@"})
    return raw.replace(f'"{field}":"@@"'.encode(), f'"{field}":'.encode() + literal)


def t_huge_number(rng: random.Random, ev: Record) -> tuple[bytes, set[str]]:
    digits = b"9" * rng.choice([20, 400, 5_000])
    literal = rng.choice([b"1e400", b"-1e400", b"1e999999999", b"1" + digits, b"-" + digits])
    # a number for a bool: "out of range" when no double can hold it
    reasons = {"wrong_type", "invalid_value"} if ev["type"] == "sms" else {"invalid_value"}
    return _number_as(ev, literal), reasons


def t_nan(rng: random.Random, ev: Record) -> tuple[bytes, set[str]]:
    literal = rng.choice([b"NaN", b"Infinity", b"-Infinity", b"nan", b"inf", b"+1", b"01", b".5"])
    return _number_as(ev, literal), {"invalid_json"}


def t_control(rng: random.Random, ev: Record) -> tuple[bytes, set[str]]:
    """An unescaped control character inside a string, or between tokens."""
    char = rng.choice(CONTROL)
    raw = orjson.dumps(_with(ev, event_id="@@"))
    if rng.random() < 0.5:
        return raw.replace(b"@@", b"@" + char + b"@"), {"invalid_json"}
    if char in (b"\x0b", b"\x0c"):  # whitespace to Python's strip(): keep it inside the line
        return raw.replace(b",", b"," + char, 1), {"invalid_json"}
    return rng.choice([char + raw, raw + char, raw.replace(b":", b":" + char, 1)]), {"invalid_json"}


def t_bad_utf8(rng: random.Random, ev: Record) -> tuple[bytes, set[str]]:
    field = rng.choice(["event_id", "note", "ts", "type"])
    raw = orjson.dumps(_with(ev, **{field: "@@"}))
    return raw.replace(b"@@", b"a" + rng.choice(INVALID_UTF8) + b"b"), {"invalid_json"}


def t_bad_time(rng: random.Random, ev: Record) -> tuple[bytes, set[str]]:
    return orjson.dumps(_with(ev, ts=rng.choice(BAD_TIMES))), {"bad_timestamp"}


def t_not_object(rng: random.Random, ev: Record) -> tuple[bytes, set[str]]:
    value = rng.choice([[], [ev], 42, -1.5, "call", None, True, [[1, 2], {"type": "call"}]])
    return orjson.dumps(value), {"not_an_object"}


def t_deep(rng: random.Random, ev: Record) -> tuple[bytes, set[str]]:
    depth = rng.choice([5_000, 20_000])
    nest = b"[" * depth + b"]" * depth
    if rng.random() < 0.5:
        return nest, {"invalid_json"}
    return orjson.dumps(ev)[:-1] + b',"x":' + nest + b"}", {"invalid_json"}


def t_garbage(rng: random.Random, ev: Record) -> tuple[bytes, set[str]]:
    size = rng.choice([1, 7, 100, 60_000])
    raw = bytes(rng.randrange(256) for _ in range(min(size, 200))) * max(1, size // 200)
    raw = raw.replace(b"\n", b"\x00")
    if not raw.strip():
        raw = b"\x00"
    return raw, set(REASONS) - {"late"}  # bytes at random: any decode reason


def t_duplicate_key(rng: random.Random, ev: Record) -> tuple[bytes, set[str]]:
    other = {"call": "sms", "sms": "transfer", "transfer": "call"}[ev["type"]]
    return orjson.dumps(ev)[:-1] + b',"type":"' + other.encode() + b'"}', {"unknown_type"}


Template = Callable[[random.Random, Record], tuple[bytes, set[str]]]
TEMPLATES: dict[str, tuple[Template, int]] = {  # name: (template, weight)
    "truncated json": (t_truncated, 10),
    "trailing garbage": (t_trailing, 5),
    "wrong type": (t_wrong_type, 12),
    "unknown type tag": (t_type_tag, 5),
    "missing field": (t_missing, 8),
    "invalid value": (t_invalid_value, 12),
    "huge number": (t_huge_number, 4),
    "NaN, Infinity, +1, 01, .5": (t_nan, 5),
    "control character": (t_control, 6),
    "invalid UTF-8": (t_bad_utf8, 6),
    "bad timestamp (year 1, 9999, …)": (t_bad_time, 8),
    "not an object": (t_not_object, 4),
    "nested too deep": (t_deep, 1),
    "random bytes": (t_garbage, 4),
    "duplicate key": (t_duplicate_key, 2),
}


# -- the stream ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Line:
    raw: bytes
    kind: str  # "good", "duplicate", "late" or a template name
    reasons: frozenset[str]  # empty for records that must be processed

    @property
    def good(self) -> bool:
        return not self.reasons


def stream(seed: int, total: int) -> list[Line]:
    """`total` records: the city's good traffic in order with bad ones between."""
    rng = random.Random(seed)
    goods = city(rng, hours=5.0)
    names = list(TEMPLATES)
    weights = [TEMPLATES[n][1] for n in names]
    extra = max(0.0, (total - len(goods)) / len(goods))  # records to put before each good one
    lines: list[Line] = []
    recent: list[tuple[float, bytes]] = []
    watermark = float("-inf")
    late_reason = frozenset({"late"})
    dup_reason = frozenset({"duplicate"})
    for ev in goods:
        for _ in range(int(extra) + (rng.random() < extra % 1)):
            roll = rng.random()
            again = rng.choice(recent) if recent else (float("-inf"), b"")
            if roll < 0.05 and again[0] >= watermark - LATENESS_S / 2:
                lines.append(Line(again[1], "duplicate", dup_reason))  # re-delivered
            elif roll < 0.10 and watermark > T0.timestamp() + 2 * LATENESS_S:
                behind = rng.choice([LATENESS_S + 1, 3_600.0, 86_400.0 * 30, 86_400.0 * 3650])
                ts = datetime.fromtimestamp(watermark - behind, T0.tzinfo).isoformat()
                lines.append(Line(orjson.dumps(_with(ev, ts=ts)), "late", late_reason))
            else:
                name = rng.choices(names, weights)[0]
                raw, reasons = TEMPLATES[name][0](rng, ev)
                lines.append(Line(raw, name, frozenset(reasons)))
        stretched = rng.random() < 0.02
        record = stretch(rng, ev) if stretched else ev
        raw = dumps(record) if stretched or rng.random() < 0.5 else orjson.dumps(record)
        lines.append(Line(raw, "good, adversarial" if stretched else "good", frozenset()))
        ts = datetime.fromisoformat(ev["ts"]).timestamp()
        watermark = max(watermark, ts)
        recent.append((ts, raw))
        del recent[:-20]
    while len(lines) < total:  # top up at the end with more bad records
        name = rng.choices(names, weights)[0]
        raw, reasons = TEMPLATES[name][0](rng, goods[-1])
        lines.append(Line(raw, name, frozenset(reasons)))
    return lines


@dataclass
class Run:
    decoded: list[Decoded]
    dead: list[DeadLetter]
    alerts: list[dict[str, Any]]
    tasks: list[dict[str, Any]]
    engine: Engine


def run(numbered: Sequence[tuple[int, bytes]], chunks: Sequence[int]) -> Run:
    """Decode and process `numbered` lines in batches ending at the given line numbers."""
    eng, decoder = engine(), Decoder("fuzz")
    result = Run([], [], [], [], eng)
    start = 0
    for end in chunks:
        stop = start
        while stop < len(numbered) and numbered[stop][0] <= end:
            stop += 1
        good, bad = decoder.decode_lines(numbered[start:stop])
        start = stop
        out = eng.process(good, "fuzz")
        result.decoded += good
        result.dead += bad + out.dead
        result.alerts += out.alerts
        result.tasks += out.tasks
    return result


def events_counted(eng: Engine) -> int:
    return sum(int(eng.metrics.events.labels(t)._value.get()) for t in ("call", "sms", "transfer"))


@pytest.fixture(scope="module")
def lines() -> list[Line]:
    return stream(SEED, N_RECORDS)


def test_stream_is_big_and_covers_every_class(lines: list[Line]) -> None:
    kinds = Counter(line.kind for line in lines)
    assert len(lines) >= N_RECORDS
    assert set(kinds) == {*TEMPLATES, "good", "good, adversarial", "duplicate", "late"}
    assert min(kinds.values()) >= 200, kinds
    assert sum(not line.good for line in lines) >= N_RECORDS // 2
    assert kinds["good"] >= 25_000


def test_every_bad_record_is_dead_lettered_and_every_good_one_processed(lines: list[Line]) -> None:
    numbered = [(n, line.raw) for n, line in enumerate(lines, 1)]
    chunks = list(range(CHUNK, len(lines) + CHUNK, CHUNK))
    mixed = run(numbered, chunks)

    expected_bad = {n: line.reasons for n, line in enumerate(lines, 1) if not line.good}
    got = {d.offset: d for d in mixed.dead}
    assert len(got) == len(mixed.dead), "a record dead-lettered twice"
    assert set(got) == set(expected_bad), sorted(set(got) ^ set(expected_bad))[:10]
    wrong = [
        (n, lines[n - 1].kind, d.reason, d.detail[:80])
        for n, d in got.items()
        if d.reason not in REASONS or d.reason not in expected_bad[n]
    ]
    assert not wrong, wrong[:10]
    assert all(d.source == "fuzz" and len(d.raw) <= 4096 for d in mixed.dead)

    goods = [(n, raw) for (n, raw), line in zip(numbered, lines, strict=True) if line.good]
    good_ids = [n for n, _ in goods]
    decoded_ids = [d.offset for d in mixed.decoded if d.offset not in got]
    assert decoded_ids == good_ids
    assert events_counted(mixed.engine) == len(good_ids)

    alone = run(goods, chunks)  # the same batches, without the bad records
    assert alone.dead == []
    assert mixed.alerts == alone.alerts
    assert mixed.tasks == alone.tasks
    assert len({a["alert_id"] for a in mixed.alerts}) >= 10  # the scenarios did alert
    assert mixed.tasks


def test_decode_lines_agrees_with_decode_one_on_every_record(lines: list[Line]) -> None:
    """decode_lines takes a shortcut for records that decode at once; every record, good
    or bad of every class, must come out as decode_one makes it, blank lines skipped."""
    decoder = Decoder("file")
    numbered = [(i, line.raw) for i, line in enumerate(lines, start=1)]
    good, bad = decoder.decode_lines(numbered)
    expected = [decoder.decode_one(raw, i) for i, raw in numbered if raw.strip()]
    assert good == [o for o in expected if isinstance(o, Decoded)]
    assert bad == [o for o in expected if isinstance(o, DeadLetter)]
    assert bad and good  # the stream holds both


def test_broker_records_batched_in_arrays_get_the_same_verdicts(lines: list[Line]) -> None:
    """The Kafka path: a record holding a JSON array of events splits around bad ones."""
    decoder = Decoder("topic")
    rng = random.Random(SEED + 1)
    # arrays can only hold records that are JSON values (or bad only in their UTF-8)
    usable = [
        line
        for line in lines[:30_000]
        if line.kind not in ("truncated json", "trailing garbage", "NaN, Infinity, +1, 01, .5")
        and line.kind not in ("control character", "random bytes", "nested too deep")
    ]
    i = 0
    while i < len(usable):
        group = usable[i : i + rng.randrange(1, 20)]
        i += len(group)
        value = b"[" + b",".join(line.raw for line in group) + b"]"
        good, bad = decoder.decode_record(value, i)
        one_by_one = [decoder.decode_one(line.raw, i) for line in group]
        assert [d.event for d in good] == [o.event for o in one_by_one if isinstance(o, Decoded)]
        assert [d.reason for d in bad] == [
            o.reason for o in one_by_one if isinstance(o, DeadLetter)
        ]


# -- Hypothesis: small streams, any shape --------------------------------------------------

phones = st.from_regex(r"\A\+[1-9][0-9]{5,15}\Z", fullmatch=True)
moments = st.floats(min_value=0, max_value=6 * 3600, allow_nan=False)


def _ts(at: float, hours: int) -> str:
    return with_offset((T0 + timedelta(seconds=at)).isoformat(), hours)


good_events = st.one_of(
    st.builds(
        lambda i, at, a, b, d, o, tz: {
            "event_id": i,
            "type": "call",
            "ts": _ts(at, tz),
            "caller": a,
            "callee": b,
            "duration_s": d,
            **({"origin": o} if o else {}),
        },
        st.text(min_size=1, max_size=30),
        moments,
        phones,
        phones,
        st.integers(0, MAX_DURATION_S),
        st.sampled_from([None, "overseas", "mobile", "voip_gateway"]),
        st.integers(-12, 14),
    ),
    st.builds(
        lambda i, at, a, b, text: {
            "event_id": i,
            "type": "sms",
            "ts": _ts(at, 8),
            "sender": a,
            "receiver": b,
            "text": text,
        },
        st.text(min_size=1, max_size=30),
        moments,
        phones,
        phones,
        st.none() | st.text(max_size=200),
    ),
    st.builds(
        lambda i, at, a, acc, amount, ch: {
            "event_id": i,
            "type": "transfer",
            "ts": _ts(at, 8),
            "payer": a,
            "payer_account": acc,
            "payee_account": acc[::-1],
            "amount_cny": amount,
            "channel": ch,
        },
        st.text(min_size=1, max_size=30),
        moments,
        phones,
        st.text(min_size=1, max_size=12),
        st.floats(min_value=1e-9, max_value=MAX_AMOUNT_CNY),
        st.sampled_from(["mobile_banking", "third_party_payment", "atm", "counter"]),
    ),
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and Infinity included: stdlib json writes them as literals
    | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children)
    ),
    max_leaves=6,
)


@st.composite
def records(draw: st.DrawFn) -> tuple[bytes, bool | None]:
    """(raw line, must it be good?): None when the fuzzer cannot tell."""
    how = draw(st.sampled_from(["good", "good", "mutated", "template", "bytes"]))
    ev = draw(good_events)
    if how == "good":
        return orjson.dumps(ev), True
    if how == "mutated":
        key = draw(st.sampled_from([*ev.keys(), "origin", "has_url", "extra"]))
        return dumps({**ev, key: draw(json_values)}), None
    if how == "template":
        name = draw(st.sampled_from(sorted(TEMPLATES)))
        raw, _ = TEMPLATES[name][0](random.Random(draw(st.integers(0, 2**32))), ev)
        return raw, False if name != "random bytes" else None
    raw = draw(st.binary(min_size=1, max_size=300)).replace(b"\n", b"")
    return raw, None


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(records(), min_size=1, max_size=40))
def test_hypothesis_streams_through_decode_and_engine(
    items: list[tuple[bytes, bool | None]],
) -> None:
    numbered = [(n, raw) for n, (raw, _) in enumerate(items, 1)]
    good, bad = Decoder().decode_lines(numbered)
    eng = engine()
    out = eng.process(good)
    non_blank = {n for n, raw in numbered if raw.strip()}
    assert sorted([d.offset for d in good] + [d.offset for d in bad]) == sorted(non_blank)
    assert all(d.reason in REASONS and d.reason != "late" for d in bad)
    assert all(d.reason in ("late", "duplicate", "bad_timestamp") for d in out.dead)
    kept = {d.offset for d in good}
    for n, (raw, must) in enumerate(items, 1):
        if must is True:
            assert n in kept, raw
        elif must is False and raw.strip():
            assert n not in kept, raw
    assert events_counted(eng) == len(good) - len(out.dead)


# -- known engine gaps (engine.py / join.py are not this test's to change) -----------------


def _good_feed() -> Feed:
    feed = Feed()
    for i in range(60):
        feed.call(i * 60, subscriber(i), subscriber(i + 1), 30)
    return feed


def test_a_far_future_event_does_not_make_later_good_events_late() -> None:
    feed = _good_feed()
    lines = feed.lines()
    ahead = orjson.loads(lines[10])
    ahead["ts"] = (T0 + timedelta(days=400)).isoformat()  # a year ahead: a plausible year
    ahead["event_id"] = "from-the-future"
    stream_ = [*lines[:10], orjson.dumps(ahead), *lines[10:]]
    good, bad = Decoder().decode_lines(enumerate(stream_, 1))
    assert bad == []
    out = engine().process(good)
    assert [d.raw for d in out.dead if "from-the-future" not in d.raw] == []


def test_a_redelivered_call_changes_nothing() -> None:
    rules_only = load_registry(ROOT / "rules")
    feed = Feed()
    victim = subscriber(9_000)
    feed.call(0, "+8617012345678", victim, 660, callee_cell="C1")
    feed.transfer(900, victim, "SAFE-1", 9_000)
    once = feed.lines()
    twice = [once[0], once[0], once[1]]

    def alerts(lines: list[bytes]) -> tuple[int, int, int]:
        data = refdata()
        eng = Engine(rules_only, data, dispatcher=Dispatcher(data.units))
        good, _ = Decoder().decode_lines(enumerate(lines, 1))
        out = eng.process(good)
        return len(out.alerts), len(out.tasks), events_counted(eng)

    assert alerts(twice) == alerts(once)


if __name__ == "__main__":  # the counts in docs/reliability.md
    for kind, count in Counter(line.kind for line in stream(SEED, N_RECORDS)).most_common():
        print(f"{count:>7,}  {kind}")
