"""A LightGBM scorer: one model directory (`model.txt` + `card.yaml`) made callable.

`predict(matrix)` takes rows whose columns are `feature_names` (the card's order) and
returns calibrated probabilities in [0, 1]: high scores mean fraud. A missing value is
NaN and follows the tree's learned default branch (LightGBM's native missing-value
handling); it never raises. `reasons(row)` names the features that pushed one row's
score up most, from LightGBM's per-feature contributions (`pred_contrib`).

In the stream the engine hands `fire()` its batch matrix in the trigger kind's catalogue
order; the scorer picks its own columns (mapped once, at load), skips rows below its
prefilter, and returns the rows at or above its threshold.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from fraud_warning.features import CATALOGUE
from fraud_warning.models.card import (
    CARD,
    MODEL,
    TABLE,
    CardError,
    ModelCard,
    read_card,
    sha256_of,
    write_card,
)
from fraud_warning.models.modeltext import ModelTextError, safe_model_text
from fraud_warning.risk import Verdict

Array = npt.NDArray[np.float64]
TOP_REASONS = 3


class ModelError(ValueError):
    """A model that is refused; the message names the model's directory and why."""


@dataclass(frozen=True)
class Fired:
    """One batch through one scorer: rows (batch indexes) at or above the threshold."""

    evaluated: int  # rows that passed the prefilter and were scored
    rows: npt.NDArray[np.intp]
    scores: Array
    values: Array  # the fired rows, in the model's feature order (for reasons)


def describe(value: float) -> str:
    """A feature value as a person reads it: 1,820 / 0.35 / missing."""
    if math.isnan(value):
        return "missing"
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,.2f}" if abs(value) < 1000 else f"{value:,.0f}"


