"""A generated city, its decoded events and the embedded engine's alerts, shared by the
stage tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fraud_warning.cli import main
from fraud_warning.decode import Decoded, Decoder
from fraud_warning.engine import Engine
from fraud_warning.refdata import RefData, load_refdata
from fraud_warning.registry import Registry, load_registry

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def city(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Decoded], Registry, RefData]:
    out = tmp_path_factory.mktemp("city")
    argv = ["feed", "generate", "--subscribers", "3000", "--hours", "12", "--seed", "17"]
    assert main([*argv, "--fraud-rate", "40", "--out", str(out), "--quiet"]) == 0
    lines = (out / "events.jsonl").read_bytes().splitlines()
    good, dead = Decoder().decode_lines(enumerate(lines))
    assert not dead
    registry = load_registry(ROOT / "rules", ROOT / "models")
    refdata = load_refdata(out / "cells.csv", None, out / "subscribers.csv")
    return good, registry, refdata


def canonical(alerts: list[dict[str, object]]) -> list[str]:
    return sorted(json.dumps(a, sort_keys=True) for a in alerts)


@pytest.fixture(scope="session")
def embedded(city: tuple[list[Decoded], Registry, RefData]) -> list[str]:
    events, registry, refdata = city
    alerts = canonical(Engine(registry, refdata).process(events).alerts)
    # a feed where nothing fires would prove nothing: every side must have alerted
    assert len(alerts) > 50
    typologies = {json.loads(a)["typology"] for a in alerts}
    assert {"fraud_number", "suspected_fraud_transfer"} <= typologies
    return alerts
