"""LightGBM scorers as members of the model registry.

One directory per model: `model.txt` (LightGBM text format) and `card.yaml` (what it is,
what it reads, how it was trained and how well it did). Modules, one per step:

- `card.py`: the card schema (closed, like rules) and its safe reader;
- `replay.py` / `tables.py`: labelled rows from a generated feed or a CSV table;
- `train.py`: time-ordered or nested-CV training; `calibrate.py`: Platt / isotonic;
  `metrics.py`: AUC, average precision, precision/recall/F1, threshold choice;
- `build.py`: rows to a model directory; `scorer.py`: a loaded model (predict, reasons,
  and `fire` for the engine); `load.py`: a models directory, bad models refused;
- `assess.py`: scoring on held-out data; `cli.py` + `commands.py`: `fraud-warning models`.

Importing this package does not import LightGBM; loading a model does.
"""

from fraud_warning.models.card import CardError, ModelCard
from fraud_warning.models.scorer import ModelError, Scorer

__all__ = ["CardError", "ModelCard", "ModelError", "Scorer"]
