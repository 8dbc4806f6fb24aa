"""Handlers of `fraud-warning models ...` (parsers in `cli.py`)."""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
from pathlib import Path
from typing import Any

from fraud_warning.cli import CheckFailed, UsageError
from fraud_warning.models.card import TABLE
from fraud_warning.models.scorer import ModelError, Scorer
from fraud_warning.settings import default_dir

FIGURES = ("auc", "average_precision", "precision", "recall", "f1")


def _data(args: argparse.Namespace) -> tuple[Path | None, Path | None]:
    if bool(args.feed) == bool(args.csv):
        raise UsageError("give one of --feed DIR or --csv FILE")
    if args.csv and not args.label:
        raise UsageError("--csv needs --label COLUMN (the 0/1 label column)")
    if args.feed and not Path(args.feed).is_dir():
        raise UsageError(f"feed directory not found: {args.feed}")
    if args.csv and not Path(args.csv).is_file():
        raise UsageError(f"CSV file not found: {args.csv}")
    return (Path(args.feed) if args.feed else None), (Path(args.csv) if args.csv else None)


def _rules(args: argparse.Namespace) -> Path:
    return Path(args.rules) if args.rules else default_dir("rules")


def _prefilter(items: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            bound = float(value)
        except ValueError:
            bound = math.nan
        if not sep or not name or not math.isfinite(bound):
            raise UsageError(f"--prefilter wants FEATURE=NUMBER, got {item!r}")
        out[name.strip()] = bound
    return out


def _command(args: argparse.Namespace, trigger: str) -> str:
    """The command that rebuilds this model, as it goes on the card."""
    parts = ["fraud-warning", "models", "train"]
    if args.feed:
        parts += ["--feed", args.feed, "--trigger", trigger]
        parts += ["--rules", args.rules] if args.rules else []
    else:
        parts += ["--csv", args.csv, "--label", args.label]
        parts += ["--trigger", trigger] if trigger != TABLE else []
    parts += ["--id", args.id, "--out", args.out]
    optional = (
        ("--version", args.version, 1),
        ("--title", args.title, ""),
        ("--description", args.description, ""),
        ("--owner", args.owner, "models"),
        ("--status", args.status, "experimental"),
        ("--typology", args.typology, "suspected_fraud"),
        ("--priority", args.priority, "P2"),
        ("--min-precision", args.min_precision, None),
        ("--calibration", args.calibration, "platt"),
        ("--folds", args.folds, 5),
        ("--seed", args.seed, 7),
        ("--trees", args.trees, 200),
        ("--leaves", args.leaves, 15),
        ("--learning-rate", args.learning_rate, 0.05),
    )
    for flag, value, default in optional:
        if value != default:
            parts += [flag, str(value)]
    if getattr(args, "features", "raw") != "raw":
        parts += ["--features", args.features]
    if getattr(args, "tune", False):
        parts += ["--tune"]
    for item in args.prefilter:
        parts += ["--prefilter", item]
    return shlex.join(parts)


def train(args: argparse.Namespace) -> int:
    from fraud_warning.models.build import Identity, from_feed, from_table
    from fraud_warning.models.train import Settings

    feed, csv = _data(args)
    trigger = args.trigger or ("transfer" if feed else TABLE)
    if not 1 <= args.trees <= 1000 or args.leaves < 2 or args.folds < 2:
        raise UsageError("--trees 1..1000, --leaves >= 2 and --folds >= 2")
    if args.min_precision is not None and not 0 < args.min_precision <= 1:
        raise UsageError("--min-precision must be in (0, 1]")
    settings = Settings(
        seed=args.seed,
        max_trees=args.trees,
        num_leaves=args.leaves,
        learning_rate=args.learning_rate,
        calibration=args.calibration,
        min_precision=args.min_precision,
    )
    who = Identity(
        id=args.id,
        version=args.version,
        title=args.title,
        description=args.description,
        owner=args.owner,
        status=args.status,
        typology=args.typology,
        priority=args.priority,
        command=_command(args, trigger),
    )
    out = Path(args.out)
    try:
        if feed is not None:
            if args.tune or args.features != "raw":
                raise UsageError("--tune and --features apply to --csv training only")
            prefilter = _prefilter(args.prefilter)
            scorer, outcome = from_feed(feed, trigger, _rules(args), prefilter, who, settings, out)
        else:
            if args.prefilter:
                raise UsageError("--prefilter applies to --feed training only")
            assert csv is not None
            scorer, outcome = from_table(
                csv,
                args.label,
                who,
                settings,
                out,
                args.folds,
                trigger,
                derived=args.features == "derived",
                tune=args.tune,
            )
    except (ValueError, ModelError) as exc:  # bad data, labels, card fields (pydantic too)
        raise UsageError(f"cannot train {args.id}: {_first_line(exc)}") from None
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc}") from None
    if not args.quiet:
        v = scorer.card.validation
        print(
            f"{scorer.key}: {v.method}: {_figures(v.model_dump())}; "
            f"{scorer.card.training.trees} trees, threshold {scorer.card.threshold:.4f} -> {out}"
        )
        for fold in outcome.folds:
            print(f"  fold {fold['fold']}: {_figures(fold)}")
    return 0


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _figures(f: dict[str, Any]) -> str:
    def num(key: str) -> str:
        value = f.get(key)
        return "-" if value is None or value != value else f"{value:.3f}"

    return (
        f"{f.get('rows', 0):,} rows ({f.get('positives', 0):,} positive), AUC {num('auc')}, "
        f"AP {num('average_precision')}, precision {num('precision')}, recall {num('recall')}, "
        f"F1 {num('f1')}"
    )


