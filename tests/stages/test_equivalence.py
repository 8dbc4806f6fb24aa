"""The staged pipeline gives the embedded engine's alerts, byte for byte, whatever the
partition counts and however upstream partitions interleave (the distributed runner's
correctness rests on this)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from fraud_warning.cli import main
from fraud_warning.decode import Decoded, Decoder
from fraud_warning.engine import Engine
from fraud_warning.refdata import RefData, load_refdata
from fraud_warning.registry import Registry, load_registry
from fraud_warning.stages.local import LocalPipeline
from fraud_warning.stages.tasks import STAGES, Context

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
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


@pytest.fixture(scope="module")
def embedded(city: tuple[list[Decoded], Registry, RefData]) -> list[str]:
    events, registry, refdata = city
    alerts = canonical(Engine(registry, refdata).process(events).alerts)
    # a feed where nothing fires would prove nothing: every side must have alerted
    assert len(alerts) > 50
    typologies = {json.loads(a)["typology"] for a in alerts}
    assert {"fraud_number", "suspected_fraud_transfer"} <= typologies
    return alerts


@pytest.mark.parametrize(
    ("partitions", "seed"), [(1, None), (2, 1), (3, 2), ({"N": 4, "V": 3, "P": 2, "A": 5}, 3)]
)
def test_staged_alerts_equal_the_embedded_engine(
    city: tuple[list[Decoded], Registry, RefData],
    embedded: list[str],
    partitions: int | dict[str, int],
    seed: int | None,
) -> None:
    events, registry, refdata = city
    counts = partitions if isinstance(partitions, dict) else dict.fromkeys(STAGES, partitions)
    pipe = LocalPipeline(
        Context(registry, refdata, partitions=counts),
        random.Random(seed) if seed is not None else None,
    )
    pipe.ingest(events, batch=97 if seed else 512)
    assert canonical(pipe.finish().alerts) == embedded
