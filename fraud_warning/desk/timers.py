"""Deadlines in Redis: a sorted set of `kind|id|detail` members scored by when they fall due.

Taking a due timer is a ZREM: exactly one of several servers gets 1 back, so each deadline
is handled once however many tick. Deadlines are compared with an injected clock's `now`,
so a test moves time by hand and a 60-second timeout passes at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis
from redis.client import Pipeline

from fraud_warning.desk.keys import Keys
from fraud_warning.desk.store import texts


@dataclass(frozen=True, slots=True)
class Due:
    kind: str  # "ack" (unit acknowledgement), "retry" (find a unit), "ladder" (step deadline)
    item: str  # a task or alert id
    detail: str  # the unit or ladder step the deadline is about


class Timers:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys

    @staticmethod
    def member(kind: str, item: str, detail: str = "") -> str:
        return f"{kind}|{item}|{detail}"

    def schedule(
        self, kind: str, item: str, detail: str, due: float, pipe: Pipeline | None = None
    ) -> None:
        target = pipe if pipe is not None else self.client
        target.zadd(self.keys.timers, {self.member(kind, item, detail): due})

    def cancel(self, kind: str, item: str, detail: str = "", pipe: Pipeline | None = None) -> None:
        target = pipe if pipe is not None else self.client
        target.zrem(self.keys.timers, self.member(kind, item, detail))

    def take_due(self, now: float, limit: int = 200) -> list[Due]:
        """Removes and returns the timers due at `now`, oldest first."""
        members = texts(self.client.zrangebyscore(self.keys.timers, "-inf", now, 0, limit))
        taken = []
        for member in members:
            if self.client.zrem(self.keys.timers, member):
                kind, item, detail = ([*member.split("|", 2), "", ""])[:3]
                taken.append(Due(kind, item, detail))
        return taken

    def pending(self) -> int:
        return int(self.client.zcard(self.keys.timers))


__all__ = ["Due", "Timers"]
