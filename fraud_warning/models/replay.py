"""Training rows from a generated feed: replay it through the engine, snapshot, label.

The feed runs through the real `Engine` with the analyst rules loaded, so the features
are exactly what the stream computes at serving time, including the ones that depend on
rules having flagged a fraud number earlier (`flagged_contact_24h`, `caller_flagged`):
a bare `Joiner` would leave those at zero in training and skew the model. Every trigger
of the chosen kind is snapshotted (its gate opened to -inf), then labelled from
`labels.jsonl`:

- `transfer`: positive when the payee account is a labelled mule account (the victim's
  loss itself; the model learns what the context of a loss looks like);
- `call` / `sms`: positive when the contact comes from a fraud number of the ring whose
  labelled victim receives it (a victim inside their episode). A fraud number's call
  to someone who hung up and never became a victim is negative: alerting them is a false
  alert by the desk's measure, which is what the threshold is tuned against;
- `number`: positive when the calling number is a labelled fraud number.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from fraud_warning.decode import Decoder
from fraud_warning.embedded import read_batches
from fraud_warning.engine import Engine, Output, wanted_kinds
from fraud_warning.evaluate import load_jsonl
from fraud_warning.features import CATALOGUE, NUMBER_KINDS
from fraud_warning.join import Joiner
from fraud_warning.refdata import load_refdata
from fraud_warning.registry import load_registry
from fraud_warning.wire import Call, Sms, Transfer

LABEL_TEXT = {
    "transfer": "transfer to a labelled mule account",
    "call": "call from a fraud number of the ring whose labelled victim receives it",
    "sms": "SMS from a fraud number of the ring whose labelled victim receives it",
    "number": "call by a labelled fraud number",
}


class FeedError(ValueError):
    """A feed directory that cannot be replayed; the message names the file."""


@dataclass(frozen=True)
class FeedRows:
    kind: str
    names: list[str]  # CATALOGUE[kind]
    x: npt.NDArray[np.float64]
    y: npt.NDArray[np.int8]
    ts: npt.NDArray[np.float64]  # event time (epoch seconds)
    subscribers: list[str]  # whom an alert on the row would name
    meta: dict[str, Any]


class _Recorder(Engine):
    """The engine with its victim-side model pass replaced by a recorder."""

    kind: str
    captured: list[tuple[Any, list[float]]]

    def _evaluate(self, kind: str, rows: list[Any], values: list[list[float]], out: Output) -> Any:
        if kind == self.kind:
            # scorers read the catalogue; rules' window columns come after it
            width = len(CATALOGUE[kind])
            pairs = zip(rows, values, strict=True)
            self.captured.extend((row, value[:width]) for row, value in pairs)
        return []


class _Truth:
    def __init__(self, labels: Iterator[dict[str, Any]]) -> None:
        self.mules: set[str] = set()
        self.numbers: dict[str, str] = {}  # fraud number -> ring
        self.victims: dict[str, set[str]] = {}  # subscriber -> rings
        for rec in labels:
            kind = rec.get("kind")
            if kind == "mule_account":
                self.mules.add(str(rec["account"]))
            elif kind == "fraud_number":
                self.numbers[str(rec["number"])] = str(rec.get("ring"))
            elif kind in (None, "victim"):
                self.victims.setdefault(str(rec["subscriber"]), set()).add(str(rec.get("ring")))

    def label(self, event: Any) -> int:
        if type(event) is Transfer:
            return int(event.payee_account in self.mules)
        if type(event) is Call:
            who, by = event.callee, event.caller
        elif type(event) is Sms:
            who, by = event.receiver, event.sender
        else:
            return 0
        ring = self.numbers.get(by)
        return int(ring is not None and ring in self.victims.get(who, ()))


def replay_feed(directory: Path, kind: str, rules: Path | None) -> FeedRows:
    """Every trigger of `kind` in the feed at `directory`, with features and labels."""
    if kind not in CATALOGUE:
        raise FeedError(f"unknown trigger '{kind}' (expected one of: {', '.join(CATALOGUE)})")
    events, labels = directory / "events.jsonl", directory / "labels.jsonl"
    for path in (events, labels):
        if not path.is_file():
            raise FeedError(f"{path}: not found (a feed directory from `feed generate`)")
    if kind in NUMBER_KINDS:
        raise FeedError("number-side scorers are not trained from a feed yet")
    meta: dict[str, Any] = {}
    if (directory / "meta.json").is_file():
        loaded = orjson.loads((directory / "meta.json").read_bytes())
        meta = loaded if isinstance(loaded, dict) else {}
    cells, subs = directory / "cells.csv", directory / "subscribers.csv"
    refdata = load_refdata(
        cells if cells.is_file() else None, None, subs if subs.is_file() else None
    )
    registry = load_registry(rules)
    engine = _Recorder(registry, refdata)
    engine.kind, engine.captured = kind, []
    wanted = {**wanted_kinds(registry), kind: float("-inf")}
    engine.joiner = Joiner(engine.store, engine.refdata, wanted, None, registry.windows)
    decoder = Decoder(str(events))
    for batch in read_batches(events, 5000):
        good, _bad = decoder.decode_lines(batch)
        engine.process(good, str(events))
    truth = _Truth(load_jsonl(labels))
    captured = engine.captured
    names = list(CATALOGUE[kind])
    x = np.asarray([v for _, v in captured], dtype=np.float64).reshape(-1, len(names))
    y = np.asarray([truth.label(r.event) for r, _ in captured], dtype=np.int8)
    ts = np.asarray([r.ts for r, _ in captured], dtype=np.float64)
    return FeedRows(kind, names, x, y, ts, [r.subscriber for r, _ in captured], meta)


__all__ = ["LABEL_TEXT", "FeedError", "FeedRows", "replay_feed"]
