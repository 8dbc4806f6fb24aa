"""`fraud-warning models ...`: parsers only; handlers live in `commands.py`, imported when run."""

from __future__ import annotations

import argparse
from typing import Any

from fraud_warning.settings import env

HANDLERS = "fraud_warning.models.commands"


def _data_flags(p: argparse.ArgumentParser, rules: bool = True) -> None:
    g = p.add_argument_group("data (one of)")
    g.add_argument("--feed", help="a generated feed directory (events.jsonl + labels.jsonl)")
    g.add_argument("--csv", help="a CSV feature table with a header")
    g.add_argument("--label", help="the CSV's 0/1 label column")
    if rules:
        g.add_argument(
            "--rules",
            default=env("rules"),
            help="rules replayed with the feed (they flag fraud numbers) [FW_RULES; ./rules]",
        )


def register(sub: Any) -> None:
    models = sub.add_parser("models", help="LightGBM scorers: train, evaluate, list, compare")
    actions = models.add_subparsers(dest="models_command", metavar="ACTION", required=True)

    p = actions.add_parser("train", help="train a scorer and write model.txt + card.yaml")
    _data_flags(p)
    p.add_argument("--trigger", help="trigger kind the rows come from [transfer; table for --csv]")
    p.add_argument("--id", required=True, help="model id (lower-case, digits, -)")
    p.add_argument("--out", required=True, help="output directory (e.g. models/NAME)")
    p.add_argument("--version", type=int, default=1)
    p.add_argument("--title", default="")
    p.add_argument("--description", default="")
    p.add_argument("--owner", default="models")
    p.add_argument(
        "--status",
        default="experimental",
        choices=["experimental", "shadow", "stable", "deprecated"],
        help="only stable models page the desk [experimental]",
    )
    p.add_argument("--typology", default="suspected_fraud")
    p.add_argument("--priority", default="P2", choices=["P1", "P2", "P3"])
    p.add_argument(
        "--prefilter",
        action="append",
        default=[],
        metavar="FEATURE=MIN",
        help="score only rows with FEATURE >= MIN (repeatable; cheap checks first)",
    )
    p.add_argument(
        "--min-precision",
        type=float,
        help="threshold: the most recall at this validation precision [best F1]",
    )
    p.add_argument("--calibration", default="platt", choices=["platt", "isotonic"])
    p.add_argument("--folds", type=int, default=5, help="outer folds for --csv [5]")
    p.add_argument(
        "--features",
        default="raw",
        choices=["raw", "derived"],
        help="--csv: the table's columns, or those plus per-row ratios of them [raw]",
    )
    p.add_argument(
        "--tune",
        action="store_true",
        help="--csv: settings, trees, calibration and threshold from inner 4-fold CV",
    )
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--trees", type=int, default=200, help="at most this many trees [200]")
    p.add_argument("--leaves", type=int, default=15, help="leaves per tree [15]")
    p.add_argument("--learning-rate", type=float, default=0.05)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(handler=f"{HANDLERS}:train")

    p = actions.add_parser("evaluate", help="AUC, AP and precision/recall/F1 at the threshold")
    p.add_argument("dir", help="a model directory")
    _data_flags(p)
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(handler=f"{HANDLERS}:evaluate")

    p = actions.add_parser("list", help="the models in a directory, with their card figures")
    p.add_argument("dir", nargs="?", default=env("models"), help="[FW_MODELS; ./models]")
    p.set_defaults(handler=f"{HANDLERS}:list_models")

    p = actions.add_parser("compare", help="champion and challengers on the same traffic")
    p.add_argument("dirs", nargs="*", help="model directories [every model in --models]")
    p.add_argument("--models", default=env("models"), help="[FW_MODELS; ./models]")
    _data_flags(p)
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(handler=f"{HANDLERS}:compare")


__all__ = ["register"]
