"""Model cost: LightGBM scoring per candidate, batched against one row at a time.

The candidates are real: a generated city runs through the embedded engine with the
shipped rules and models (loaded by `load_registry`, as `score` loads them), in batches
of 2,000 events as `score` reads them, and every trigger matrix the engine hands a scorer
(`Scorer.fire`) is recorded. A candidate is a row that passes the scorer's prefilter: a
row LightGBM actually scores.

Measured in the same run, on the same candidates, for each stream model:
- batched: `Scorer.fire` (the stream's path: catalogue columns picked, prefilter,
  `booster.predict(raw_score=True, num_threads=1)`, calibration, threshold) on batches of
  1, 16, 256 and 4,096 candidates, and on the engine's matrices as recorded;
- baseline: one row at a time, `Scorer.predict` on a 1-row array per candidate (the same
  `booster.predict` call and calibration), the rows prepared in the model's column order
  outside the timer (the most favourable form of the baseline);
- reasons, for the rows that fired (the only rows explained): `Scorer.verdicts` per
  recorded batch (one `pred_contrib` call per batch, as the stream does), `pred_contrib`
  on all of them in one call, and `pred_contrib` one row at a time;
and the scores (and contributions) of every batched form are checked equal to the
one-row ones, to 1e-12. Figures are microseconds per candidate (per explained row for
the reasons), medians over `--repeat` runs; each run loops until it has taken at least
`--min-seconds`, so short measurements are not timer noise.

    python -m bench model-cost [--subscribers N] [--hours H] [--repeat R] [--pool N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.throughput import ROOT, WORK, feed
from fraud_warning.decode import Decoder
from fraud_warning.embedded import read_batches
from fraud_warning.engine import Engine, Output
from fraud_warning.features import CATALOGUE
from fraud_warning.models.scorer import Fired, Scorer
from fraud_warning.refdata import load_refdata
from fraud_warning.registry import Registry, load_registry

Array = npt.NDArray[np.float64]
BATCHES = (1, 16, 256, 4096)
ENGINE_BATCH = 2000  # events per engine batch: `score --batch`'s default
TOLERANCE = 1e-12


@dataclass(frozen=True)
class Recorded:
    """What one stream scorer was handed over a feed: the engine's trigger matrices."""

    scorer: Scorer
    # one matrix per engine batch with rows: the trigger's catalogue columns first (any
    # rule-defined window features after them), as `Models.evaluate` builds it
    batches: list[Array]

    def candidates(self) -> Array:
        """Every row that passes the prefilter, in stream order (catalogue columns)."""
        width = len(CATALOGUE[self.scorer.card.trigger])
        kept = [m[candidate_mask(self.scorer, m)] for m in self.batches]
        return np.concatenate(kept) if kept else np.zeros((0, width))


class _Recorder(Engine):
    """The engine as shipped, keeping a copy of each matrix its scorers are handed."""

    recorded: dict[str, list[Array]]

    def _evaluate(self, kind: str, rows: list[Any], values: list[list[float]], out: Output) -> Any:
        if self.registry.scorers.get(kind):  # the same conversion as Models.evaluate
            self.recorded.setdefault(kind, []).append(np.asarray(values, dtype=np.float64))
        return super()._evaluate(kind, rows, values, out)


def candidate_mask(scorer: Scorer, matrix: Array) -> npt.NDArray[np.bool_]:
    """Rows of a catalogue-order matrix at or above every prefilter bound of `scorer`."""
    names = CATALOGUE[scorer.card.trigger]
    keep = np.ones(matrix.shape[0], dtype=bool)
    for feature, bound in scorer.card.prefilter.items():
        keep &= matrix[:, names.index(feature)] >= bound
    return keep


def collect(city: Path, registry: Registry) -> tuple[dict[str, Recorded], int]:
    """Run the city's events through the engine; each stream scorer's matrices, and events."""
    refdata = load_refdata(city / "cells.csv", None, city / "subscribers.csv")
    engine = _Recorder(registry, refdata)
    engine.recorded = {}
    decoder = Decoder()
    events = 0
    for batch in read_batches(city / "events.jsonl", ENGINE_BATCH):
        good, _ = decoder.decode_lines(batch)
        engine.process(good)
        events += len(good)
    out: dict[str, Recorded] = {}
    for kind, scorers in registry.scorers.items():
        for scorer in scorers:
            out[scorer.key] = Recorded(scorer, engine.recorded.get(kind, []))
    return out, events


