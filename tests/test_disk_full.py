"""A full disk under the embedded runner: dead letters wait or drop, alerts never drop.

The sink is tested through a fake file that fails with ENOSPC while a flag is set; the
runner and the command line through Linux's /dev/full, where every write fails so.
"""

from __future__ import annotations

import errno
import json
import logging
from pathlib import Path

import pytest

from fraud_warning.cli import main
from fraud_warning.embedded import RunIncomplete, run_file
from fraud_warning.engine import Engine
from fraud_warning.feed.generate import generate_feed
from fraud_warning.refdata import load_refdata
from fraud_warning.registry import load_registry
from fraud_warning.sinks import JsonlSink, UnwrittenOutput

ROOT = Path(__file__).resolve().parent.parent
DEV_FULL = Path("/dev/full")
needs_dev_full = pytest.mark.skipif(not DEV_FULL.exists(), reason="no /dev/full here")


class FlakyFile:
    """A file whose writes fail with `error` while `full`; `budget` bytes are accepted
    first (a write that straddles it is partial, the next one fails)."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.full = False
        self.budget: int | None = None
        self.error = errno.ENOSPC
        self.calls = 0
        self.closed = False

    def write(self, data: memoryview, /) -> int:
        self.calls += 1
        n = len(data)
        if self.full:
            if not self.budget:
                raise OSError(self.error, "No space left on device")
            n = min(n, self.budget)
            self.budget -= n
        self.data += data[:n]
        return n

    def close(self) -> None:
        self.closed = True


def records(start: int, n: int) -> list[dict[str, object]]:
    return [{"n": i, "pad": "x" * (i % 7)} for i in range(start, start + n)]


def lines(data: bytes | bytearray) -> list[int]:
    return [json.loads(line)["n"] for line in bytes(data).splitlines()]


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


# -- the sink ------------------------------------------------------------------------------


def test_sink_holds_records_while_the_disk_is_full_then_writes_all_in_order(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FlakyFile()
    sink = JsonlSink(Path("dead.jsonl"), raw=fake)
    sink.write(records(0, 3))
    fake.full = True
    sink.write(records(3, 4))
    sink.write(records(7, 5))
    assert (sink.count, sink.written, sink.pending) == (12, 3, 9)
    assert sink.write_failures == 2  # one per attempt, not per record
    assert lines(fake.data) == [0, 1, 2]
    assert len(warnings(caplog)) == 1  # one per streak
    assert "dead.jsonl" in warnings(caplog)[0] and "No space left" in warnings(caplog)[0]

    fake.full = False  # the fault clears: the next write retries first, in order
    sink.write(records(12, 2))
    assert lines(fake.data) == list(range(14))
    assert (sink.written, sink.pending, sink.dropped) == (14, 0, 0)
    assert sink.describe() == ""

    fake.full = True  # a second streak: a second warning
    sink.write(records(14, 1))
    assert len(warnings(caplog)) == 2
    fake.full = False
    sink.close()
    assert lines(fake.data) == list(range(15)) and fake.closed


def test_a_partial_write_resumes_mid_record() -> None:
    fake = FlakyFile()
    sink = JsonlSink(Path("alerts.jsonl"), raw=fake)
    fake.full, fake.budget = True, 25  # cuts the second record
    sink.write(records(0, 4))
    assert 0 < len(fake.data) < len(b"".join(json.dumps(r).encode() for r in records(0, 4)))
    assert sink.written == 1 and sink.pending == 3
    sink.write(records(4, 2))  # still full: nothing more, nothing lost
    fake.full, fake.budget = False, None
    assert sink.flush()
    assert lines(fake.data) == list(range(6))  # no half line, no repeat


def test_dead_letter_buffer_drops_the_oldest_beyond_its_bound() -> None:
    fake = FlakyFile()
    sink = JsonlSink(Path("dead.jsonl"), raw=fake, max_pending=5, drop_oldest=True)
    fake.full = True
    sink.write(records(0, 3))
    sink.write(records(3, 5))
    assert (sink.pending, sink.dropped) == (5, 3)
    assert sink.describe("dead letter(s)") == (
        "8 dead letter(s) not written to dead.jsonl (No space left on device), "
        "3 of them dropped when 5 were waiting"
    )
    fake.full = False
    sink.write([])  # an empty batch still retries
    assert lines(fake.data) == [3, 4, 5, 6, 7]  # the newest five, in order


def test_dropping_never_cuts_a_partly_written_record() -> None:
    fake = FlakyFile()
    sink = JsonlSink(Path("dead.jsonl"), raw=fake, max_pending=2, drop_oldest=True)
    fake.full, fake.budget = True, 5  # the first record is half written
    sink.write(records(0, 4))
    assert (sink.pending, sink.dropped) == (2, 2)
    fake.full, fake.budget = False, None
    assert sink.flush()
    assert lines(fake.data) == [0, 3]


def test_alert_buffer_full_raises_instead_of_dropping() -> None:
    fake = FlakyFile()
    sink = JsonlSink(Path("alerts.jsonl"), raw=fake, max_pending=4)
    fake.full = True
    sink.write(records(0, 4))
    with pytest.raises(UnwrittenOutput, match=r"5 not written to alerts\.jsonl") as caught:
        sink.write(records(4, 1))
    assert isinstance(caught.value, OSError) and caught.value.errno == errno.ENOSPC
    assert sink.dropped == 0 and sink.pending == 5


def test_closing_with_alerts_unwritten_raises_unless_already_failing() -> None:
    fake = FlakyFile()
    fake.full = True
    unwritten = pytest.raises(UnwrittenOutput, match=r"2 record\(s\) not written to alerts\.jsonl")
    with unwritten, JsonlSink(Path("alerts.jsonl"), raw=fake) as sink:
        sink.write(records(0, 2))
    assert fake.closed
    # an exception already on its way is not masked by the sink's own
    flaky = FlakyFile()
    with pytest.raises(KeyError), JsonlSink(Path("alerts.jsonl"), raw=flaky) as sink:
        flaky.full = True
        sink.write(records(0, 2))
        raise KeyError("boom")


def test_other_write_errors_are_raised_as_before() -> None:
    fake = FlakyFile()
    fake.full, fake.error = True, errno.EBADF
    sink = JsonlSink(Path("alerts.jsonl"), raw=fake)
    with pytest.raises(OSError) as caught:
        sink.write(records(0, 1))
    assert caught.value.errno == errno.EBADF and not isinstance(caught.value, UnwrittenOutput)


# -- the runner and the command line -------------------------------------------------------

BAD_LINES = [
    b"{not json",
    b'{"event_id": "bad-1", "type": "fax", "ts": "2026-03-02T01:00:00+08:00"}',
    b'{"event_id": "bad-2", "type": "call", "ts": "yesterday"}',
]


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated city (alerts and P1 dispatch tasks) with bad lines spread through it."""
    out = tmp_path_factory.mktemp("city")
    generate_feed(out, subscribers=600, hours=8, seed=5, fraud_rate=40)
    good = (out / "events.jsonl").read_bytes().splitlines()
    mixed: list[bytes] = []
    for i, line in enumerate(good):
        mixed.append(line)
        if i % 300 == 150:
            mixed.append(BAD_LINES[i % len(BAD_LINES)])
    (out / "mixed.jsonl").write_bytes(b"\n".join(mixed) + b"\n")
    return out


