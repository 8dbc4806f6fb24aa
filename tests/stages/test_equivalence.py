"""The staged pipeline gives the embedded engine's alerts, byte for byte, whatever the
partition counts and however upstream partitions interleave (the distributed runner's
correctness rests on this)."""

from __future__ import annotations

import random

import pytest

from fraud_warning.decode import Decoded
from fraud_warning.engine import Engine
from fraud_warning.refdata import RefData
from fraud_warning.registry import Registry
from fraud_warning.stages.local import LocalPipeline
from fraud_warning.stages.tasks import STAGES, Context

from .conftest import canonical


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


def test_window_features_cross_stages_as_the_embedded_engine_reads_them(
    city: tuple[list[Decoded], Registry, RefData], windowed: tuple[Registry, list[str]]
) -> None:
    events, _, refdata = city
    registry, want = windowed
    shadow = canonical(Engine(registry, refdata).process(events).shadow)
    assert len(shadow) > 20  # the shipped shadow and experimental rules fired
    counts = {"N": 2, "V": 3, "P": 2, "A": 2}
    pipe = LocalPipeline(Context(registry, refdata, partitions=counts), random.Random(5))
    pipe.ingest(events, batch=211)
    out = pipe.finish()
    assert canonical(out.alerts) == want
    assert canonical(out.shadow) == shadow  # the shadow log too, whatever the stage
