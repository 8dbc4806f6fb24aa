"""The desk's dispatch idempotency lives in Redis, not in the process: the task key
`T-<alert id>` (written SET NX) is the memory of what was dispatched, so a restarted
worker, a second worker or a replay long after the task finished sends no second unit.
The desk process itself keeps no per-task map that could grow over a long run."""

from __future__ import annotations

from typing import Any

from .conftest import FakeClock, make_alert, unit

NEAR, MID = unit("U-NEAR", 500), unit("U-MID", 1_000)


def test_two_desks_on_one_redis_send_one_unit(make_desk: Any) -> None:
    first, second = make_desk((NEAR, MID)), make_desk()  # a second worker, or a restart
    first.ingest(make_alert("A-1", priority="P1"))
    second.ingest(make_alert("A-1", priority="P1"))
    second.ingest(make_alert("A-1", revision=2, priority="P1", score=0.95))
    assert [t["task_id"] for t in second.dispatch.tasks()] == ["T-A-1"]
    assert second.dispatch.fleet.busy() == {"U-NEAR": "T-A-1"}


def test_a_finished_task_is_not_dispatched_again_days_later(
    make_desk: Any, clock: FakeClock
) -> None:
    desk = make_desk((NEAR, MID))
    desk.ingest(make_alert("A-1", priority="P1"))
    desk.report("T-A-1", "on_scene", unit_id="U-NEAR")
    desk.report("T-A-1", "resolved", unit_id="U-NEAR", outcome="warned")
    assert desk.dispatch.fleet.busy() == {}
    clock.advance(9 * 86_400.0)  # past any engine horizon: a replay from an old offset
    restarted = make_desk()
    restarted.ingest(make_alert("A-1", priority="P1"))
    restarted.ingest(make_alert("A-1", revision=3, priority="P1", score=0.99))
    restarted.tick()
    task = restarted.dispatch.require("T-A-1")
    assert task["status"] == "resolved" and task["unit_id"] == "U-NEAR"
    assert [t["task_id"] for t in restarted.dispatch.tasks()] == ["T-A-1"]
    assert restarted.dispatch.fleet.busy() == {}  # no unit sent again
