"""The model card: what a scorer is, what it reads, how it was made and how well it did.

`card.yaml` sits beside `model.txt` (LightGBM's text format) in one directory per model.
The card is data read through the same safe YAML reader as rules and a closed pydantic
schema (`extra="forbid"`): a misspelt key is an error naming `file:line`, never ignored.

`trigger` is the engine's trigger kind the scorer runs on (a key of
`fraud_warning.features.CATALOGUE`), and then every feature must be one the engine
computes for it; or `table` for a model over a plain feature table (such as the Sichuan
per-subscriber aggregates) that `models evaluate --csv` can run but the stream never
loads, because the engine does not compute those features.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from fraud_warning.features import CATALOGUE
from fraud_warning.models.calibrate import Calibration
from fraud_warning.yamlsafe import YamlError, load_model

Status = Literal["experimental", "shadow", "stable", "deprecated"]
TABLE = "table"  # the trigger of a model that reads a plain table, not the stream
CARD = "card.yaml"
MODEL = "model.txt"

Unit = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
Metric = Annotated[float | None, Field(ge=0.0, le=1.0)]  # None: undefined (one class only)


class CardError(ValueError):
    """A card or model file that cannot be used; the message names the file."""


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Training(_Closed):
    """Where the rows came from and how they were split; enough to rebuild the model."""

    source: Literal["feed", "csv"]
    data: str  # the feed directory or CSV file as given on the command line
    label: str  # what made a row positive, in words
    rows: Annotated[int, Field(ge=0)]
    positives: Annotated[int, Field(ge=0)]
    split: str  # in words: which rows trained, calibrated, chose the threshold, were reported
    trees: Annotated[int, Field(ge=1)]
    params: dict[str, float | int | str | bool]
    seed: int
    feed_meta: dict[str, Any] = Field(default_factory=dict)  # the feed's meta.json, if any


class Validation(_Closed):
    """Figures on rows that took no part in training, calibration or threshold choice."""

    method: str
    rows: Annotated[int, Field(ge=0)]
    positives: Annotated[int, Field(ge=0)]
    auc: Metric
    average_precision: Metric
    precision: Metric
    recall: Metric
    f1: Metric
    folds: list[dict[str, float | int | None]] = Field(default_factory=list)


class ModelCard(_Closed):
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{1,79}$")]
    version: Annotated[int, Field(ge=1)]
    kind: Literal["lightgbm"]
    title: Annotated[str, Field(min_length=3, max_length=200)]
    description: str = ""
    owner: Annotated[str, Field(min_length=1)]
    status: Status
    trigger: str
    typology: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")]
    priority: Literal["P1", "P2", "P3"]
    features: Annotated[list[str], Field(min_length=1)]
    # lower bounds ({feature: value}): rows below any are not scored (cheap checks first)
    prefilter: dict[str, Annotated[float, Field(allow_inf_nan=False)]] = Field(default_factory=dict)
    threshold: Unit  # on the calibrated score: at or above it the model fires
    threshold_rule: str  # how the threshold was chosen, in words
    # after it fired on a subscriber, its further hits inside this window are absorbed
    # into the open incident without re-paging (as a rule's `realert_s`); 0: each counts
    realert_s: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0
    calibration: Calibration
    training: Training
    validation: Validation
    command: str  # the command that produced this model
    created: AwareDatetime
    model_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]

    @property
    def key(self) -> str:
        return f"{self.id}@{self.version}"

    @model_validator(mode="after")
    def _consistent(self) -> ModelCard:
        if len(set(self.features)) != len(self.features):
            raise ValueError("features: a feature is listed twice")
        if self.trigger != TABLE:
            if self.trigger not in CATALOGUE:
                kinds = ", ".join([*CATALOGUE, TABLE])
                raise ValueError(f"trigger: unknown '{self.trigger}' (expected one of: {kinds})")
            known = CATALOGUE[self.trigger]
            unknown = [f for f in self.features if f not in known]
            if unknown:
                raise ValueError(
                    f"features: the engine does not compute {', '.join(unknown)} "
                    f"for trigger '{self.trigger}'"
                )
        missing = [f for f in self.prefilter if f not in self.features]
        if missing:
            raise ValueError(f"prefilter: not among the model's features: {', '.join(missing)}")
        return self


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_card(path: Path) -> ModelCard:
    """Parse and validate `card.yaml`; CardError names `file:line` and the field."""
    try:
        return load_model(path, ModelCard, "card")
    except YamlError as exc:
        raise CardError(str(exc)) from None


def write_card(card: ModelCard, path: Path) -> None:
    data = card.model_dump(mode="json")
    data["calibration"] = card.calibration.to_card()
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    path.write_text(text, encoding="utf-8")


def now() -> datetime:
    return datetime.now().astimezone()


__all__ = [
    "CARD",
    "MODEL",
    "TABLE",
    "CardError",
    "ModelCard",
    "Status",
    "Training",
    "Validation",
    "read_card",
    "sha256_of",
    "write_card",
]
