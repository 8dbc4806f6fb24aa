"""Scoring models on labelled data they never saw: a feed (replayed) or a plain table.

In the stream a model only scores rows that pass its prefilter; rows below it are never
flagged. The figures here are over the candidates (the rows the model would score), and
say how many labelled positives the prefilter let through unscored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from fraud_warning.models.metrics import summary
from fraud_warning.models.scorer import Scorer


@dataclass(frozen=True)
class Scored:
    scorer: Scorer
    y: npt.NDArray[np.int8]  # every row's label
    candidates: npt.NDArray[np.bool_]  # rows that pass the prefilter
    scores: npt.NDArray[np.float64]  # every row's score; 0 below the prefilter

    @property
    def fired(self) -> npt.NDArray[np.bool_]:
        return self.candidates & (self.scores >= self.scorer.card.threshold)

    def figures(self) -> dict[str, Any]:
        """`auc`, `average_precision`, `precision`, `recall`, `f1` and counts (candidates)."""
        c = self.candidates
        if not c.any():
            raise ValueError(f"{self.scorer.key}: no row passes the model's prefilter")
        out: dict[str, Any] = {"model": self.scorer.key, "status": self.scorer.card.status}
        out.update(summary(self.y[c], self.scores[c], self.scorer.card.threshold))
        out["below_prefilter"] = int((~c).sum())
        out["positives_below_prefilter"] = int(self.y[~c].sum())
        return out


def _score(scorer: Scorer, x: npt.NDArray[np.float64], y: npt.NDArray[np.int8]) -> Scored:
    """`x` in the model's feature order."""
    candidates = np.ones(x.shape[0], dtype=bool)
    for feature, bound in scorer.card.prefilter.items():
        candidates &= x[:, scorer.feature_names.index(feature)] >= bound
    scores = np.zeros(x.shape[0], dtype=np.float64)
    scores[candidates] = scorer.predict(x[candidates])
    return Scored(scorer, y, candidates, scores)


def on_table(scorers: list[Scorer], path: Path, label: str) -> list[Scored]:
    """Each model on the same CSV rows (the columns named by its card)."""
    from fraud_warning.models.tables import read_table

    out = []
    for scorer in scorers:
        table = read_table(path, label, list(scorer.feature_names))
        out.append(_score(scorer, table.x, table.y))
    return out


def on_feed(scorers: list[Scorer], feed: Path, rules: Path | None) -> list[Scored]:
    """Each model on the same replayed feed; the feed is replayed once per trigger kind."""
    from fraud_warning.models.replay import replay_feed

    kinds = sorted({s.card.trigger for s in scorers})
    rows = {kind: replay_feed(feed, kind, rules) for kind in kinds}
    out = []
    for scorer in scorers:
        if scorer.columns is None:
            raise ValueError(f"{scorer.key}: a table model cannot be scored on a feed")
        r = rows[scorer.card.trigger]
        out.append(_score(scorer, r.x[:, scorer.columns], r.y))
    return out


def agreement(a: Scored, b: Scored) -> dict[str, int]:
    """How two models on the same rows split their alerts (and the true ones among them)."""
    fa, fb, y = a.fired, b.fired, a.y.astype(bool)
    return {
        "both": int((fa & fb).sum()),
        "only_first": int((fa & ~fb).sum()),
        "only_second": int((~fa & fb).sum()),
        "both_true": int((fa & fb & y).sum()),
        "only_first_true": int((fa & ~fb & y).sum()),
        "only_second_true": int((~fa & fb & y).sum()),
    }


__all__ = ["Scored", "agreement", "on_feed", "on_table"]
