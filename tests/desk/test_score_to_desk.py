"""`score --desk`: the engine's alerts reach the desk on real Redis, which dispatches."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import redis

from fraud_warning.cli import main
from fraud_warning.desk.keys import Keys
from fraud_warning.desk.service import Desk
from tests.factories import Feed, mass_dialler_scenario

URL = "redis://127.0.0.1:6379/0"


def test_score_hands_alerts_to_the_desk_which_dispatches_p1(tmp_path: Path) -> None:
    feed = Feed()
    victims = mass_dialler_scenario(feed, victims=2)
    events = tmp_path / "events.jsonl"
    feed.write(events)
    (tmp_path / "cells.csv").write_text("cell_id,lat,lon\nC1,30.66,104.06\n")
    (tmp_path / "units.csv").write_text("unit_id,station,lat,lon\nU1,Jinjiang PS 1,30.67,104.07\n")
    prefix = f"fwtest-{uuid.uuid4().hex[:12]}"
    client = redis.Redis.from_url(URL, decode_responses=True)
    try:
        out = tmp_path / "alerts.jsonl"
        argv = ["score", str(events), "--out", str(out), "--dispatch-out", str(tmp_path / "t")]
        refs = ["--cells", str(tmp_path / "cells.csv"), "--units", str(tmp_path / "units.csv")]
        assert main([*argv, *refs, "--desk", URL, "--desk-prefix", prefix, "--quiet"]) == 0
        written = [json.loads(line) for line in out.open()]
        desk = Desk(client, keys=Keys(prefix))
        stored = {r.alert_id: r for r in desk.store.ranked(limit=1000)}
        assert set(stored) == {a["alert_id"] for a in written}
        top = {a["alert_id"]: a["revision"] for a in written}
        assert all(stored[i].to_dict()["revision"] == rev for i, rev in top.items())
        # the desk dispatched the P1 victims; the engine's own dispatcher stayed off
        tasks = desk.dispatch.tasks()
        assert {t["subscriber"] for t in tasks} >= set(victims)
        assert (tmp_path / "t").read_text() == ""
    finally:
        stale = list(client.scan_iter(match=f"{prefix}:*", count=500))
        if stale:
            client.delete(*stale)
