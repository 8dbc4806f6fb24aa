"""The lex rank token sorts exactly as the ranking key (property test)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fraud_warning.desk.ranking import RankFields, rank_key, rank_token, token_alert_id

fields = st.builds(
    RankFields,
    alert_id=st.from_regex(r"A-[0-9a-f]{1,20}", fullmatch=True),
    priority=st.sampled_from(["P1", "P2", "P3"]),
    score=st.floats(0, 1).map(lambda x: round(x, 6)),
    event_ts=st.floats(1e9, 5e9).map(lambda x: round(x, 3)),
    elderly=st.booleans(),
)


@given(st.lists(fields, min_size=2, max_size=30, unique_by=lambda f: f.alert_id))
def test_token_order_is_rank_order(items: list[RankFields]) -> None:
    by_key = [f.alert_id for f in sorted(items, key=rank_key)]
    by_token = [token_alert_id(t) for t in sorted(rank_token(f) for f in items)]
    assert by_token == by_key


def test_alert_ids_with_bars_survive() -> None:
    token = rank_token(RankFields("A|b|c", "P2", 0.5, 1.7e9, False))
    assert token_alert_id(token) == "A|b|c"
