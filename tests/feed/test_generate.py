"""Parameters, determinism and the progress callback."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from fraud_warning.feed import FeedSummary, generate_feed

FILES = ("events.jsonl", "labels.jsonl", "cells.csv", "units.csv", "subscribers.csv", "meta.json")


def _digests(path: Path) -> dict[str, str]:
    return {f: hashlib.sha256((path / f).read_bytes()).hexdigest() for f in FILES}


def test_same_seed_same_bytes_different_seed_different(tmp_path: Path) -> None:
    def run(name: str, seed: int) -> FeedSummary:
        return generate_feed(
            tmp_path / name, subscribers=2000, hours=3.0, seed=seed, fraud_rate=30.0
        )

    a, b, c = run("a", 42), run("b", 42), run("c", 43)
    assert _digests(tmp_path / "a") == _digests(tmp_path / "b")
    other = _digests(tmp_path / "c")
    assert other["events.jsonl"] != _digests(tmp_path / "a")["events.jsonl"]
    assert other["subscribers.csv"] != _digests(tmp_path / "a")["subscribers.csv"]
    assert (a.events, a.victims) == (b.events, b.victims)
    assert isinstance(c, FeedSummary) and c.seconds > 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"subscribers": 99}, "subscribers"),
        ({"subscribers": 1000.0}, "subscribers"),
        ({"hours": 0}, "hours"),
        ({"hours": -1.0}, "hours"),
        ({"hours": float("nan")}, "hours"),
        ({"seed": -1}, "seed"),
        ({"fraud_rate": -0.5}, "fraud_rate"),
        ({"fraud_rate": float("inf")}, "fraud_rate"),
        ({"start": "2026-03-02"}, "start"),
    ],
)
def test_bad_parameters_raise(tmp_path: Path, kwargs: dict[str, object], message: str) -> None:
    params: dict[str, object] = {"subscribers": 500, "hours": 1.0, "seed": 1}
    params.update(kwargs)
    with pytest.raises(ValueError, match=message):
        generate_feed(tmp_path, **params)  # type: ignore[arg-type]
    assert not (tmp_path / "events.jsonl").exists()


def test_progress_and_partial_hours_with_odd_start(tmp_path: Path) -> None:
    seen: list[float] = []
    start = datetime(2026, 3, 5, 1, 20, 15, tzinfo=UTC)  # 09:20:15 in Chengdu
    summary = generate_feed(
        tmp_path, subscribers=800, hours=1.5, seed=3, start=start, progress=seen.append
    )
    # Two chunks: 09:20:15-10:00 and 10:00-10:50:15.
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) == 2
    lines = (tmp_path / "events.jsonl").read_bytes().splitlines()
    assert len(lines) == summary.events > 0
    first, last = orjson.loads(lines[0])["ts"], orjson.loads(lines[-1])["ts"]
    assert first >= "2026-03-05T09:20:15+08:00" and last < "2026-03-05T10:50:15+08:00"
    meta = orjson.loads((tmp_path / "meta.json").read_bytes())
    assert meta["start"] == "2026-03-05T09:20:15+08:00"
    assert meta["end"] == "2026-03-05T10:50:15+08:00"


def test_no_fraud_when_rate_is_zero(tmp_path: Path) -> None:
    summary = generate_feed(tmp_path, subscribers=500, hours=2, seed=1, fraud_rate=0.0)
    assert summary.victims == 0 and summary.mule_accounts == 0
    assert summary.events > 0
