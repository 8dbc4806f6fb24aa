"""Plain feature tables (CSV with a header): numbers in, a 0/1 label column beside them.

Columns that hold text (ids such as Sichuan's hashed `phone_no_m`) are not features and
are set aside, by name, in what `read_table` returns. An empty cell is a missing value
(NaN), which LightGBM handles natively. When a card names a derived feature
(`derived.py`, a per-row ratio of other columns) that the CSV lacks, it is computed from
those columns, as it was in training.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,100}$")  # LightGBM refuses JSON punctuation in names


class TableError(ValueError):
    """A table that cannot be used; the message names `file:line`."""


@dataclass(frozen=True)
class Table:
    names: list[str]
    x: npt.NDArray[np.float64]
    y: npt.NDArray[np.int8]
    skipped: list[str]  # text columns left out


def _number(text: str) -> float | None:
    text = text.strip()
    if text == "":
        return math.nan
    try:
        return float(text)
    except ValueError:
        return None


def _add_derived(parsed: dict[str, list[float]], features: list[str]) -> None:
    """A card's derived features (`derived.py`) the CSV lacks, computed from its columns."""
    from fraud_warning.models.derived import applicable, compute

    for name in applicable(list(parsed)):
        if name in features:
            parsed[name] = compute(name, parsed).tolist()


def read_table(path: Path, label: str, features: list[str] | None = None) -> Table:
    """Rows of `path` as a float matrix; `features` fixes the columns and their order
    (a model's card), otherwise every numeric column but the label is taken."""
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError) as exc:
        raise TableError(f"{path}:1: cannot read: {exc}") from None
    if not rows:
        raise TableError(f"{path}:1: empty file")
    header = [h.strip() for h in rows[0]]
    if label not in header:
        raise TableError(f"{path}:1: no label column '{label}' (columns: {', '.join(header)})")
    body = [r for r in rows[1:] if any(c.strip() for c in r)]
    if not body:
        raise TableError(f"{path}:2: no data rows")
    parsed: dict[str, list[float]] = {}
    text_columns: list[str] = []
    for j, name in enumerate(header):
        column: list[float] = []
        for i, row in enumerate(body, start=2):
            if len(row) != len(header):
                raise TableError(f"{path}:{i}: {len(row)} cells, the header has {len(header)}")
            value = _number(row[j])
            if value is None:
                if name == label or (features is not None and name in features):
                    raise TableError(f"{path}:{i}: {name}: not a number: {row[j]!r}")
                text_columns.append(name)
                break
            column.append(value)
        else:
            parsed[name] = column
    labels = np.asarray(parsed[label], dtype=np.float64)
    bad = np.flatnonzero(~np.isin(labels, (0.0, 1.0)))
    if bad.size:
        raise TableError(f"{path}:{int(bad[0]) + 2}: {label}: must be 0 or 1")
    if features is None:
        names = [n for n in header if n in parsed and n != label]
        for n in names:
            if not _NAME.match(n):
                raise TableError(f"{path}:1: column name {n!r}: use letters, digits, _ . -")
    else:
        _add_derived(parsed, features)
        missing = [f for f in features if f not in parsed]
        if missing:
            raise TableError(f"{path}:1: missing the model's feature(s): {', '.join(missing)}")
        names = list(features)
    if not names:
        raise TableError(f"{path}:1: no numeric feature columns besides '{label}'")
    x = np.column_stack([np.asarray(parsed[n], dtype=np.float64) for n in names])
    return Table(names, x, labels.astype(np.int8), text_columns)


__all__ = ["Table", "TableError", "read_table"]
