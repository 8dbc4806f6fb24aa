"""Outcome labels, the per-model precision report, SLA figures and their commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fraud_warning.cli import main
from fraud_warning.desk.keys import Keys
from fraud_warning.desk.outcomes import label, precision_report
from fraud_warning.desk.simulate import simulate
from fraud_warning.desk.sla import quantile, report

from .conftest import FakeClock, make_alert, unit

NOISY = [{"id": "noisy", "version": 1, "score": 0.7, "reasons": ["r"]}]
GOOD = [{"id": "good", "version": 3, "score": 0.9, "reasons": ["r"]}]


def test_labels_per_source() -> None:
    alert = make_alert("A-1")
    decide = {"by": "x", "decided_at": "2026-03-02T09:00:00+00:00"}
    assert label(alert, source="dispatch", outcome="money_stopped", **decide)["label"] == 1
    assert label(alert, source="dispatch", outcome="not_fraud", **decide)["label"] == 0
    assert label(alert, source="dispatch", outcome="not_found", **decide)["label"] is None
    assert label(alert, source="desk", outcome="false_positive", **decide)["label"] == 0
    assert label(alert, source="desk", outcome="already_handled", **decide)["label"] is None
    assert label(alert, source="desk", outcome="false_positive", **decide)["kind"] == "victim"


def test_precision_report_puts_noisy_models_first() -> None:
    decide = {"by": "x", "decided_at": "t"}
    alerts = [make_alert(f"A-{i}", models=NOISY if i < 3 else GOOD) for i in range(5)]
    outcomes = [
        label(alerts[0], source="desk", outcome="false_positive", **decide),
        label(alerts[1], source="desk", outcome="false_positive", **decide),
        label(alerts[3], source="dispatch", outcome="warned", **decide),
    ]
    rows = precision_report(outcomes, alerts)
    assert [r.model for r in rows] == ["noisy@1", "good@3"]
    noisy, good = rows
    assert (noisy.paged, noisy.not_fraud, noisy.undecided, noisy.precision) == (3, 2, 1, 0.0)
    assert noisy.reasons == {"false_positive": 2}
    assert (good.paged, good.fraud, good.precision) == (2, 1, 1.0)


def task(district: str, arrival_s: float | None, *, escalated: bool = False) -> dict[str, Any]:
    t: dict[str, Any] = {
        "district": district,
        "created_at": "2026-03-02T09:00:00+00:00",
        "target_arrival": "2026-03-02T09:05:00+00:00",
        "status": "escalated" if escalated else "assigned",
        "history": [{"status": "escalated" if escalated else "assigned"}],
    }
    if arrival_s is not None:
        t["on_scene_at"] = (
            f"2026-03-02T09:{int(arrival_s // 60):02d}:{int(arrival_s % 60):02d}+00:00"
        )
    return t


def test_sla_by_district() -> None:
    tasks = [
        task("Wuhou", 120),
        task("Wuhou", 360),
        task("Gaoxin", 240),
        task("Gaoxin", None, escalated=True),
    ]
    sla = report(tasks, now=1e12)
    assert sla.total.tasks == 4 and sla.total.arrived == 3
    assert sla.total.on_time_share == pytest.approx(2 / 3)
    wuhou = {r.district: r for r in sla.districts}["Wuhou"].to_dict()
    assert wuhou["arrival_p50_s"] == 240 and wuhou["on_time_share"] == 0.5
    gaoxin = {r.district: r for r in sla.districts}["Gaoxin"]
    assert gaoxin.escalated == 1 and gaoxin.overdue == 1
    assert "Wuhou" in sla.render() and quantile([], 0.5) is None


def test_simulated_visits_are_deterministic_and_reported() -> None:
    tasks = [
        {
            "task_id": "T-1",
            "alert_id": "A-1",
            "subscriber": "+8613800000001",
            "unit_id": "U1",
            "location": None,
            "created_at": "2026-03-02T09:00:00+08:00",
            "target_arrival": "2026-03-02T09:05:00+08:00",
            "eta_s": 150.0,
            "status": "assigned",
        },
        {
            "task_id": "T-2",
            "alert_id": "A-2",
            "subscriber": "+8613800000002",
            "unit_id": None,
            "location": None,
            "created_at": "2026-03-02T09:01:00+08:00",
            "target_arrival": "2026-03-02T09:06:00+08:00",
            "eta_s": None,
            "status": "escalated",
        },
    ]
    units = [unit("U1", 0, "Jinniu PS 2")]
    first = simulate(tasks, units, {"+8613800000001"})
    assert first == simulate(tasks, units, {"+8613800000001"})
    visit, escalated = first
    assert visit["district"] == "Jinniu" and visit["outcome"] in ("warned", "money_stopped")
    assert 150 * 0.8 < visit["arrival_s"] < 40 + 150 * 1.35
    assert "on_scene_at" not in escalated
    assert report(first).total.arrived == 1


def test_outcomes_and_dispatch_commands(
    make_desk: Any,
    keys: Keys,
    clock: FakeClock,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    desk = make_desk((unit("U1", 300, "Wuhou PS 1"),))
    desk.ingest(make_alert("A-1", priority="P1", models=GOOD))
    desk.ingest(make_alert("A-2", models=NOISY, subscriber="+8613800000002"))
    desk.act("A-2", "dismiss", principal="desk#1", reason="false_positive")
    for status in ("acknowledged", "on_scene"):
        clock.advance(60)
        desk.report("T-A-1", status, unit_id="U1")
    desk.report("T-A-1", "resolved", unit_id="U1", outcome="warned")
    flags = ["--prefix", keys.prefix]
    out = tmp_path / "labels.jsonl"
    assert main(["outcomes", "export", "--out", str(out), *flags]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted((r["alert_id"], r["label"]) for r in rows) == [("A-1", 1), ("A-2", 0)]
    capsys.readouterr()
    assert main(["outcomes", "report", "--json", *flags]) == 0
    report_rows = json.loads(capsys.readouterr().out)
    assert report_rows[0]["model"] == "noisy@1" and report_rows[0]["precision"] == 0.0
    assert main(["dispatch", "report", "--json", *flags]) == 0
    sla = json.loads(capsys.readouterr().out)
    assert sla["total"]["arrived"] == 1 and sla["districts"][0]["district"] == "Wuhou"
    assert sla["total"]["arrival_p50_s"] == 120
    assert main(["dispatch", "report", "--min-on-time", "0.9", *flags]) == 0
    assert main(["dispatch", "report", "--tasks", str(tmp_path / "none.jsonl")]) == 2
    assert main(["dispatch", "report", "--redis", "redis://127.0.0.1:1/0", *flags]) == 2
    assert "cannot reach Redis at 127.0.0.1:1" in capsys.readouterr().err


def test_missed_sla_threshold_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "tasks.jsonl"
    path.write_text("\n".join(json.dumps(task("Wuhou", s)) for s in (100, 400)) + "\n")
    assert main(["dispatch", "report", "--tasks", str(path), "--min-on-time", "0.9"]) == 1
    assert "on time 50%, below the 90%" in capsys.readouterr().err
