"""The embedded runner: one process, no broker, events from a JSONL file in order.

Reads the file in batches of lines, decodes each batch, hands it to the engine and
writes what comes out. Event time throughout, so the output is deterministic.

A disk that fails (full, over quota, I/O errors) never stops the events: the sinks hold
what they cannot write and retry (see :mod:`fraud_warning.sinks`). Dead letters are
diagnostics, so beyond their sink's buffer the oldest are dropped and the run goes on;
alerts and dispatch tasks are never dropped. At the end, anything still unwritten is in
`RunStats.unwritten`; if it includes alerts or tasks :func:`run_file` raises
:class:`RunIncomplete` (an OSError naming each incomplete file), if only dead letters it
logs one warning and returns.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fraud_warning.decode import Decoder
from fraud_warning.engine import Engine, Output
from fraud_warning.sinks import JsonlSink, UnwrittenOutput

DEFAULT_BATCH = 2000

log = logging.getLogger("fraud_warning.embedded")


@dataclass
class RunStats:
    events: int = 0
    dead_letters: int = 0
    alerts: int = 0
    tasks: int = 0
    shadow_hits: int = 0
    seconds: float = 0.0
    incidents: dict[str, str] = field(default_factory=dict)  # alert_id -> top priority
    # output -> records not written ("alerts", "tasks", "dead_letters"), dropped included
    unwritten: dict[str, int] = field(default_factory=dict)
    write_failures: int = 0  # failed write attempts, all sinks
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


class RunIncomplete(UnwrittenOutput):
    """Every event was processed but alerts or dispatch tasks could not all be written."""

    def __init__(self, message: str, stats: RunStats) -> None:
        super().__init__(message)
        self.stats = stats


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
    shadow: JsonlSink | None = None,
    batch_size: int = DEFAULT_BATCH,
    progress: Callable[[int], None] | None = None,
    on_output: Callable[[Output], None] | None = None,
) -> RunStats:
    """Process a whole events file; `progress` gets bytes read so far. `shadow` gets the
    shadow log (what non-paging models fired on), written like the dead letters: a
    failure to write it is reported but never stops the run.

    Sets `dead_letters.drop_oldest`: a dead-letter file that cannot be written never
    stops the run. Raises :class:`RunIncomplete` at the end if alerts or tasks are
    still unwritten (the module's docstring says why and when)."""
    stats = RunStats()
    dead_letters.drop_oldest = True
    if shadow is not None:
        shadow.drop_oldest = True
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
        if shadow is not None:
            shadow.write(out.shadow)
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
    _finish(
        stats,
        {
            "alerts": (alerts, "alert(s)"),
            "tasks": (tasks, "dispatch task(s)"),
            "dead_letters": (dead_letters, "dead letter(s)"),
            **({"shadow": (shadow, "shadow record(s)")} if shadow is not None else {}),
        },
    )
    return stats


def _finish(stats: RunStats, sinks: dict[str, tuple[JsonlSink, str]]) -> None:
    """A last try at what is waiting, then the report of what is still unwritten."""
    problems: list[str] = []
    for name, (sink, what) in sinks.items():
        sink.flush()
        stats.write_failures += sink.write_failures
        lost = sink.pending + sink.dropped
        if lost:
            stats.unwritten[name] = lost
            problems.append(sink.describe(what))
            sink.reported = True  # reported here: closing the sink stays quiet
    if not problems:
        return
    if "alerts" in stats.unwritten or "tasks" in stats.unwritten:
        raise RunIncomplete("; ".join(problems) + "; every event was processed", stats)
    log.warning("%s; the alerts and dispatch tasks are complete", "; ".join(problems))


__all__ = ["DEFAULT_BATCH", "RunIncomplete", "RunStats", "read_batches", "run_file"]
