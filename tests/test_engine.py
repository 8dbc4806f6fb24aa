"""The engine's stages joined: scenarios in event time, no broker."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fraud_warning import engine as engine_module
from fraud_warning.decode import Decoder
from fraud_warning.dispatch import Dispatcher
from fraud_warning.engine import Engine, EngineConfig, Output
from fraud_warning.refdata import RefData, Subscriber, Unit
from fraud_warning.registry import Registry, load_registry
from fraud_warning.scoring import NOTHING_FIRED
from tests.factories import T0, Feed, mass_dialler_scenario, subscriber

RULES = Path(__file__).resolve().parent.parent / "rules"


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry(RULES)


def run(engine: Engine, feed: Feed, batch: int = 10_000) -> Output:
    good, bad = Decoder().decode_lines(enumerate(feed.lines(), 1))
    assert not bad
    total = Output()
    for i in range(0, len(good), batch):
        out = engine.process(good[i : i + batch])
        total.alerts += out.alerts
        total.tasks += out.tasks
        total.dead += out.dead
        total.shadow_hits += out.shadow_hits
        total.shadow += out.shadow
    return total


def refdata() -> RefData:
    return RefData(
        cells={"C1": (30.66, 104.06)},
        units=(Unit("U1", "Jinjiang", 30.67, 104.07), Unit("U2", "Far", 31.5, 105.0)),
        subscribers={subscriber(5000): Subscriber(subscriber(5000), "65+", 30.6, 104.0)},
    )


def test_mass_dialler_victim_gets_p1_alert_number_flagged_and_dispatch(registry: Registry) -> None:
    feed = Feed()
    (victim,) = mass_dialler_scenario(feed)
    engine = Engine(registry, refdata(), dispatcher=Dispatcher(refdata().units))
    out = run(engine, feed)
    numbers = [a for a in out.alerts if a["typology"] == "fraud_number"]
    assert [a["subscriber"] for a in numbers] == ["+85260001234"]
    mine = [a for a in out.alerts if a["subscriber"] == victim]
    # an early warning on the call, then the same incident raised to P1 by the transfer
    assert [a["revision"] for a in mine] == [1, 2]
    assert mine[0]["priority"] == "P2" and mine[1]["priority"] == "P1"
    assert len({a["alert_id"] for a in mine}) == 1
    assert mine[0]["event_ts"] < mine[1]["event_ts"]
    ids = {m["id"] for m in mine[1]["models"]}
    assert {"police-impersonation-transfer", "flagged-contact-transfer"} <= ids
    assert mine[1]["location"] == {"lat": 30.66, "lon": 104.06, "source": "cell"}
    assert len(out.tasks) == 1
    task = out.tasks[0]
    assert task["alert_id"] == mine[1]["alert_id"] and task["unit_id"] == "U1"
    assert task["status"] == "assigned"


def test_the_shared_nothing_fired_stays_empty(registry: Registry) -> None:
    """Number rows where nothing fires share one result; a number that fires gets its
    own, so the flag and its alert still come out, and the shared one is never filled."""
    feed = Feed()
    mass_dialler_scenario(feed)
    out = run(Engine(registry, refdata(), dispatcher=Dispatcher(refdata().units)), feed)
    assert [a["subscriber"] for a in out.alerts if a["typology"] == "fraud_number"]
    assert NOTHING_FIRED.pages == [] and NOTHING_FIRED.shadow == []


def test_state_size_is_estimated_hourly_within_one_batch(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Housekeeping paces its (slow) size estimates by event time and by events seen:
    one batch spanning hours gets one per hour, so the count it reads is current."""
    monkeypatch.setattr(engine_module, "SIZE_ESTIMATE_EVENTS", 10)
    feed = Feed()
    for i in range(4 * 60):  # 4 h, a call a minute
        feed.call(i * 60.0, subscriber(i % 7), subscriber(100 + i % 5), 30)
    engine = Engine(registry, refdata())
    run(engine, feed)
    # the last estimate came in the fourth hour (each sets the next an hour on); were the
    # batch's events not counted as they came, the first would have been the only one
    last = engine._next_size_estimate - 3600.0
    assert T0.timestamp() + 3 * 3600 <= last < T0.timestamp() + 4 * 3600