def score(city: Path, out: Path, dead: Path, tasks: Path) -> int:
    refs = ["--cells", str(city / "cells.csv"), "--units", str(city / "units.csv")]
    refs += ["--subscribers", str(city / "subscribers.csv")]
    outputs = ["--out", str(out), "--dead-letter", str(dead), "--dispatch-out", str(tasks)]
    return main(["score", str(city / "mixed.jsonl"), *outputs, "--batch", "500", *refs])


@pytest.fixture(scope="module")
def normal(city: Path) -> tuple[bytes, bytes, int]:
    """Alerts, tasks and the dead-letter count of a run on a writable disk."""
    out, tasks, dead = city / "a.jsonl", city / "t.jsonl", city / "d.jsonl"
    assert score(city, out, dead, tasks) == 0
    dead_letters = len(dead.read_bytes().splitlines())
    assert out.read_bytes() and tasks.read_bytes() and dead_letters >= 10
    return out.read_bytes(), tasks.read_bytes(), dead_letters


@needs_dev_full
def test_score_with_the_dead_letter_file_on_a_full_disk_writes_every_alert(
    city: Path,
    normal: tuple[bytes, bytes, int],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out, tasks = tmp_path / "a.jsonl", tmp_path / "t.jsonl"
    assert score(city, out, DEV_FULL, tasks) == 0  # alerts complete: the run succeeds
    assert (out.read_bytes(), tasks.read_bytes()) == normal[:2]
    said = warnings(caplog)
    assert len(said) == 2, said  # the streak, then the end-of-run report
    assert said[-1] == (
        f"{normal[2]} dead letter(s) not written to /dev/full (No space left on device); "
        "the alerts and dispatch tasks are complete"
    )
    assert f"{normal[2]} dead letter(s) (/dev/full)" in capsys.readouterr().err


@needs_dev_full
@pytest.mark.parametrize("which", ["alerts", "tasks"])
def test_score_with_alerts_or_tasks_on_a_full_disk_fails_naming_them(
    which: str,
    city: Path,
    normal: tuple[bytes, bytes, int],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out, tasks, dead = tmp_path / "a.jsonl", tmp_path / "t.jsonl", tmp_path / "d.jsonl"
    if which == "alerts":
        out = DEV_FULL
    else:
        tasks = DEV_FULL
    assert score(city, out, dead, tasks) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    n = len(normal[0 if which == "alerts" else 1].splitlines())
    what = "alert(s)" if which == "alerts" else "dispatch task(s)"
    assert err == (
        f"fraud-warning: cannot write output: {n} {what} not written to /dev/full "
        "(No space left on device); every event was processed"
    )
    # what could be written was: every event went through
    assert len(dead.read_bytes().splitlines()) == normal[2]
    if which == "alerts":
        assert tasks.read_bytes() == normal[1]
    else:
        assert out.read_bytes() == normal[0]


def _engine(city: Path) -> Engine:
    from fraud_warning.dispatch import Dispatcher

    refdata = load_refdata(city / "cells.csv", city / "units.csv", city / "subscribers.csv")
    registry = load_registry(ROOT / "rules", ROOT / "models")
    return Engine(registry, refdata, dispatcher=Dispatcher(refdata.units))


def test_run_file_keeps_going_when_dead_letters_overflow_and_alerts_recover(
    city: Path, normal: tuple[bytes, bytes, int]
) -> None:
    """The dead-letter disk is full throughout (its buffer overflows); the alerts disk is
    full for the first third of the run, then frees up: nothing of the alerts is lost."""
    alerts_file, tasks_file, dead_file = FlakyFile(), FlakyFile(), FlakyFile()
    alerts_file.full = dead_file.full = True
    batches = 0

    def clear_later(_out: object) -> None:
        nonlocal batches
        batches += 1
        if batches == 3:
            alerts_file.full = False

    with (
        JsonlSink(Path("a.jsonl"), raw=alerts_file) as alerts,
        JsonlSink(Path("t.jsonl"), raw=tasks_file) as tasks,
        JsonlSink(Path("dead.jsonl"), raw=dead_file, max_pending=7) as dead,
    ):
        stats = run_file(
            city / "mixed.jsonl",
            _engine(city),
            alerts=alerts,
            tasks=tasks,
            dead_letters=dead,
            batch_size=500,
            on_output=clear_later,
        )
    assert batches >= 6
    assert bytes(alerts_file.data) == normal[0] and bytes(tasks_file.data) == normal[1]
    assert stats.unwritten == {"dead_letters": normal[2]}
    assert dead.pending == 7 and dead.dropped == normal[2] - 7
    assert stats.write_failures >= batches + 2  # alerts twice, dead letters every batch


def test_run_file_raises_when_alerts_stay_unwritten(city: Path) -> None:
    alerts_file = FlakyFile()
    alerts_file.full = True
    with (
        pytest.raises(RunIncomplete, match=r"alert\(s\) not written to a\.jsonl") as caught,
        JsonlSink(Path("a.jsonl"), raw=alerts_file) as alerts,
        JsonlSink(None) as tasks,
        JsonlSink(None) as dead,
    ):
        run_file(city / "mixed.jsonl", _engine(city), alerts=alerts, tasks=tasks, dead_letters=dead)
    stats = caught.value.stats
    assert stats.unwritten == {"alerts": stats.alerts} and stats.alerts > 0
    assert stats.events > 0 and isinstance(caught.value, OSError)
