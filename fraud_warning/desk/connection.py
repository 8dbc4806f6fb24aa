"""Connecting to Redis: short timeouts, so an outage surfaces as an error to buffer on.

redis-py's default retries would stall a writer for seconds per call while Redis is away;
one quick retry covers the common case (a pooled socket that died with a restart) and
anything longer is the sink's buffer's job.
"""

from __future__ import annotations

from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

#: What an unreachable or restarting Redis raises; everything else is a bug, not an outage.
STORE_ERRORS: tuple[type[BaseException], ...] = (
    redis.ConnectionError,
    redis.TimeoutError,
    redis.BusyLoadingError,
    ConnectionError,
    TimeoutError,
)

DEFAULT_URL = "redis://127.0.0.1:6379/0"


def connect(url: str = DEFAULT_URL, *, timeout_s: float = 5.0) -> redis.Redis:
    """A client that decodes replies to `str`; raises ValueError for a malformed URL.

    `timeout_s` bounds each command; blocking stream reads ask for less than this.
    """
    options: dict[str, Any] = {
        "decode_responses": True,
        "socket_connect_timeout": min(1.0, timeout_s),
        "socket_timeout": timeout_s,
        "retry": Retry(NoBackoff(), 1),
        "health_check_interval": 0,
    }
    return redis.Redis.from_url(url, **options)


__all__ = ["DEFAULT_URL", "STORE_ERRORS", "connect"]