def spread(rows: Array, most: int) -> Array:
    """At most `most` rows, evenly spaced over the whole feed (stream order kept)."""
    if rows.shape[0] <= most:
        return rows
    return rows[np.linspace(0, rows.shape[0] - 1, most).round().astype(np.intp)]


# -- measuring ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """Microseconds per row (candidate, or explained row): the median and every repeat."""

    us: float
    runs: list[float]
    rows: int

    def figures(self) -> dict[str, Any]:
        return {"us_per_row": self.us, "repeats_us": self.runs, "rows": self.rows}


def measure(fn: Callable[[], object], rows: int, repeat: int, min_seconds: float) -> Timing:
    """`fn` covers `rows` rows; each repeat calls it until `min_seconds` have passed."""
    fn()  # warm: first-call costs (LightGBM's predictor set-up, numpy caches) are not timed
    runs = []
    for _ in range(repeat):
        calls = 0
        started = time.perf_counter()
        while True:
            fn()
            calls += 1
            elapsed = time.perf_counter() - started
            if elapsed >= min_seconds:
                break
        runs.append(elapsed / (calls * max(rows, 1)) * 1e6)
    return Timing(statistics.median(runs), runs, rows)


def batched(
    scorer: Scorer, candidates: Array, batch: int, repeat: int, min_seconds: float = 0.0
) -> tuple[Timing, Fired]:
    """`Scorer.fire` over `candidates` (catalogue order) in batches of `batch` rows; the
    fired rows (indexes into `candidates`) and their scores."""
    chunks = [candidates[i : i + batch] for i in range(0, candidates.shape[0], batch)]
    fired: list[Fired] = []

    def run() -> None:
        fired[:] = [scorer.fire(chunk) for chunk in chunks]

    timing = measure(run, candidates.shape[0], repeat, min_seconds)
    if not fired:
        width = len(scorer.feature_names)
        return timing, Fired(0, np.zeros(0, dtype=np.intp), np.zeros(0), np.zeros((0, width)))
    offsets = range(0, candidates.shape[0], batch)
    return timing, Fired(
        sum(f.evaluated for f in fired),
        np.concatenate([f.rows + offset for f, offset in zip(fired, offsets, strict=True)]),
        np.concatenate([f.scores for f in fired]),
        np.concatenate([f.values for f in fired]),
    )


def batched_scores(scorer: Scorer, candidates: Array, batch: int) -> Array:
    """Every candidate's score through `Scorer.predict` in batches (untimed: the check)."""
    m = model_rows(scorer, candidates)
    parts = [scorer.predict(m[i : i + batch]) for i in range(0, m.shape[0], batch)]
    return np.concatenate(parts) if parts else np.zeros(0)


def stream(
    scorer: Scorer, matrices: Sequence[Array], repeat: int, min_seconds: float = 0.0
) -> Timing:
    """`Scorer.fire` on the engine's matrices as recorded: per candidate scored."""
    evaluated = sum(scorer.fire(m).evaluated for m in matrices)

    def run() -> None:
        for m in matrices:
            scorer.fire(m)

    return measure(run, evaluated, repeat, min_seconds)


def model_rows(scorer: Scorer, candidates: Array) -> Array:
    """Catalogue-order rows in the model's own column order."""
    if scorer.columns is None:
        raise ValueError(f"{scorer.key}: a table model does not run in the stream")
    return np.ascontiguousarray(candidates[:, scorer.columns])


def one_row(
    scorer: Scorer, candidates: Array, repeat: int, min_seconds: float = 0.0
) -> tuple[Timing, Array]:
    """The baseline: `Scorer.predict` on a 1-row array per candidate; every score."""
    rows = [r.reshape(1, -1) for r in model_rows(scorer, candidates)]
    scores = np.zeros(len(rows))

    def run() -> None:
        for i, row in enumerate(rows):
            scores[i] = scorer.predict(row)[0]

    return measure(run, len(rows), repeat, min_seconds), scores


