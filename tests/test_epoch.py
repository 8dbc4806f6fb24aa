"""Epoch seconds from a datetime: the very float `datetime.timestamp()` gives."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import msgspec

from fraud_warning.epoch import epoch_s, offset_s


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
