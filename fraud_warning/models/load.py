"""The models directory: one sub-directory per model, each with `card.yaml` + `model.txt`.

A model that cannot be used (unreadable card, corrupt model file, features the engine
does not compute) is refused with a one-line reason naming it; the others still load.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fraud_warning.models.card import CARD, TABLE
from fraud_warning.models.scorer import ModelError, Scorer


@dataclass(frozen=True)
class Loaded:
    scorers: tuple[Scorer, ...] = ()
    problems: tuple[str, ...] = ()
    tables: tuple[Scorer, ...] = field(default=())  # table models: listed, never streamed

    @property
    def every(self) -> tuple[Scorer, ...]:
        return self.scorers + self.tables


def model_dirs(directory: Path) -> list[Path]:
    return sorted(card.parent for card in directory.glob(f"*/{CARD}"))


def load_models(directory: Path, taken: frozenset[str] = frozenset()) -> Loaded:
    """Every model under `directory`; `taken` are ids already used (rules), refused too.

    Deprecated models are loaded and listed but not streamed (like deprecated rules).
    """
    scorers: list[Scorer] = []
    tables: list[Scorer] = []
    problems: list[str] = []
    seen: dict[str, Path] = {}
    for path in model_dirs(directory):
        try:
            scorer = Scorer.load(path)
        except ModelError as exc:
            problems.append(str(exc))
            continue
        model_id = scorer.card.id
        if scorer.card.trigger == "number":
            # number-side rules run per call inside the join; no batch matrix to score yet
            problems.append(f"{path} ({scorer.key}): refused: number-side scorers do not run yet")
            continue
        if model_id in taken or model_id in seen:
            other = seen.get(model_id, "a rule")
            problems.append(
                f"{path} ({scorer.key}): refused: id '{model_id}' is already taken by {other}"
            )
            continue
        seen[model_id] = path
        (tables if scorer.card.trigger == TABLE else scorers).append(scorer)
    return Loaded(tuple(scorers), tuple(problems), tuple(tables))


__all__ = ["Loaded", "load_models", "model_dirs"]