def test_dispatch_tasks_are_forgotten_when_their_incident_closes(registry: Registry) -> None:
    feed = Feed()
    mass_dialler_scenario(feed)
    dispatcher = Dispatcher(refdata().units)
    engine = Engine(registry, refdata(), dispatcher=dispatcher)
    out = run(engine, feed)
    assert len(out.tasks) == 1 and len(dispatcher) == 1
    # a day later, quiet: the incident closed at housekeeping and its task went with it
    later = Feed()
    later.call(30 * 3600, subscriber(7), subscriber(8), 10)
    run(engine, later)
    assert not engine.victims.open
    assert len(dispatcher) == 0


def test_family_abroad_known_contact_does_not_alert(registry: Registry) -> None:
    feed = Feed()
    me, mum = subscriber(1), "+14155550100"
    feed.call(0, me, mum, 600)  # the subscriber calls their mother abroad: a contact
    feed.call(3600, mum, me, 3000, origin="overseas")
    feed.transfer(3600 + 3100, me, "MUM-ACCOUNT", 20_000)
    out = run(Engine(registry), feed)
    assert out.alerts == []


def test_stranger_long_risky_call_then_transfer_alerts_without_fanout(registry: Registry) -> None:
    feed = Feed()
    victim = subscriber(7)
    feed.call(0, "+8617012345678", victim, 1800)  # virtual operator, derived origin
    feed.transfer(2000, victim, "SAFE-ACCOUNT", 30_000)
    out = run(Engine(registry), feed)
    assert [a["models"][0]["id"] for a in out.alerts] == ["police-impersonation-transfer"]
    reasons = out.alerts[0]["models"][0]["reasons"]
    assert reasons[0].startswith("30 min on calls from risky-origin strangers")


def test_same_rule_inside_realert_window_is_absorbed(registry: Registry) -> None:
    feed = Feed()
    victim = subscriber(8)
    feed.call(0, "+8617012345678", victim, 1800)
    feed.transfer(2000, victim, "SAFE-1", 30_000)
    feed.transfer(2100, victim, "SAFE-2", 30_000)  # same rule again within 1 h
    out = run(Engine(registry), feed)
    fired = [(a["revision"], tuple(sorted(m["id"] for m in a["models"]))) for a in out.alerts]
    # the second transfer adds a new model (two new payees in 2 h) but no repeat of the first
    assert fired[0] == (1, ("police-impersonation-transfer",))
    assert all(rev > 1 for rev, _ in fired[1:])
    assert len({a["alert_id"] for a in out.alerts}) == 1


def test_batching_does_not_change_results(registry: Registry) -> None:
    feed = Feed()
    mass_dialler_scenario(feed, victims=3)
    whole = run(Engine(registry, refdata(), dispatcher=Dispatcher(refdata().units)), feed)
    small = run(Engine(registry, refdata(), dispatcher=Dispatcher(refdata().units)), feed, batch=7)
    assert whole.alerts == small.alerts
    assert whole.tasks == small.tasks


def test_the_ids_held_against_duplicates_are_reported(registry: Registry) -> None:
    """`fraud_warning_admitted_ids`: the ids of the last allowed lateness, set at each
    housekeeping (sizing a worker's memory reads it)."""
    feed = Feed()
    for i in range(4 * 60):  # 4 h, a call a minute
        feed.call(i * 60.0, subscriber(i % 7), subscriber(100 + i % 5), 30)
    engine = Engine(registry, refdata(), config=EngineConfig(allowed_lateness_s=600))
    run(engine, feed, batch=50)
    held = engine.metrics.registry.get_sample_value("fraud_warning_admitted_ids")
    assert len(engine.admission.ids) == 11  # minutes 229..239: within 600 s of the last
    assert held is not None and 9 <= held <= 11  # as of the last housekeeping