def _load(directory: str) -> Scorer:
    path = Path(directory)
    if not path.is_dir():
        raise UsageError(f"model directory not found: {path}")
    try:
        return Scorer.load(path)
    except ModelError as exc:
        raise UsageError(str(exc)) from None


def _score(scorers: list[Scorer], args: argparse.Namespace) -> list[Any]:
    from fraud_warning.models.assess import on_feed, on_table

    feed, csv = _data(args)
    try:
        if feed is not None:
            return on_feed(scorers, feed, _rules(args))
        assert csv is not None
        return on_table(scorers, csv, args.label)
    except ValueError as exc:
        raise UsageError(_first_line(exc)) from None


def evaluate(args: argparse.Namespace) -> int:
    scorer = _load(args.dir)
    (scored,) = _score([scorer], args)
    try:
        figures = scored.figures()
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    data = Path(args.feed or args.csv).resolve()
    figures["seen_in_training"] = data == Path(scorer.card.training.data).resolve()
    if figures["seen_in_training"]:
        print(
            f"fraud-warning: note: {data} is {scorer.key}'s training data: these figures are "
            "in-sample; the card's validation figures are the honest ones",
            file=sys.stderr,
        )
    if args.json:
        print(json.dumps(_json_safe(figures), sort_keys=True))
        return 0
    print(f"{scorer.key} ({scorer.card.status}, threshold {scorer.card.threshold:.4f})")
    print(f"  {_figures(figures)}")
    share = figures["precision"] if figures["flagged"] else 0.0
    print(f"  flagged {figures['flagged']:,} row(s) at the threshold, {share:.1%} of them true")
    if figures["below_prefilter"]:
        print(
            f"  {figures['below_prefilter']:,} row(s) below the prefilter, never scored "
            f"({figures['positives_below_prefilter']:,} positive)"
        )
    return 0


def _json_safe(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and v != v else v) for k, v in obj.items()}


def _models_dir(value: str | None) -> Path:
    path = Path(value) if value else default_dir("models")
    if not path.is_dir():
        raise UsageError(f"models directory not found: {path}")
    return path


def list_models(args: argparse.Namespace) -> int:
    from fraud_warning.models.load import load_models

    directory = _models_dir(args.dir)
    loaded = load_models(directory)
    for s in sorted(loaded.every, key=lambda s: s.key):
        c, v = s.card, s.card.validation
        auc = "-" if v.auc is None else f"{v.auc:.3f}"
        p = "-" if v.precision is None else f"{v.precision:.2f}"
        r = "-" if v.recall is None else f"{v.recall:.2f}"
        print(
            f"{s.key:<28} {s.kind:<9} {c.status:<12} {c.priority} on {c.trigger:<9} "
            f"threshold {c.threshold:.4f}  AUC {auc} precision {p} recall {r}  {c.title}"
        )
    for problem in loaded.problems:
        print(problem, file=sys.stderr)
    if loaded.problems:
        raise CheckFailed(f"{len(loaded.problems)} model(s) refused in {directory}")
    if not loaded.every:
        print(f"no models in {directory}", file=sys.stderr)
    return 0


def compare(args: argparse.Namespace) -> int:
    """Every model given (or every live model in --models) on the same rows, grouped by
    trigger: the stable one is the champion, shadow/experimental ones the challengers."""
    from fraud_warning.models.assess import agreement
    from fraud_warning.models.load import load_models

    if args.dirs:
        scorers = [_load(d) for d in args.dirs]
    else:
        loaded = load_models(_models_dir(args.models))
        for problem in loaded.problems:
            print(f"fraud-warning: warning: {problem}", file=sys.stderr)
        scorers = [s for s in loaded.every if s.card.status != "deprecated"]
    if args.feed:
        scorers = [s for s in scorers if s.card.trigger != TABLE]
    if not scorers:
        raise UsageError("no models to compare on this data")
    scored = _score(scorers, args)
    groups: dict[str, list[Any]] = {}
    for item in scored:
        groups.setdefault(item.scorer.card.trigger, []).append(item)
    report: dict[str, Any] = {}
    rank = {"stable": 0, "shadow": 1, "experimental": 2, "deprecated": 3}
    for trigger, items in sorted(groups.items()):
        items.sort(key=lambda i: (rank[i.scorer.card.status], i.scorer.key))
        champion = items[0]
        report[trigger] = {
            "champion": champion.scorer.key,
            "models": {i.scorer.key: _json_safe(i.figures()) for i in items},
            "agreement": {i.scorer.key: agreement(champion, i) for i in items[1:]},
        }
    if args.json:
        print(json.dumps(report, sort_keys=True))
        return 0
    for trigger, group in report.items():
        print(f"on {trigger}: champion {group['champion']}")
        for key, f in group["models"].items():
            print(f"  {key:<28} {f['status']:<12} flagged {f['flagged']:>6,}  {_figures(f)}")
        for key, a in group["agreement"].items():
            print(
                f"  vs {key}: both {a['both']} ({a['both_true']} true), champion only "
                f"{a['only_first']} ({a['only_first_true']} true), {key} only "
                f"{a['only_second']} ({a['only_second_true']} true)"
            )
    return 0


__all__ = ["compare", "evaluate", "list_models", "train"]
