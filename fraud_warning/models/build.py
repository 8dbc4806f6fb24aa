"""From labelled rows to a model directory: train, calibrate, pick the threshold, write the card.

`from_feed` replays a generated feed (see `replay.py` for what labels a row) and splits
it in time; `from_table` reads a CSV and uses nested stratified K-fold. Both write
`model.txt` and `card.yaml` into `out` and return the loaded scorer, read back from disk
so what is reported is what was shipped.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from fraud_warning.models.card import CARD, MODEL, TABLE, ModelCard, now, write_card
from fraud_warning.models.scorer import Scorer
from fraud_warning.models.train import Outcome, Settings, train_in_time, train_nested_cv


@dataclass(frozen=True)
class Identity:
    """What the card says about the model that training does not decide."""

    id: str
    version: int = 1
    title: str = ""
    description: str = ""
    owner: str = "models"
    status: str = "experimental"  # a new model never pages until someone promotes it
    typology: str = "suspected_fraud"
    priority: str = "P2"
    command: str = ""


def _prefilter_mask(
    x: npt.NDArray[np.float64], names: list[str], prefilter: dict[str, float]
) -> npt.NDArray[np.bool_]:
    mask = np.ones(x.shape[0], dtype=bool)
    for feature, bound in prefilter.items():
        if feature not in names:
            raise ValueError(f"prefilter: unknown feature '{feature}' (expected one of: {names})")
        mask &= x[:, names.index(feature)] >= bound
    return mask


def _validation(outcome: Outcome) -> dict[str, Any]:
    r = outcome.report
    return {
        "method": outcome.method,
        "rows": r["rows"],
        "positives": r["positives"],
        **{k: _metric(r[k]) for k in ("auc", "average_precision", "precision", "recall", "f1")},
        "folds": [
            {k: (_metric(v) if isinstance(v, float) else v) for k, v in f.items()}
            for f in outcome.folds
        ],
    }


def _metric(value: float) -> float | None:
    return None if value != value else round(float(value), 4)  # NaN: one class only


def write_model(
    out: Path,
    who: Identity,
    trigger: str,
    names: list[str],
    prefilter: dict[str, float],
    outcome: Outcome,
    training: dict[str, Any],
    settings: Settings,
) -> Scorer:
    trained = outcome.trained
    card = ModelCard.model_validate(
        {
            "id": who.id,
            "version": who.version,
            "kind": "lightgbm",
            "title": who.title or f"LightGBM scorer on {trigger} ({who.id})",
            "description": who.description,
            "owner": who.owner,
            "status": who.status,
            "trigger": trigger,
            "typology": who.typology,
            "priority": who.priority,
            "features": names,
            "prefilter": prefilter,
            # rounded down: a row the report counted as flagged stays flagged
            "threshold": math.floor(trained.threshold * 1e6) / 1e6,
            "threshold_rule": settings.threshold_rule(),
            "calibration": trained.calibration.to_card(),
            "training": {
                **training,
                "split": outcome.split,
                "trees": trained.trees,
                "params": settings.params(),
                "seed": settings.seed,
            },
            "validation": _validation(outcome),
            "command": who.command,
            "created": now().replace(microsecond=0),
            "model_sha256": hashlib.sha256(trained.model_text.encode("utf-8")).hexdigest(),
        }
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / MODEL).write_text(trained.model_text, encoding="utf-8")
    write_card(card, out / CARD)
    return Scorer.load(out)


def from_feed(
    feed: Path,
    trigger: str,
    rules: Path | None,
    prefilter: dict[str, float],
    who: Identity,
    settings: Settings,
    out: Path,
) -> tuple[Scorer, Outcome]:
    from fraud_warning.models.replay import LABEL_TEXT, replay_feed

    rows = replay_feed(feed, trigger, rules)
    keep = _prefilter_mask(rows.x, rows.names, prefilter)
    x, y, ts = rows.x[keep], rows.y[keep], rows.ts[keep]
    outcome = train_in_time(x, y, ts, rows.names, settings)
    training = {
        "source": "feed",
        "data": str(feed),
        "label": LABEL_TEXT[trigger],
        "rows": int(y.size),
        "positives": int(y.sum()),
        "feed_meta": {
            k: rows.meta[k]
            for k in ("subscribers", "hours", "seed", "fraud_rate", "generator_version")
            if k in rows.meta
        },
    }
    scorer = write_model(out, who, trigger, rows.names, prefilter, outcome, training, settings)
    return scorer, outcome


def from_table(
    path: Path,
    label: str,
    who: Identity,
    settings: Settings,
    out: Path,
    folds: int = 5,
    trigger: str = TABLE,
    *,
    derived: bool = False,
    tune: bool = False,
) -> tuple[Scorer, Outcome]:
    """`trigger` stays `table` unless the CSV's columns are the engine's own features.

    `derived`: add the per-row ratio features of `derived.py`; `tune`: settings, tree
    count, calibration and threshold from inner folds (`tune.py`). Both off by default."""
    from fraud_warning.models.tables import read_table

    table = read_table(path, label)
    names, x = table.names, table.x
    if derived:
        from fraud_warning.models.derived import add_derived

        names, x = add_derived(names, x)
    if tune:
        from fraud_warning.models.tune import train_nested_cv_tuned

        outcome, settings = train_nested_cv_tuned(x, table.y, names, settings, folds)
    else:
        outcome = train_nested_cv(x, table.y, names, settings, folds)
    training = {
        "source": "csv",
        "data": str(path),
        "label": f"column '{label}' = 1",
        "rows": int(table.y.size),
        "positives": int(table.y.sum()),
    }
    scorer = write_model(out, who, trigger, names, {}, outcome, training, settings)
    return scorer, outcome


__all__ = ["Identity", "from_feed", "from_table", "write_model"]