def test_late_events_are_dead_lettered_not_processed(registry: Registry) -> None:
    feed = Feed()
    feed.call(5000, subscriber(1), subscriber(2), 60)
    feed.call(0, subscriber(3), subscriber(4), 60)  # 5000 s late, lateness is 600 s
    good, _ = Decoder().decode_lines(enumerate([feed.lines()[1], feed.lines()[0]], 1))
    engine = Engine(registry, config=EngineConfig(allowed_lateness_s=600))
    out = engine.process(good)
    assert [(d.reason, d.offset) for d in out.dead] == [("late", 2)]
    assert not engine.store.victims.held(subscriber(4))


def test_shadow_rule_counts_but_never_pages(tmp_path: Path) -> None:
    text = (RULES / "victim" / "police-impersonation-transfer.yaml").read_text()
    (tmp_path / "r.yaml").write_text(text.replace("status: stable", "status: shadow"))
    engine = Engine(load_registry(tmp_path))
    feed = Feed()
    victim = subscriber(9)
    feed.call(0, "+8617012345678", victim, 1800)
    feed.transfer(2000, victim, "SAFE-ACCOUNT", 30_000)
    out = run(engine, feed)
    assert out.alerts == [] and out.shadow_hits == 1
    (record,) = out.shadow  # logged with its evidence, in the shape of a first alert
    assert record["model"] == "police-impersonation-transfer@1"
    assert (record["status"], record["kind"], record["subscriber"]) == (
        "shadow",
        "transfer",
        victim,
    )
    assert record["emitted_at"] == feed.events[-1]["ts"] and record["reasons"]
    text_metrics = engine.metrics.exposition().decode()
    assert 'model_id="police-impersonation-transfer",status="shadow",version="1"} 1.0' in (
        text_metrics
    )


def test_idle_state_is_evicted(registry: Registry) -> None:
    feed = Feed()
    feed.call(0, subscriber(1), subscriber(2), 60)
    feed.call(30 * 3600, subscriber(3), subscriber(4), 60)
    engine = Engine(registry, config=EngineConfig(state_retention_s=3600))
    run(engine, feed, batch=1)
    assert not engine.store.victims.held(subscriber(1))
    assert engine.store.victims.held(subscriber(3))


def test_expired_state_reads_as_absent_before_any_sweep(registry: Registry) -> None:
    # the contact learned at t=0 is forgotten after the retention, swept or not
    feed = Feed()
    me = subscriber(1)
    feed.call(0, me, "+8617012345678", 60)  # me calling the number makes it a contact
    feed.call(7200, "+8617012345678", me, 1800)
    feed.transfer(9200, me, "SAFE-ACCOUNT", 30_000)
    engine = Engine(registry, config=EngineConfig(state_retention_s=3600))
    out = run(engine, feed)  # one batch: no sweep ran between the events
    assert [a["models"][0]["id"] for a in out.alerts] == ["police-impersonation-transfer"]


def test_a_number_blasting_links_is_flagged_at_its_sms(tmp_path: Path) -> None:
    shutil.copytree(RULES, tmp_path / "rules")
    path = tmp_path / "rules" / "number" / "sms-link-blast.yaml"
    path.write_text(path.read_text().replace("status: shadow", "status: stable"))
    feed = Feed()
    blaster = "+8616500001111"
    for i in range(25):
        feed.sms(
            i * 60, blaster, subscriber(100 + i), text="案件通知 https://x.top/a", has_url=True
        )
    shipped = run(Engine(load_registry(RULES)), feed)  # shipped as shadow: logged, not paged
    assert shipped.alerts == [] and {r["model"] for r in shipped.shadow} == {"sms-link-blast@1"}
    engine = Engine(load_registry(tmp_path / "rules"))
    out = run(engine, feed)
    (alert,) = [a for a in out.alerts if a["subscriber"] == blaster]
    assert alert["typology"] == "fraud_number"
    assert [m["id"] for m in alert["models"]] == ["sms-link-blast"]
    assert (
        "texted links to 20 different subscribers in the last hour" in alert["models"][0]["reasons"]
    )
    assert blaster in engine.store.flags  # the victim side reads the flag from here on
