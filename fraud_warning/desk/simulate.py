"""Units driving to the door, simulated in event time, so the demo shows the whole loop.

No server and no Redis: the demo's dispatch tasks (from the embedded engine) get a unit
acknowledgement, a drive whose time scatters around the ETA (traffic), an arrival and an
outcome (a labelled victim is warned or has the money stopped; anyone else is not
fraud). The records have the desk's task shape, so :mod:`fraud_warning.desk.sla` reports
on them exactly as on live ones, and `fraud-warning dispatch report --tasks` reads them.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from fraud_warning.desk.sla import report
from fraud_warning.desk.store import epoch
from fraud_warning.dispatch import district_of
from fraud_warning.masking import mask_msisdn
from fraud_warning.refdata import Unit
from fraud_warning.sinks import JsonlSink

ACK_S = (5.0, 40.0)  # radio acknowledgement delay, uniform
TRAFFIC = (0.8, 1.35)  # real drive time / estimated, uniform
ON_SCENE_S = (480.0, 1200.0)  # talking the victim out of the transfer


def _at(ts: float, like: str) -> str:
    from datetime import datetime

    return datetime.fromtimestamp(ts, tz=datetime.fromisoformat(like).tzinfo).isoformat()


def simulate(
    tasks: Iterable[Mapping[str, Any]],
    units: Sequence[Unit],
    victims: set[str],
    seed: int = 7,
) -> list[dict[str, Any]]:
    """Each task carried out: acknowledged, on scene, resolved (or left escalated)."""
    rng = random.Random(seed)
    stations = {u.unit_id: u.station for u in units}
    out = []
    for task in tasks:
        record = dict(task)
        created = epoch(task["created_at"])
        unit = task.get("unit_id")
        record["district"] = district_of(stations.get(unit or "", "")) if unit else "unknown"
        record["history"] = [{"status": task["status"], "unit_id": unit, "at": task["created_at"]}]
        if unit is None or task.get("eta_s") is None:
            out.append(record)  # nobody free: the desk phones instead
            continue
        acked = created + rng.uniform(*ACK_S)
        arrived = acked + float(task["eta_s"]) * rng.uniform(*TRAFFIC)
        resolved = arrived + rng.uniform(*ON_SCENE_S)
        fraud = task["subscriber"] in victims
        outcome = rng.choice(("warned", "money_stopped")) if fraud else "not_fraud"
        for status, ts in (("acknowledged", acked), ("on_scene", arrived), ("resolved", resolved)):
            record[f"{status}_at"] = _at(ts, task["created_at"])
            record["history"].append(
                {"status": status, "unit_id": unit, "at": record[f"{status}_at"]}
            )
        record.update(
            status="resolved",
            outcome=outcome,
            arrival_s=round(arrived - created, 1),
            on_time=arrived <= epoch(task["target_arrival"]),
        )
        out.append(record)
    return out


def show_visits(
    tasks_path: Path, units: Sequence[Unit], labels_path: Path | None, out_path: Path
) -> None:
    """The demo's dispatch loop: prints each simulated visit and the SLA figures."""
    from fraud_warning.evaluate import load_jsonl

    tasks = list(load_jsonl(tasks_path))
    victims = set()
    if labels_path is not None and labels_path.is_file():
        victims = {r["subscriber"] for r in load_jsonl(labels_path) if r.get("kind") == "victim"}
    visits = simulate(tasks, units, victims)
    print("\n== units to the door (simulated in event time) ==")
    for v in visits:
        who = mask_msisdn(v["subscriber"])
        if "on_scene_at" not in v:
            print(f"{v['created_at'][11:19]} {who:<15} no unit free: escalated, desk phones now")
            continue
        took = v["arrival_s"]
        mark = "on time" if v["on_time"] else "LATE"
        print(
            f"{v['created_at'][11:19]} {who:<15} unit {v['unit_id']:<6} ({v['district']}) "
            f"ack {v['acknowledged_at'][11:19]}, at the door {v['on_scene_at'][11:19]} "
            f"after {int(took // 60)}:{int(took % 60):02d} ({mark}), {v['outcome']}"
        )
    with JsonlSink(out_path) as sink:
        sink.write(visits)
    print("\n== dispatch SLA ==")
    print(report(visits).render())
    print(f"(visits: {out_path}; `fraud-warning dispatch report --tasks {out_path}`)")


__all__ = ["show_visits", "simulate"]
