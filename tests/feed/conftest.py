"""Feeds generated once per test session, small enough to keep every test fast."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from fraud_warning.feed import generate_feed
from fraud_warning.feed.timeline import CST


@dataclass
class Feed:
    path: Path
    lines: list[bytes]
    events: list[dict[str, Any]]
    labels: list[dict[str, Any]]
    meta: dict[str, Any]

    def csv(self, name: str) -> list[dict[str, str]]:
        with (self.path / name).open(encoding="utf-8", newline="") as fh:
            return list(csv.DictReader(fh))

    @property
    def victims(self) -> list[dict[str, Any]]:
        return [r for r in self.labels if r.get("kind") == "victim"]

    @property
    def fraud_numbers(self) -> set[str]:
        return {r["number"] for r in self.labels if r.get("kind") == "fraud_number"}

    @property
    def mules(self) -> set[str]:
        return {r["account"] for r in self.labels if r.get("kind") == "mule_account"}

    @property
    def subscribers(self) -> set[str]:
        return {r["msisdn"] for r in self.csv("subscribers.csv")}


def load(path: Path) -> Feed:
    lines = (path / "events.jsonl").read_bytes().splitlines()
    return Feed(
        path=path,
        lines=lines,
        events=[orjson.loads(line) for line in lines],
        labels=[orjson.loads(line) for line in (path / "labels.jsonl").read_bytes().splitlines()],
        meta=orjson.loads((path / "meta.json").read_bytes()),
    )


@pytest.fixture(scope="session")
def small_feed(tmp_path_factory: pytest.TempPathFactory) -> Feed:
    """2,000 subscribers over three busy morning hours, with plenty of fraud."""
    out = tmp_path_factory.mktemp("small")
    generate_feed(
        out,
        subscribers=2000,
        hours=3,
        seed=5,
        start=datetime(2026, 3, 2, 9, 0, tzinfo=CST),
        fraud_rate=40.0,
    )
    return load(out)


@pytest.fixture(scope="session")
def day_feed(tmp_path_factory: pytest.TempPathFactory) -> Feed:
    """3,000 subscribers over a whole day with a high fraud rate."""
    out = tmp_path_factory.mktemp("day")
    generate_feed(out, subscribers=3000, hours=24, seed=9, fraud_rate=40.0)
    return load(out)
