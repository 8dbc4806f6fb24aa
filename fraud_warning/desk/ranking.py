"""The desk's queue order: priority, then score, then urgency, then vulnerability.

Urgency is how recent the triggering contact is: a victim on a risky call right now
outranks one from an hour ago at the same priority and score. Vulnerability puts elderly
subscribers first when all else ties. The alert id breaks the last ties, so two desks
looking at the same alerts see the same order.

>>> a = RankFields("A-1", "P2", 0.8, event_ts=100.0, elderly=False)
>>> b = RankFields("A-2", "P2", 0.8, event_ts=200.0, elderly=False)
>>> c = RankFields("A-3", "P1", 0.5, event_ts=50.0, elderly=True)
>>> [f.alert_id for f in sorted([a, b, c], key=rank_key)]
['A-3', 'A-2', 'A-1']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from fraud_warning.refdata import Subscriber, is_elderly
from fraud_warning.rules import PRIORITY_RANK


@dataclass(frozen=True, slots=True)
class RankFields:
    """What ranking reads from an alert; `event_ts` is the triggering event, epoch seconds."""

    alert_id: str
    priority: str
    score: float
    event_ts: float
    elderly: bool


def rank_key(fields: RankFields) -> tuple[int, float, float, int, str]:
    """Sort ascending: the most urgent alert comes first."""
    return (
        PRIORITY_RANK.get(fields.priority, len(PRIORITY_RANK) + 1),
        -fields.score,
        -fields.event_ts,
        0 if fields.elderly else 1,
        fields.alert_id,
    )


# Epoch seconds are subtracted from this so that newer events sort first as text.
_TS_CEILING = 1e11


def rank_token(fields: RankFields) -> str:
    """A string whose byte order is :func:`rank_key`'s order, for a Redis lex index.

    Fixed-width fields, so the store can read the top N of the queue with one ZRANGE
    instead of loading and sorting every open alert.

    >>> rank_token(RankFields("A-1", "P1", 0.75, event_ts=1.7e9, elderly=True))
    '1|0.250000|098300000000.000|0|A-1'
    """
    rank = PRIORITY_RANK.get(fields.priority, len(PRIORITY_RANK) + 1)
    score = min(1.0, max(0.0, fields.score))
    ts = min(_TS_CEILING, max(0.0, fields.event_ts))
    return (
        f"{rank}|{1.0 - score:.6f}|{_TS_CEILING - ts:016.3f}|"
        f"{0 if fields.elderly else 1}|{fields.alert_id}"
    )


def token_alert_id(token: str) -> str:
    return token.split("|", 4)[4]


def ranked(items: Iterable[RankFields]) -> list[RankFields]:
    return sorted(items, key=rank_key)


def vulnerable(subscriber: str, subscribers: Mapping[str, Subscriber]) -> bool:
    """Elderly by the subscriber's age band; unknown subscribers are not."""
    profile = subscribers.get(subscriber)
    return profile is not None and is_elderly(profile.age_band)


__all__ = ["RankFields", "rank_key", "rank_token", "ranked", "token_alert_id", "vulnerable"]
