"""Derived table features: per-row ratios of a table's own columns (opt-in, CSV only).

`models train --csv ... --features derived` adds these columns to the raw ones. Each is
computed from one row's cells alone, never from the label or from other rows, so a
derived column means the same at training, in `models evaluate --csv` and on new rows
(`read_table` computes them again when a card names them). The catalogue was fixed from
the Sichuan columns' meaning (calls, SMS, days, months, spend), before any figure was
measured; a feature whose input columns the table lacks is simply not added.

A ratio with a zero or missing denominator (or a missing numerator) is missing (NaN),
which LightGBM handles natively.

>>> import numpy as np
>>> names, x = add_derived(["opposite_count", "opposite_unique"], np.array([[10.0, 4.0]]))
>>> names[-1], float(x[0, -1])
('unique_opposite_share', 0.4)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]
Kind = Literal["ratio", "share", "spread"]


@dataclass(frozen=True)
class Derived:
    """`ratio`: a / b; `share`: a / (a + b); `spread`: (a - b) / c."""

    kind: Kind
    inputs: tuple[str, ...]
    meaning: str


CATALOGUE: dict[str, Derived] = {
    "unique_opposite_share": Derived(
        "ratio", ("opposite_unique", "opposite_count"), "distinct numbers called per call"
    ),
    "calls_per_call_day": Derived(
        "ratio", ("opposite_count", "voc_day_nunique"), "calls per day with a call"
    ),
    "unique_per_call_day": Derived(
        "ratio", ("opposite_unique", "voc_day_nunique"), "distinct numbers called per call day"
    ),
    "call_peak_day_share": Derived(
        "ratio", ("voc_day_mode_count", "opposite_count"), "share of calls on the busiest day"
    ),
    "call_peak_hour_share": Derived(
        "ratio", ("voc_hour_mode_count", "opposite_count"), "share of calls in the busiest hour"
    ),
    "unique_per_imei": Derived(
        "ratio", ("opposite_unique", "imeis"), "distinct numbers called per handset"
    ),
    "sms_share": Derived("share", ("sms_count", "opposite_count"), "SMS among calls and SMS"),
    "sms_per_sms_day": Derived("ratio", ("sms_count", "day_nunique"), "SMS per day with an SMS"),
    "sms_peak_hour_share": Derived(
        "ratio", ("hour_mode_count", "sms_count"), "share of SMS in the busiest hour"
    ),
    "call_days_per_sms_day": Derived(
        "ratio", ("voc_day_nunique", "day_nunique"), "days with a call per day with an SMS"
    ),
    "apps_per_month": Derived("ratio", ("busi_count", "month_ids"), "app sessions per month"),
    "spend_per_month": Derived("ratio", ("arpu_sum", "month_ids"), "spend per month"),
    "spend_spread": Derived(
        "spread", ("arpu_max", "arpu_min", "arpu_mean"), "monthly spend range over its mean"
    ),
}


def _div(a: Array, b: Array) -> Array:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.asarray(a / b, dtype=np.float64)
    out[~np.isfinite(out)] = np.nan
    return out


def compute(name: str, columns: Mapping[str, npt.ArrayLike]) -> Array:
    """The derived column `name` from the raw `columns` (name -> values of every row)."""
    d = CATALOGUE[name]
    v = [np.asarray(columns[i], dtype=np.float64) for i in d.inputs]
    if d.kind == "ratio":
        return _div(v[0], v[1])
    if d.kind == "share":
        return _div(v[0], v[0] + v[1])
    return _div(v[0] - v[1], v[2])


def applicable(names: list[str]) -> list[str]:
    """The catalogue's features whose inputs are all among `names` (and not already there)."""
    have = set(names)
    return [n for n, d in CATALOGUE.items() if n not in have and set(d.inputs) <= have]


def add_derived(names: list[str], x: Array) -> tuple[list[str], Array]:
    """`names` and `x` with every applicable derived column appended (catalogue order)."""
    extra = applicable(names)
    if not extra:
        raise ValueError(
            "--features derived: none of the derived features applies to this table's columns "
            f"(they need: {', '.join(sorted({i for d in CATALOGUE.values() for i in d.inputs}))})"
        )
    columns = {n: x[:, j] for j, n in enumerate(names)}
    added = [compute(n, columns) for n in extra]
    return [*names, *extra], np.column_stack([x, *added])


__all__ = ["CATALOGUE", "Derived", "add_derived", "applicable", "compute"]
