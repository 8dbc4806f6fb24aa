"""The bad-input breaker trips on a flood of refused records, not on a few."""

from __future__ import annotations

from fraud_warning.breaker import Breaker, BreakerConfig


def test_a_few_bad_records_never_trip_it() -> None:
    breaker = Breaker(BreakerConfig(window=1_000, min_records=500, bad_share=0.9))
    for _ in range(50):
        assert not breaker.record(90, ["invalid_json"] * 10)  # 10 % bad, for long
    assert not breaker.open


def test_a_flood_trips_it_with_the_reason_and_reset_closes_it() -> None:
    breaker = Breaker(BreakerConfig(window=1_000, min_records=500, bad_share=0.9))
    assert not breaker.record(400, [])
    assert not breaker.record(0, ["invalid_json"] * 300)  # 43 %
    tripped = [breaker.record(0, ["invalid_json"] * 100 + ["unknown_type"] * 10) for _ in range(8)]
    assert tripped.count(True) == 1 and breaker.open
    assert breaker.reason is not None and "invalid_json" in breaker.reason
    assert "of the last 1,000 records were refused" in breaker.reason
    breaker.reset()
    assert not breaker.open
    assert not breaker.record(0, ["invalid_json"] * 499)  # under min_records after reset
    assert breaker.record(0, ["invalid_json"])
