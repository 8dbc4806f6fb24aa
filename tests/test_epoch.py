"""Epoch seconds from a datetime: the very float `datetime.timestamp()` gives."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import msgspec
import pytest

from fraud_warning.epoch import Epochs, compiled, epoch_s, offset_s, py_fixed_epoch_s

C = compiled()


def _random_offset(rng: random.Random) -> timezone:
    seconds = rng.randrange(-86_399, 86_400)
    micros = rng.choice([0, 0, 0, rng.randrange(1_000_000)])  # offsets may carry them
    return timezone(timedelta(seconds=seconds, microseconds=micros))


def test_equals_timestamp_bit_for_bit_across_the_calendar() -> None:
    rng = random.Random(5)
    start, span = datetime(1, 1, 2), (datetime(9999, 12, 30) - datetime(1, 1, 2))
    for _ in range(50_000):
        naive = start + timedelta(microseconds=rng.randrange(int(span.total_seconds() * 1e6)))
        ts = naive.replace(tzinfo=_random_offset(rng))
        assert epoch_s(ts) == ts.timestamp(), ts


def test_equals_timestamp_around_now_at_every_microsecond_pattern() -> None:
    """Event times: recent dates, real offsets, every sub-second digit pattern."""
    rng = random.Random(9)
    base = datetime(2026, 3, 2, 8, tzinfo=timezone(timedelta(hours=8)))
    for _ in range(50_000):
        ts = base + timedelta(microseconds=rng.randrange(10**14))
        tz = rng.choice([UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=5.5))])
        assert epoch_s(ts.astimezone(tz)) == ts.timestamp()


def test_decoded_wire_timestamps() -> None:
    """What the decoder hands the engine: msgspec's own timezone objects."""
    texts = [
        "2026-03-02T08:00:00+08:00",
        "2026-03-02T08:00:00.123456-03:30",
        "2026-03-02T00:00:00Z",
    ]
    for text in texts:
        ts = msgspec.json.decode(f'"{text}"'.encode(), type=datetime)
        assert epoch_s(ts) == ts.timestamp()


def test_falls_back_where_it_cannot_be_exact() -> None:
    zoned = datetime(2026, 3, 8, 2, 30, tzinfo=ZoneInfo("America/New_York"))  # a zone with rules
    naive = datetime(2026, 3, 2, 8)  # local time
    far = datetime(9000, 1, 1, tzinfo=UTC)  # beyond 2**53 microseconds
    for ts in (zoned, naive, far):
        assert epoch_s(ts) == ts.timestamp()


def test_offset_s_truncates_as_total_seconds_does() -> None:
    rng = random.Random(3)
    ts = datetime(2026, 3, 2, 8)
    for _ in range(20_000):
        aware = ts.replace(tzinfo=_random_offset(rng))
        delta = aware.utcoffset()
        assert delta is not None
        assert offset_s(aware) == int(delta.total_seconds())
    assert offset_s(ts) == 0  # naive
    zoned = datetime(2026, 7, 1, tzinfo=ZoneInfo("America/New_York"))
    assert offset_s(zoned) == -4 * 3600


def test_epochs_remembers_the_last_time_without_changing_an_answer() -> None:
    """A stream as events come: runs of the same second, the same instant written with
    another offset, a step back (late event), zones with rules and naive times between."""
    rng = random.Random(11)
    base = datetime(2026, 3, 2, 8, tzinfo=timezone(timedelta(hours=8)))
    stream: list[datetime] = []
    ts = base
    for _ in range(20_000):
        step = rng.choice([0, 0, 0, 1, 1, 7, -30, 3600])
        ts = ts + timedelta(seconds=step, microseconds=rng.choice([0, 0, 250_000]))
        shown = rng.choice([ts, ts, ts, ts.astimezone(UTC), ts.astimezone(_random_offset(rng))])
        stream.append(shown)
        if rng.random() < 0.01:
            stream.append(ts.astimezone(ZoneInfo("Europe/London")))
        if rng.random() < 0.01:
            stream.append(ts.replace(tzinfo=None))
    epochs = Epochs()
    for ts in stream:
        assert epochs.of(ts) == ts.timestamp(), ts


def test_epochs_tells_apart_times_that_compare_equal_but_name_two_instants() -> None:
    """The hour repeated when New York's clocks go back: the two readings compare equal
    (same tzinfo, fold ignored) but are an hour apart; naive times read local time."""
    zone = ZoneInfo("America/New_York")
    first = datetime(2026, 11, 1, 1, 30, tzinfo=zone)
    second = first.replace(fold=1)
    assert first == second and first.timestamp() != second.timestamp()
    epochs = Epochs()
    assert [epochs.of(first), epochs.of(second)] == [first.timestamp(), second.timestamp()]
    naive = datetime(2026, 3, 2, 8)
    aware = naive.replace(tzinfo=UTC)
    assert [epochs.of(aware), epochs.of(naive)] == [aware.timestamp(), naive.timestamp()]


def _offset_us(ts: datetime) -> int:
    delta = ts.utcoffset()
    assert delta is not None
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def test_the_c_function_and_its_python_twin_give_the_same_answers() -> None:
    """`_epoch.c` answers as `py_fixed_epoch_s` does: the same float, and None at the
    same places (beyond 2**53 microseconds, and for offsets no timezone can have)."""
    twins = [py_fixed_epoch_s] + ([C.fixed_epoch_s] if C is not None else [])
    rng = random.Random(17)
    start, span = datetime(1, 1, 2), (datetime(9999, 12, 30) - datetime(1, 1, 2))
    cases = [
        (datetime(1970, 1, 1, tzinfo=UTC), 0),
        (datetime(2255, 6, 5, 23, 47, 34, 740_991), 0),  # just below 2**53 microseconds
        (datetime(2255, 6, 5, 23, 47, 34, 740_992), 0),  # 2**53: not exact
        (datetime(1684, 7, 28, 0, 12, 25, 259_009), 0),  # -2**53 + 1
        (datetime(1684, 7, 28, 0, 12, 25, 259_008), 0),  # -2**53: not exact
        (datetime(2026, 3, 2), 2**62),
        (datetime(2026, 3, 2), -(2**62)),
        (datetime(2026, 3, 2), 2**63 - 1),
    ]
    for _ in range(20_000):
        naive = start + timedelta(microseconds=rng.randrange(int(span.total_seconds() * 1e6)))
        ts = naive.replace(tzinfo=_random_offset(rng))
        cases.append((ts, _offset_us(ts)))
    for ts, offset in cases:
        answers = [twin(ts, offset) for twin in twins]
        assert answers == [answers[0]] * len(twins), (ts, offset)
        if answers[0] is not None and ts.tzinfo is not None:
            assert answers[0] == ts.timestamp()


def test_the_c_function_refuses_the_wrong_arguments_clearly() -> None:
    if C is None:
        pytest.skip("nothing compiled here (interpreted)")
    with pytest.raises(TypeError, match="takes a datetime, not str"):
        C.fixed_epoch_s("2026-03-02", 0)
    with pytest.raises(TypeError, match=r"takes \(datetime, offset_us\)"):
        C.fixed_epoch_s(datetime(2026, 3, 2))
    with pytest.raises(OverflowError):
        C.fixed_epoch_s(datetime(2026, 3, 2), 2**70)
