"""Small models trained in a second on synthetic rows, and the shipped model directories."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from fraud_warning.features import CATALOGUE
from fraud_warning.models.build import Identity, write_model
from fraud_warning.models.card import TABLE
from fraud_warning.models.train import Settings, train_in_time

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "models"
SHIPPED_DIRS = sorted(p.parent for p in SHIPPED.glob("*/card.yaml"))

TRANSFER = list(CATALOGUE["transfer"])
AMOUNT = TRANSFER.index("amount_cny")
RISKY = TRANSFER.index("risky_call_s_2h")


def synthetic(n: int, names: list[str], seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Rows where fraud means a large amount after a long risky call (plus noise)."""
    rng = np.random.default_rng(seed)
    x = rng.exponential(1.0, size=(n, len(names)))
    amount = names.index("amount_cny") if "amount_cny" in names else 0
    risky = names.index("risky_call_s_2h") if "risky_call_s_2h" in names else 1
    x[:, amount] = rng.lognormal(7.0, 1.5, n)
    x[:, risky] = rng.exponential(200.0, n)
    signal = (x[:, amount] > 3000) & (x[:, risky] > 400)
    y = (signal | (rng.random(n) < 0.02)).astype(np.int8)
    return x, y


MakeModel = Callable[..., Path]


@pytest.fixture
def make_model(tmp_path: Path) -> MakeModel:
    def make(
        model_id: str = "tiny-scorer",
        *,
        trigger: str = "transfer",
        status: str = "stable",
        names: list[str] | None = None,
        prefilter: dict[str, float] | None = None,
        root: Path | None = None,
        threshold_precision: float | None = None,
    ) -> Path:
        names = names or (list(CATALOGUE[trigger]) if trigger != TABLE else ["a", "b", "c"])
        x, y = synthetic(3000, names)
        settings = Settings(max_trees=30, min_precision=threshold_precision)
        outcome = train_in_time(x, y, np.arange(y.size, dtype=float), names, settings)
        who = Identity(id=model_id, status=status, priority="P1", typology="test_typology")
        training = {"source": "csv", "data": "synthetic", "label": "synthetic", "rows": 3000,
                    "positives": int(y.sum())}  # fmt: skip
        out = (root or tmp_path / "models") / model_id
        write_model(out, who, trigger, names, prefilter or {}, outcome, training, settings)
        return out

    return make