def fired_batches(scorer: Scorer, matrices: Sequence[Array]) -> list[Fired]:
    """The engine batches on which `scorer` fired, as `fire` returns them."""
    return [f for f in (scorer.fire(m) for m in matrices) if f.rows.size]


def reasons_stream(
    scorer: Scorer, fired: Sequence[Fired], repeat: int, min_seconds: float = 0.0
) -> Timing:
    """`Scorer.verdicts` per fired batch (one pred_contrib call each): per explained row."""

    def run() -> None:
        for f in fired:
            scorer.verdicts(f)

    return measure(run, sum(f.rows.size for f in fired), repeat, min_seconds)


def contributions_batched(
    scorer: Scorer, values: Array, repeat: int, min_seconds: float = 0.0
) -> tuple[Timing, Array]:
    """`pred_contrib` on all explained rows (model order) in one call."""
    out: list[Array] = []

    def run() -> None:
        out[:] = [scorer.contributions(values)]

    timing = measure(run, values.shape[0], repeat, min_seconds)
    return timing, out[0]


def contributions_one_row(
    scorer: Scorer, values: Array, repeat: int, min_seconds: float = 0.0
) -> tuple[Timing, Array]:
    """`pred_contrib` one explained row at a time."""
    rows = [r.reshape(1, -1) for r in values]
    out = np.zeros((len(rows), values.shape[1] + 1))

    def run() -> None:
        for i, row in enumerate(rows):
            out[i] = scorer.contributions(row)[0]

    return measure(run, len(rows), repeat, min_seconds), out


def max_diff(a: Array, b: Array) -> float:
    if a.shape != b.shape:
        raise AssertionError(f"shapes differ: {a.shape} against {b.shape}")
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def cost(
    recorded: Recorded,
    *,
    pool: int,
    batches: Sequence[int] = BATCHES,
    repeat: int,
    min_seconds: float = 0.0,
) -> dict[str, Any]:
    """Every figure for one scorer; raises AssertionError if batched and one-row disagree."""
    scorer = recorded.scorer
    every = recorded.candidates()
    candidates = spread(every, pool)
    n = candidates.shape[0]
    base, scores = one_row(scorer, candidates, repeat, min_seconds)
    expected_rows = np.flatnonzero(scores >= scorer.card.threshold)
    result: dict[str, Any] = {
        "trigger": scorer.card.trigger,
        "trees": scorer.card.training.trees,
        "features": len(scorer.feature_names),
        "prefilter": dict(scorer.card.prefilter),
        "engine_batches": len(recorded.batches),
        "trigger_rows": int(sum(m.shape[0] for m in recorded.batches)),
        "candidates": int(every.shape[0]),
        "pool": n,
        "one_row": base.figures(),
        "batched": {},
    }
    diffs = []
    for size in batches:
        timing, fired = batched(scorer, candidates, size, repeat, min_seconds)
        # the timed path: the same rows fire, with the same scores, as one at a time
        if not np.array_equal(fired.rows, expected_rows):
            raise AssertionError(f"{scorer.key}: batch {size} fired other rows than one-row")
        diff = max(
            max_diff(fired.scores, scores[expected_rows]),
            max_diff(batched_scores(scorer, candidates, size), scores),
        )
        if diff > TOLERANCE:
            raise AssertionError(f"{scorer.key}: batch {size} scores differ by {diff:g}")
        diffs.append(diff)
        result["batched"][str(size)] = {
            **timing.figures(),
            "ratio": base.us / timing.us,  # how many times cheaper per candidate
        }
    evaluated = int(sum(scorer.fire(m).evaluated for m in recorded.batches))
    live = stream(scorer, recorded.batches, repeat, min_seconds)
    result["stream"] = {
        **live.figures(),
        "mean_candidates_per_batch": evaluated / max(len(recorded.batches), 1),
        "ratio": base.us / live.us if live.us else None,
    }
    result["max_abs_diff"] = max(diffs, default=0.0)
    result["reasons"] = reasons(scorer, recorded.batches, repeat, min_seconds)
    return result


