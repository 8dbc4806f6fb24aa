"""The bad-input breaker trips on a flood of refused records, not on a few."""

from __future__ import annotations

from collections import Counter, deque

from hypothesis import given, settings
from hypothesis import strategies as st

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


class PerRecord:
    """The breaker's definition, one step per record: the last `window` records, each
    None (taken) or its reason."""

    def __init__(self, config: BreakerConfig) -> None:
        self.config = config
        self.recent: deque[str | None] = deque(maxlen=config.window)
        self.reason: str | None = None

    def record(self, good: int, bad_reasons: list[str]) -> bool:
        self.recent.extend([*([None] * good), *bad_reasons])
        n = len(self.recent)
        bad = [r for r in self.recent if r is not None]
        if self.reason is not None or n < max(1, self.config.min_records):
            return False
        if len(bad) / n < self.config.bad_share:
            return False
        top, count = Counter(bad).most_common(1)[0]
        self.reason = f"{len(bad) / n:.0%} of the last {n:,} records were refused "
        self.reason += f"(most often: {top}, {count:,})"
        return True


batches = st.lists(
    st.tuples(st.integers(0, 60), st.lists(st.sampled_from(["invalid_json", "late", "duplicate"]))),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(batches, st.integers(1, 50), st.integers(0, 50), st.sampled_from([0.3, 0.5, 0.9]))
def test_it_judges_as_one_step_per_record_would(
    batches: list[tuple[int, list[str]]], window: int, min_records: int, share: float
) -> None:
    config = BreakerConfig(window=window, min_records=min_records, bad_share=share)
    breaker, reference = Breaker(config), PerRecord(config)
    for good, bad in batches:
        assert breaker.record(good, bad) == reference.record(good, bad)
        assert breaker.reason == reference.reason
