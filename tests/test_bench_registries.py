"""The benchmark's larger registries load: shipped rules plus shadow variants."""

from __future__ import annotations

from pathlib import Path

from bench.registries import build
from fraud_warning.registry import load_registry, rule_files

SHIPPED = Path(__file__).resolve().parent.parent / "rules"


def test_a_215_rule_registry_builds_and_loads(tmp_path: Path) -> None:
    registry = load_registry(build(215, tmp_path / "rules-215"))
    assert len(registry) == 215
    shipped = len(rule_files(SHIPPED))
    # every variant is shadow: the bench registry pages no more than the shipped one
    assert sum(1 for r in registry if r.spec.status == "shadow") >= 215 - shipped
    assert len({r.spec.id for r in registry}) == 215