def reasons(
    scorer: Scorer, matrices: Sequence[Array], repeat: int, min_seconds: float = 0.0
) -> dict[str, Any] | None:
    """Cost of the contributions for the rows that fired (None if none did)."""
    fired = fired_batches(scorer, matrices)
    if not fired:
        return None
    values = np.concatenate([f.values for f in fired])
    verdicts = reasons_stream(scorer, fired, repeat, min_seconds)
    together, contrib = contributions_batched(scorer, values, repeat, min_seconds)
    alone, contrib_one = contributions_one_row(scorer, values, repeat, min_seconds)
    diff = max_diff(contrib, contrib_one)
    if diff > TOLERANCE:
        raise AssertionError(f"{scorer.key}: contributions differ by {diff:g}")
    return {
        "explained_rows": int(values.shape[0]),
        "fired_batches": len(fired),
        "verdicts_per_batch": verdicts.figures(),
        "contrib_one_call": together.figures(),
        "contrib_one_row": alone.figures(),
        "max_abs_diff": diff,
    }


# -- the command -------------------------------------------------------------------------


def _print(key: str, fig: dict[str, Any]) -> None:
    base = fig["one_row"]["us_per_row"]
    print(
        f"{key} ({fig['trees']} trees, {fig['features']} features, prefilter "
        f"{fig['prefilter'] or 'none'}): {fig['candidates']:,} candidates in "
        f"{fig['engine_batches']} engine batches, {fig['pool']:,} measured"
    )
    print(
        f"  {'batch (candidates)':<24}{'batched µs':>12}{'one-row µs':>12}{'one-row/batched':>17}"
    )
    for size, row in fig["batched"].items():
        print(f"  {size:<24}{row['us_per_row']:>12.2f}{base:>12.2f}{row['ratio']:>16.1f}x")
    live = fig["stream"]
    name = f"engine's ({live['mean_candidates_per_batch']:,.0f} avg)"
    print(f"  {name:<24}{live['us_per_row']:>12.2f}{base:>12.2f}{live['ratio']:>16.1f}x")
    print(f"  scores batched == one row: max |diff| {fig['max_abs_diff']:.1e}")
    r = fig["reasons"]
    if r is None:
        print("  reasons: no row fired, nothing explained")
        return
    print(
        f"  reasons for {r['explained_rows']} fired rows ({r['fired_batches']} engine "
        f"batches): verdicts {r['verdicts_per_batch']['us_per_row']:.1f} µs/row; "
        f"pred_contrib in one call {r['contrib_one_call']['us_per_row']:.1f} µs/row, "
        f"one row at a time {r['contrib_one_row']['us_per_row']:.1f} µs/row"
    )


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench model-cost")
    p.add_argument("--subscribers", type=int, default=10_000)
    p.add_argument("--hours", type=float, default=24.0)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--pool", type=int, default=8192, help="candidates measured per model")
    p.add_argument("--min-seconds", type=float, default=0.05, help="least time per repeat")
    args = p.parse_args(argv)

    city = feed(args.subscribers, args.hours)
    registry = load_registry(ROOT / "rules", ROOT / "models")
    started = time.perf_counter()
    recorded, events = collect(city, registry)
    setup = time.perf_counter() - started
    print(
        f"feed: {city.name} ({events:,} events through the engine in batches of "
        f"{ENGINE_BATCH:,}, {setup:.1f} s); µs per candidate, median of {args.repeat}"
    )
    models: dict[str, Any] = {}
    for key, rec in recorded.items():
        models[key] = cost(rec, pool=args.pool, repeat=args.repeat, min_seconds=args.min_seconds)
        _print(key, models[key])
    result = {
        "machine": f"{platform.node()} {platform.machine()} python {platform.python_version()}",
        "cpus": os.cpu_count(),
        "lightgbm": version("lightgbm"),
        "feed": str(city),
        "events": events,
        "engine_batch": ENGINE_BATCH,
        "repeat": args.repeat,
        "min_seconds": args.min_seconds,
        "pool": args.pool,
        "tolerance": TOLERANCE,
        "models": models,
    }
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / "model_cost.json"
    path.write_text(json.dumps(result, indent=2))
    print(f"written {path}")
    return 0
