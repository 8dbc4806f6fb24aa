"""`--features derived`: per-row ratios of a table's own columns, never of its label."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fraud_warning.models.derived import CATALOGUE, add_derived, applicable, compute
from fraud_warning.models.tables import TableError, read_table

RAW = sorted({i for d in CATALOGUE.values() for i in d.inputs})


def table(n: int = 50, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 20, size=(n, len(RAW))).astype(np.float64)
    x[3, 0] = np.nan
    return x


def test_no_derived_feature_reads_a_label_or_another_derived_feature() -> None:
    for name, d in CATALOGUE.items():
        assert "label" not in d.inputs and not set(d.inputs) & set(CATALOGUE), name


def test_each_row_depends_on_its_own_cells_only() -> None:
    x = table()
    names, full = add_derived(RAW, x)
    _, part = add_derived(RAW, x[10:20])
    np.testing.assert_array_equal(full[10:20], part)  # other rows change nothing
    assert names[: len(RAW)] == RAW and len(names) == len(RAW) + len(CATALOGUE)
    np.testing.assert_array_equal(full[:, : len(RAW)], x)  # raw columns untouched


def test_zero_or_missing_inputs_give_missing_values() -> None:
    cols = {
        "opposite_unique": np.array([3.0, 1.0, np.nan]),
        "opposite_count": np.array([6.0, 0.0, 2.0]),
    }
    out = compute("unique_opposite_share", cols)
    assert out[0] == 0.5 and np.isnan(out[1]) and np.isnan(out[2])
    spread = compute(
        "spend_spread",
        {"arpu_max": np.array([30.0]), "arpu_min": np.array([10.0]), "arpu_mean": np.array([20.0])},
    )
    assert spread[0] == 1.0


def test_only_applicable_features_are_added() -> None:
    assert applicable(["opposite_count", "opposite_unique", "x"]) == ["unique_opposite_share"]
    with pytest.raises(ValueError, match="none of the derived features applies"):
        add_derived(["a", "b"], np.zeros((2, 2)))


def test_read_table_computes_a_cards_derived_features(tmp_path: Path) -> None:
    x = table(8)
    path = tmp_path / "t.csv"
    lines = [",".join([*RAW, "label"])]
    for i, row in enumerate(x):
        lines.append(",".join("" if np.isnan(v) else f"{v:g}" for v in row) + f",{i % 2}")
    path.write_text("\n".join(lines) + "\n")
    names, expected = add_derived(RAW, x)
    wanted = ["sms_share", "opposite_count", "spend_spread"]
    got = read_table(path, "label", wanted)
    assert got.names == wanted
    np.testing.assert_array_equal(got.x, expected[:, [names.index(n) for n in wanted]])
    with pytest.raises(TableError, match="missing the model's feature"):
        read_table(path, "label", ["no_such_ratio"])
