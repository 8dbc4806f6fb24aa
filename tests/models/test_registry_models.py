"""Scorers in the registry and the engine: loaded by kind, bad ones refused by name,
stable ones alert with reasons, shadow ones are only counted."""

from __future__ import annotations

from pathlib import Path

import pytest

from fraud_warning.decode import Decoder
from fraud_warning.engine import Engine, Output, wanted_kinds
from fraud_warning.models.card import CARD, MODEL
from fraud_warning.registry import Registry, load_registry
from tests.factories import Feed, subscriber
from tests.models.conftest import MakeModel

RULE = """\
id: {id}
version: 1
title: Rule {id}
typology: test_typology
status: stable
priority: P2
owner: tests
on: transfer
when:
  amount_cny: {{gte: 1000000}}
score: 0.5
reasons: ["fired"]
"""


def load(models: Path, rules: Path | None = None) -> tuple[Registry, list[str]]:
    warnings: list[str] = []
    return load_registry(rules, models, warn=warnings.append), warnings


def test_scorers_load_by_kind_and_bad_ones_are_refused_by_name(
    make_model: MakeModel, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    make_model("good-scorer", root=models)
    make_model("call-side", trigger="call", status="shadow", root=models)
    make_model("old-scorer", status="deprecated", root=models)
    make_model("table-scorer", trigger="table", root=models)
    broken = make_model("broken-scorer", root=models)
    (broken / MODEL).write_text("tree\nversion=v4\n")
    (models / "no-card").mkdir()
    registry, warnings = load(models)
    assert [s.key for s in registry.scorers["transfer"]] == ["good-scorer@1"]
    assert [s.key for s in registry.scorers["call"]] == ["call-side@1"]
    assert registry.scorers["sms"] == () and registry.scorers["number"] == ()
    assert {s.key for s in registry.models} == {
        "good-scorer@1", "call-side@1", "old-scorer@1", "table-scorer@1"
    }  # fmt: skip
    (line,) = warnings
    assert line.startswith(f"{broken} (broken-scorer@1): refused: model.txt")
    assert registry.model_problems == (line,)
    assert len(registry) == 0  # len() and iteration stay the rules


def test_a_refused_model_warns_on_stderr_and_the_rest_runs(
    make_model: MakeModel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    models = tmp_path / "models"
    make_model("good-scorer", root=models)
    bad = make_model("bad-scorer", root=models)
    (bad / CARD).write_text((bad / CARD).read_text().replace("- amount_cny", "- amount_usd"))
    registry = load_registry(None, models)
    err = capsys.readouterr().err
    assert "fraud-warning: warning:" in err and "bad-scorer" in err and "amount_usd" in err
    assert [s.key for s in registry.scorers["transfer"]] == ["good-scorer@1"]


def test_ids_clash_with_rules_and_number_side_is_refused(
    make_model: MakeModel, tmp_path: Path
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.yaml").write_text(RULE.format(id="same-id"))
    make_model("same-id", root=tmp_path / "models")
    make_model("number-scorer", trigger="number", root=tmp_path / "models")
    registry, warnings = load(tmp_path / "models", rules)
    assert len(registry) == 1 and registry.models == ()
    assert any("id 'same-id' is already taken by a rule" in w for w in warnings)
    assert any("number-scorer@1): refused: number-side scorers" in w for w in warnings)


def test_a_scorer_opens_its_kind_down_to_its_prefilter(make_model: MakeModel) -> None:
    registry, _ = load(make_model(prefilter={"amount_cny": 500}).parent)
    assert wanted_kinds(registry) == {"transfer": 500.0}
    registry, _ = load(make_model("no-gate", trigger="call").parent)
    assert wanted_kinds(registry)["call"] == float("-inf")


# -- in the engine -----------------------------------------------------------------------


def scam(feed: Feed) -> str:
    victim = subscriber(7)
    feed.call(0, "+8617012345678", victim, 1800, callee_cell="C1")
    feed.transfer(1900, victim, "NEW-PAYEE", 20_000)
    feed.transfer(5000, subscriber(8), "SHOP", 50)  # ordinary
    return victim


def run(engine: Engine, feed: Feed) -> Output:
    good, bad = Decoder().decode_lines(enumerate(feed.lines(), 1))
    assert not bad
    return engine.process(good)


def test_a_stable_scorer_alerts_with_its_key_score_and_reasons(make_model: MakeModel) -> None:
    registry, _ = load(make_model().parent)
    feed = Feed()
    victim = scam(feed)
    engine = Engine(registry)
    out = run(engine, feed)
    (alert,) = out.alerts
    assert alert["subscriber"] == victim and alert["priority"] == "P1"
    (model,) = alert["models"]
    assert model["id"] == "tiny-scorer" and model["version"] == 1
    assert 0.5 < model["score"] <= 1 and alert["typology"] == "test_typology"
    assert "risky_call_s_2h = 1,800 raised the score" in model["reasons"]
    text = engine.metrics.exposition().decode()
    assert 'model_hits_total{model_id="tiny-scorer",status="stable",version="1"} 1.0' in text
    assert 'model_evaluations_total{model_id="tiny-scorer",version="1"} 2.0' in text


def test_a_shadow_scorer_is_counted_and_never_alerts(make_model: MakeModel) -> None:
    registry, _ = load(make_model(status="shadow").parent)
    feed = Feed()
    scam(feed)
    engine = Engine(registry)
    out = run(engine, feed)
    assert out.alerts == [] and out.shadow_hits == 1
    # logged beside the champion in the shadow log, with its score and its reasons
    (record,) = out.shadow
    assert record["model"] == "tiny-scorer@1" and record["status"] == "shadow"
    assert record["kind"] == "transfer" and 0.5 < record["score"] <= 1
    assert "risky_call_s_2h = 1,800 raised the score" in record["reasons"]
    text = engine.metrics.exposition().decode()
    assert 'model_hits_total{model_id="tiny-scorer",status="shadow",version="1"} 1.0' in text


def test_rules_and_scorers_join_one_incident(make_model: MakeModel, tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.yaml").write_text(RULE.format(id="big-transfer").replace("1000000", "10000"))
    registry, _ = load(make_model().parent, rules)
    feed = Feed()
    scam(feed)
    (alert,) = run(Engine(registry), feed).alerts
    assert {m["id"] for m in alert["models"]} == {"tiny-scorer", "big-transfer"}
    assert alert["priority"] == "P1"  # the scorer's priority is the more urgent


def test_a_card_sets_its_models_re_alert_window(make_model: MakeModel) -> None:
    model_dir = make_model()
    card = model_dir / CARD
    assert load(model_dir.parent)[0].models[0].card.realert_s == 0.0  # every hit counts
    text = card.read_text()
    assert "realert_s: 0.0" in text  # written by training, as every field of the card
    card.write_text(text.replace("realert_s: 0.0", "realert_s: 3600"))
    registry, warnings = load(model_dir.parent)
    assert not warnings
    assert Engine(registry).alerter.realert["tiny-scorer@1"] == 3600.0
    card.write_text(card.read_text().replace("realert_s: 3600", "realert_s: -1"))
    registry, warnings = load(model_dir.parent)
    assert not registry.models and "realert_s" in warnings[0]
