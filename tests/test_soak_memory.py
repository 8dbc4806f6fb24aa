"""What the soak found growing, pinned in event time: the engine's dispatcher holds the
tasks of open incidents only, however long the run, and still sends one unit per alert.

The dispatcher (`fraud_warning/dispatch.py`) is idempotent per alert id: a task is kept
while its incident is open, and forgotten at the housekeeping after the incident closes
(12 h without evidence). That retention covers every way the same alert id can come back
to it: re-emitted revisions and re-alerts join the open incident (same id), a redelivered
event is a `duplicate` within the allowed lateness (600 s) and `late` beyond it, and a
closed incident's id never recurs (a new incident's id hashes its own opening event).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from fraud_warning.decode import Decoder
from fraud_warning.dispatch import Dispatcher
from fraud_warning.engine import Engine, Output
from fraud_warning.refdata import RefData, Subscriber, Unit
from fraud_warning.registry import Registry, load_registry
from tests.factories import T0, Feed, subscriber

RULES = Path(__file__).resolve().parent.parent / "rules"
DAYS = 21
VICTIMS = 3
DAY_S = 86_400.0


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry(RULES)


def refdata() -> RefData:
    return RefData(
        cells={"C1": (30.66, 104.06)},
        units=(
            Unit("U1", "Jinjiang PS 1", 30.67, 104.07),
            Unit("U2", "Jinjiang PS 2", 30.665, 104.065),
            Unit("U3", "Far", 31.5, 105.0),
        ),
        subscribers={subscriber(5000): Subscriber(subscriber(5000), "65+", 30.6, 104.0)},
    )


class DayFeed(Feed):
    """One day of the simulated run: event ids carry the day, so none repeats."""

    def __init__(self, day: int, part: str = "") -> None:
        super().__init__(T0 + timedelta(days=day))
        self.tag = f"d{day}{part}"

    def _id(self) -> str:
        return f"{self.tag}-{super()._id()}"


def day_of_fraud(day: int) -> DayFeed:
    """A risky-origin number rings 40 subscribers and holds VICTIMS of them long; each
    pays a mule (their incidents go P1: a task each) and pays again 1.5 h later (evidence
    the open incident absorbs); then quiet calls run event time on through the night,
    past the incidents' 12 h TTL."""
    feed = DayFeed(day)
    caller = f"+8526000{day:04d}"
    for i in range(40):
        feed.call(i * 20, caller, subscriber(1000 + i), 5, origin="overseas")
    for j in range(VICTIMS):
        victim = subscriber(5000 + j)
        feed.call(900 + j * 60, caller, victim, 1800, origin="overseas", callee_cell="C1")
        feed.transfer(3000 + j * 60, victim, f"MULE-{day}-{j}", 8000)
        feed.transfer(8400 + j * 60, victim, f"MULE-{day}-{j}-b", 50_000)
    for hour in range(4, 24):
        feed.call(hour * 3600, subscriber(7), subscriber(8), 10)
    return feed


def run(engine: Engine, feed: Feed, batch: int = 8) -> tuple[Output, list[int]]:
    """The feed in small batches (as the soak's micro-batches); the dispatcher's size
    after each batch."""
    good, bad = Decoder().decode_lines(enumerate(feed.lines(), 1))
    assert not bad
    total = Output()
    held = []
    for i in range(0, len(good), batch):
        out = engine.process(good[i : i + batch])
        total.alerts += out.alerts
        total.tasks += out.tasks
        total.dead += out.dead
        held.append(len(engine.alerter.dispatcher or ()))
    return total, held


def test_the_dispatcher_holds_only_open_incidents_tasks_over_three_weeks(
    registry: Registry,
) -> None:
    dispatcher = Dispatcher(refdata().units)
    engine = Engine(registry, refdata(), dispatcher=dispatcher)
    peaks: list[int] = []
    sent: list[str] = []
    for day in range(DAYS):
        out, held = run(engine, day_of_fraud(day))
        p1 = {a["alert_id"] for a in out.alerts if a["priority"] == "P1"}
        assert len(p1) == VICTIMS
        assert sorted(t["alert_id"] for t in out.tasks) == sorted(p1)  # one task each
        sent += [t["alert_id"] for t in out.tasks]
        peaks.append(max(held))
        # by the end of the night the day's incidents closed and their tasks went
        assert held[-1] == 0 and not engine.victims.open
    assert len(sent) == len(set(sent)) == DAYS * VICTIMS  # 63 tasks created in all
    assert peaks == [VICTIMS] * DAYS  # never more than one day's open incidents held


def fraud_only(day: int) -> DayFeed:
    """The day's fraud without the quiet night: event time stops at the last transfer."""
    feed = day_of_fraud(day)
    feed.events = [e for e in feed.events if e.get("caller") != subscriber(7)]
    return feed


def test_within_the_retention_the_same_alert_sends_one_unit(registry: Registry) -> None:
    dispatcher = Dispatcher(refdata().units)
    engine = Engine(registry, refdata(), dispatcher=dispatcher)
    feed = fraud_only(0)
    out, _ = run(engine, feed)
    task = out.tasks[0]
    alert_id, unit = task["alert_id"], task["unit_id"]
    assert unit is not None
    busy = dispatcher.busy_until(unit)
    first = dispatcher.task(alert_id)
    assert first is not None  # its incident is open: the task is remembered
    # the same alert asked again (a re-emitted revision, a replayed alert) gets the first
    # task back, and its unit's busy time is not extended: no second unit is sent
    again = dispatcher.dispatch(
        alert_id=alert_id,
        subscriber=task["subscriber"],
        priority="P1",
        location=first.location,
        now=first.created_at + timedelta(hours=6),
    )
    assert again is first and dispatcher.busy_until(unit) == busy
    # the transfers that raised the incidents delivered again: duplicates within the
    # allowed lateness, late beyond it; the engine never asks the dispatcher again
    replay = Feed(T0)
    replay.events = [e for e in feed.events if e["type"] == "transfer"]
    good, _ = Decoder().decode_lines(enumerate(replay.lines(), 1))
    redelivered = engine.process(good)
    assert not redelivered.tasks and not redelivered.alerts
    assert {d.reason for d in redelivered.dead} == {"duplicate", "late"}
    assert len(redelivered.dead) == len(good) == 2 * VICTIMS
    assert len(dispatcher) == VICTIMS


def test_a_task_is_forgotten_only_after_its_incident_closes(registry: Registry) -> None:
    dispatcher = Dispatcher(refdata().units)
    engine = Engine(registry, refdata(), dispatcher=dispatcher)
    out, _ = run(engine, fraud_only(0))
    ids = {t["alert_id"] for t in out.tasks}
    assert len(ids) == VICTIMS and len(dispatcher) == VICTIMS
    quiet = DayFeed(0, "quiet")
    # 11.5 h after the first transfer: every incident is still open, every task held
    quiet.call(3000 + 11.5 * 3600, subscriber(7), subscriber(8), 10)
    # 12.5 h after the last transfer: every incident closed, no task held
    quiet.call(8520 + 12.5 * 3600, subscriber(7), subscriber(8), 10)
    good, _ = Decoder().decode_lines(enumerate(quiet.lines(), 1))
    engine.process(good[:1])
    assert {a for a in ids if dispatcher.task(a) is not None} == ids
    engine.process(good[1:])
    assert len(dispatcher) == 0 and not engine.victims.open