class Scorer:
    """A loaded LightGBM model and its card. Stateless after load: safe to share."""

    kind = "lightgbm"

    def __init__(self, card: ModelCard, booster: Any, directory: Path) -> None:
        self.card = card
        self.directory = directory
        self._booster = booster
        self.key = card.key
        self.feature_names: tuple[str, ...] = tuple(card.features)
        names = self.feature_names
        self._prefilter = tuple((names.index(f), v) for f, v in sorted(card.prefilter.items()))
        # the engine's matrix columns this model reads, in the model's order
        self.columns: npt.NDArray[np.intp] | None = None
        if card.trigger != TABLE:
            catalogue = CATALOGUE[card.trigger]
            self.columns = np.array([catalogue.index(f) for f in names], dtype=np.intp)

    def __repr__(self) -> str:
        return f"<Scorer {self.key} {self.card.status} on {self.card.trigger}>"

    def event_gate(self, feature: str | None) -> float:
        """This model's lower bound on an event-level feature (rows below are not built)."""
        return self.card.prefilter.get(feature, float("-inf")) if feature else float("-inf")

    @property
    def pages(self) -> bool:
        """Only stable models reach the desk; shadow and experimental ones are counted."""
        return self.card.status == "stable"

    # -- scoring ------------------------------------------------------------------------

    def _matrix(self, matrix: npt.ArrayLike) -> Array:
        m = np.asarray(matrix, dtype=np.float64)
        if m.ndim != 2 or m.shape[1] != len(self.feature_names):
            raise ValueError(
                f"{self.key}: expected rows of {len(self.feature_names)} features, got {m.shape}"
            )
        return m

    def margin(self, matrix: npt.ArrayLike) -> Array:
        """The raw LightGBM score (log-odds before calibration)."""
        m = self._matrix(matrix)
        if m.shape[0] == 0:
            return np.zeros(0, dtype=np.float64)
        raw = self._booster.predict(m, raw_score=True, num_threads=1)
        return np.asarray(raw, dtype=np.float64)

    def predict(self, matrix: npt.ArrayLike) -> Array:
        """Calibrated probability of fraud per row, in [0, 1]; the input is not modified."""
        return np.clip(self.card.calibration.apply(self.margin(matrix)), 0.0, 1.0)

    def contributions(self, matrix: npt.ArrayLike) -> Array:
        """Per-row, per-feature contributions to the margin; the last column is the bias."""
        m = self._matrix(matrix)
        if m.shape[0] == 0:
            return np.zeros((0, len(self.feature_names) + 1), dtype=np.float64)
        out = self._booster.predict(m, pred_contrib=True, num_threads=1)
        return np.asarray(out, dtype=np.float64)

    def reasons(self, row: Sequence[float] | Array, top: int = TOP_REASONS) -> list[str]:
        """The features that raised this row's score most, as sentences."""
        values = self._matrix(np.asarray(row, dtype=np.float64).reshape(1, -1))
        return self._reasons(values[0], self.contributions(values)[0], top)

    def _reasons(self, values: Array, contrib: Array, top: int) -> list[str]:
        order = np.argsort(-contrib[:-1], kind="mergesort")[:top]
        out = [
            f"{self.feature_names[i]} = {describe(float(values[i]))} raised the score"
            for i in order.tolist()
            if contrib[i] > 0
        ]
        return out or ["no single feature stood out: the combination did"]

    # -- the stream ---------------------------------------------------------------------

    def fire(self, catalogue_matrix: Array) -> Fired:
        """Score an engine batch (columns in the trigger's catalogue order)."""
        if self.columns is None:
            raise ValueError(f"{self.key}: a table model does not run in the stream")
        m = catalogue_matrix[:, self.columns]
        candidates = np.ones(m.shape[0], dtype=bool)
        for index, bound in self._prefilter:
            candidates &= m[:, index] >= bound
        idx = np.flatnonzero(candidates)
        scores = self.predict(m[idx])
        hit = scores >= self.card.threshold
        return Fired(int(idx.size), idx[hit], scores[hit], m[idx[hit]])

    def verdicts(self, fired: Fired) -> list[Verdict]:
        """One Verdict per fired row, with reasons (one batched contribution call)."""
        card = self.card
        contrib = self.contributions(fired.values)
        return [
            Verdict(
                self.key,
                card.version,
                round(float(score), 4),
                card.priority,
                card.typology,
                tuple(self._reasons(fired.values[i], contrib[i], TOP_REASONS)),
            )
            for i, score in enumerate(fired.scores.tolist())
        ]

    # -- files --------------------------------------------------------------------------

    def model_text(self) -> str:
        return str(self._booster.model_to_string(num_iteration=-1))

    def save(self, directory: Path) -> Path:
        """Write `model.txt` and `card.yaml` (the card's checksum is the saved text's)."""
        directory.mkdir(parents=True, exist_ok=True)
        (directory / MODEL).write_text(self.model_text(), encoding="utf-8")
        card = self.card.model_copy(update={"model_sha256": sha256_of(directory / MODEL)})
        write_card(card, directory / CARD)
        return directory

    @classmethod
    def load(cls, directory: Path) -> Scorer:
        """Load one model directory; ModelError says which model and what is wrong."""
        import lightgbm as lgb

        where = str(directory)
        try:
            card = read_card(directory / CARD)
        except CardError as exc:  # "card.yaml:LINE: field: what", the directory said once
            detail = str(exc).replace(str(directory / CARD), CARD, 1)
            raise ModelError(f"{where}: refused: {detail}") from None
        name = f"{where} ({card.key})"
        path = directory / MODEL
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ModelError(f"{name}: refused: cannot read {MODEL}: {exc}") from None
        if sha256_of(path) != card.model_sha256:
            raise ModelError(
                f"{name}: refused: {MODEL} does not match the card's model_sha256 "
                "(corrupt, or replaced without retraining the card)"
            )
        try:
            checked = safe_model_text(text)
        except ModelTextError as exc:
            raise ModelError(f"{name}: refused: {MODEL}: {exc}") from None
        try:
            booster = lgb.Booster(model_str=checked)
        except Exception as exc:  # LightGBM raises its own error class on a parse failure
            raise ModelError(f"{name}: refused: {MODEL} does not load: {exc}") from None
        names = list(booster.feature_name())
        if names != card.features:
            raise ModelError(
                f"{name}: refused: {MODEL} reads features {names}, the card lists {card.features}"
            )
        if booster.num_trees() != card.training.trees:
            raise ModelError(
                f"{name}: refused: {MODEL} has {booster.num_trees()} trees, "
                f"the card says {card.training.trees}"
            )
        return cls(card, booster, directory)


__all__ = ["Fired", "ModelError", "Scorer", "describe"]
