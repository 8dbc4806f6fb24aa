"""The embedded runner: one process, no broker, events from a JSONL file in order.

Reads the file in batches of lines, decodes each batch, hands it to the engine and
writes what comes out. Event time throughout, so the output is deterministic.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fraud_warning.decode import Decoder
from fraud_warning.engine import Engine, Output
from fraud_warning.sinks import JsonlSink

DEFAULT_BATCH = 2000


@dataclass
class RunStats:
    events: int = 0
    dead_letters: int = 0
    alerts: int = 0
    tasks: int = 0
    shadow_hits: int = 0
    seconds: float = 0.0
    incidents: dict[str, str] = field(default_factory=dict)  # alert_id -> top priority
    _batch_s: list[float] = field(default_factory=list)
    _batch_n: list[int] = field(default_factory=list)

    @property
    def by_priority(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for priority in self.incidents.values():
            counts[priority] = counts.get(priority, 0) + 1
        return dict(sorted(counts.items()))

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    def latency_quantiles(self) -> tuple[float, float]:
        """p50 and p99 processing latency (s): each event waits for its whole batch."""
        if not self._batch_s:
            return (0.0, 0.0)
        seconds = np.repeat(np.asarray(self._batch_s), np.asarray(self._batch_n))
        return float(np.quantile(seconds, 0.5)), float(np.quantile(seconds, 0.99))


def read_batches(path: Path, batch_size: int) -> Iterator[list[tuple[int, bytes]]]:
    """(line number, line) batches; the line number is the dead letter's offset."""
    batch: list[tuple[int, bytes]] = []
    with path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            batch.append((number, line))
            if len(batch) >= batch_size:
                yield batch
                batch = []
    if batch:
        yield batch


def run_file(
    path: Path,
    engine: Engine,
    *,
    alerts: JsonlSink,
    tasks: JsonlSink,
    dead_letters: JsonlSink,
    batch_size: int = DEFAULT_BATCH,
    progress: Callable[[int], None] | None = None,
    on_output: Callable[[Output], None] | None = None,
) -> RunStats:
    """Process a whole events file; `progress` gets bytes read so far."""
    stats = RunStats()
    decoder = Decoder(str(path))
    started = time.perf_counter()
    done_bytes = 0
    for batch in read_batches(path, batch_size):
        t0 = time.perf_counter()
        good, bad = decoder.decode_lines(batch)
        out = engine.process(good, str(path))
        late = len(out.dead)
        for dl in bad:
            engine.metrics.dead.labels(dl.reason).inc()
        out.dead[:0] = bad
        alerts.write(out.alerts)
        tasks.write(out.tasks)
        dead_letters.write(d.to_dict() for d in sorted(out.dead, key=lambda d: d.offset))
        elapsed = time.perf_counter() - t0
        engine.metrics.processing.observe(elapsed)
        stats._batch_s.append(elapsed)
        stats._batch_n.append(len(batch))
        stats.events += len(good) - late
        stats.dead_letters += len(out.dead)
        stats.alerts += len(out.alerts)
        stats.tasks += len(out.tasks)
        stats.shadow_hits += out.shadow_hits
        for alert in out.alerts:
            # an incident counts once, at the most urgent priority it reached
            held = stats.incidents.get(alert["alert_id"])
            if held is None or alert["priority"] < held:
                stats.incidents[alert["alert_id"]] = alert["priority"]
        if on_output is not None:
            on_output(out)
        if progress is not None:
            done_bytes += sum(len(line) for _, line in batch)
            progress(done_bytes)
    stats.seconds = time.perf_counter() - started
    return stats


__all__ = ["DEFAULT_BATCH", "RunStats", "read_batches", "run_file"]
