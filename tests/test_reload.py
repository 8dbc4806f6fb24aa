"""Hot reload: a registry swapped into a running engine keeps state, and the watcher that
stages new registries from changed files refuses broken ones."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from fraud_warning.decode import Decoded, Decoder
from fraud_warning.engine import Engine
from fraud_warning.metrics import Metrics
from fraud_warning.registry import Registry, RegistryError, load_registry
from fraud_warning.reload import RegistryWatcher, fingerprint
from fraud_warning.rules import load_rule_file
from tests.factories import Feed, subscriber

ROOT = Path(__file__).resolve().parent.parent
POLICE = ROOT / "rules" / "victim" / "police-impersonation-transfer.yaml"
MODELS = ROOT / "models"
RISKY = "+8617012345678"  # a virtual-operator prefix: a risky origin


def decoded(feed: Feed) -> list[Decoded]:
    good, bad = Decoder().decode_lines(enumerate(feed.lines(), 1))
    assert not bad
    return good


def police(**changes: str) -> Registry:
    """The shipped police rule, with text replacements (`old=new`) applied."""
    text = POLICE.read_text()
    for old, new in changes.items():
        assert old in text
        text = text.replace(old, new)
    return Registry.of(_rules_from_text(text))


def _rules_from_text(text: str) -> list[Any]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rule.yaml"
        path.write_text(text)
        return load_rule_file(path)


def models_of(alerts: list[dict[str, Any]]) -> set[tuple[str, int]]:
    return {(m["id"], m["version"]) for a in alerts for m in a["models"]}


def scam(feed: Feed, victim: str, at_s: float, amount: float = 9000) -> None:
    """A 25 min call from a risky-origin stranger, then a transfer to a new payee 30 min
    after the call started."""
    feed.call(at_s, RISKY, victim, 1500)
    feed.transfer(at_s + 1800, victim, f"SAFE-{victim[-4:]}", amount)


# -- Engine.swap_registry ------------------------------------------------------------------


def test_swap_keeps_state_a_rule_added_by_the_swap_counts_earlier_calls() -> None:
    feed = Feed()
    victim = subscriber(1)
    scam(feed, victim, 0)
    call, transfer = decoded(feed)

    engine = Engine(Registry.of([]))  # no models at all: no trigger rows are built
    assert engine.process([call]).alerts == []
    store, watermark = engine.store, engine.watermark
    engine.swap_registry(police())
    assert engine.store is store and engine.watermark == watermark
    out = engine.process([transfer])
    assert [a["subscriber"] for a in out.alerts] == [victim]
    assert models_of(out.alerts) == {("police-impersonation-transfer", 1)}
    assert "25 min on calls" in out.alerts[0]["models"][0]["reasons"][0]

    # the call before the swap is what made it fire: the transfer alone does not
    fresh = Engine(police())
    assert fresh.process([transfer]).alerts == []


def test_alerts_after_the_swap_name_the_new_version_and_open_incidents_stay() -> None:
    feed = Feed()
    first, second = subscriber(1), subscriber(2)
    scam(feed, first, 0)
    scam(feed, second, 3600)
    events = decoded(feed)
    before, after = events[:2], events[2:]

    engine = Engine(police(), metrics=Metrics())
    out = engine.process(before)
    assert models_of(out.alerts) == {("police-impersonation-transfer", 1)}
    assert first in engine.victims.open

    engine.swap_registry(police(**{"version: 1": "version: 2", "score: 0.9": "score: 0.95"}))
    assert first in engine.victims.open  # the open incident survives the swap
    out = engine.process(after)
    assert [a["subscriber"] for a in out.alerts] == [second]
    assert models_of(out.alerts) == {("police-impersonation-transfer", 2)}
    assert out.alerts[0]["score"] == pytest.approx(0.95)
    text = engine.metrics.exposition().decode()
    assert 'model_id="police-impersonation-transfer",version="2"' in text


def test_swap_rebuilds_the_event_gate() -> None:
    feed = Feed()
    scam(feed, subscriber(1), 0, amount=9000)
    scam(feed, subscriber(2), 7200, amount=9000)
    events = decoded(feed)

    # a rule that needs 50,000 CNY: a 9,000 transfer is dropped at the gate, no row built
    engine = Engine(police(**{"amount_cny: {gte: 1000}": "amount_cny: {gte: 50000}"}))
    assert engine.joiner.sides.min_amount == 50000
    assert engine.process(events[:2]).alerts == []
    engine.swap_registry(police())
    assert engine.joiner.sides.min_amount == 1000
    out = engine.process(events[2:])
    assert [a["subscriber"] for a in out.alerts] == [subscriber(2)]


def test_swap_to_an_empty_registry_stops_alerts_but_keeps_recording() -> None:
    feed = Feed()
    scam(feed, subscriber(1), 0)
    scam(feed, subscriber(2), 7200)
    events = decoded(feed)
    engine = Engine(police())
    engine.swap_registry(Registry.of([]))
    assert engine.process(events[:3]).alerts == []  # calls recorded, nothing evaluated
    engine.swap_registry(police())
    out = engine.process(events[3:])  # the second victim's call was recorded meanwhile
    assert [a["subscriber"] for a in out.alerts] == [subscriber(2)]


# -- RegistryWatcher -------------------------------------------------------------------------


def write(path: Path, text: str) -> None:
    """Write and move the modification time on, as an editor a second later would."""
    path.write_text(text)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def reloads(metrics: Metrics, result: str) -> float:
    value = metrics.registry.get_sample_value(
        "fraud_warning_rule_reloads_total", {"result": result}
    )
    return value or 0.0


@pytest.fixture()
def rules_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "rules"
    directory.mkdir()
    shutil.copy(POLICE, directory / "police.yaml")
    return directory


def test_watcher_picks_up_a_valid_edit_once(rules_dir: Path) -> None:
    metrics = Metrics()
    watcher = RegistryWatcher(rules_dir, None, metrics=metrics)
    assert [r.key for r in watcher.load()] == ["police-impersonation-transfer@1"]
    assert watcher.poll() is None  # nothing changed

    path = rules_dir / "police.yaml"
    write(path, path.read_text().replace("version: 1", "version: 2"))
    staged = watcher.poll()
    assert staged is not None
    assert [r.key for r in staged] == ["police-impersonation-transfer@2"]
    assert reloads(metrics, "ok") == 1
    assert watcher.poll() is None  # staged once, not again
    assert reloads(metrics, "ok") == 1

    # a new file and a removed one are changes too
    shutil.copy(ROOT / "rules" / "victim" / "mule-payee-transfer.yaml", rules_dir / "mule.yaml")
    staged = watcher.poll()
    assert staged is not None and len(staged) == 2
    (rules_dir / "mule.yaml").unlink()
    staged = watcher.poll()
    assert staged is not None and len(staged) == 1
    assert reloads(metrics, "ok") == 3
    assert reloads(metrics, "failure") == 0


def test_watcher_refuses_broken_edits_keeps_the_last_good_and_recovers(
    rules_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    metrics = Metrics()
    watcher = RegistryWatcher(rules_dir, None, metrics=metrics)
    engine = Engine(watcher.load(), metrics=metrics)
    path = rules_dir / "police.yaml"
    good = path.read_text()

    # bad YAML
    caplog.set_level(logging.WARNING, logger="fraud_warning.reload")
    write(path, good.replace("on: transfer", "on: [transfer"))
    assert watcher.poll() is None
    assert reloads(metrics, "failure") == 1
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and f"{path}:" in errors[0]
    assert watcher.last_error is not None and str(path) in watcher.last_error

    # the same broken files are not loaded again
    caplog.clear()
    assert watcher.poll() is None
    assert reloads(metrics, "failure") == 1
    assert caplog.records == []

    # an unknown feature: refused with file:line and the name
    line = good.splitlines().index("  payee_is_new: {eq: 1}") + 1
    write(path, good.replace("payee_is_new: {eq: 1}", "payee_is_neww: {eq: 1}"))
    assert watcher.poll() is None
    assert reloads(metrics, "failure") == 2
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert f"{path}:{line}: when: unknown feature 'payee_is_neww'" in errors[0]
    # the engine still runs the last good registry
    assert [r.key for r in engine.registry] == ["police-impersonation-transfer@1"]

    # fixed (as a new version): staged, then activated by the caller
    write(path, good.replace("version: 1", "version: 2"))
    staged = watcher.poll()
    assert staged is not None
    assert reloads(metrics, "ok") == 1 and reloads(metrics, "failure") == 2
    assert not watcher.last_error  # cleared
    engine.swap_registry(staged)
    assert [r.key for r in engine.registry] == ["police-impersonation-transfer@2"]
    text = metrics.exposition().decode()
    assert 'fraud_warning_rule_reloads_total{result="ok"} 1.0' in text
    assert 'fraud_warning_rule_reloads_total{result="failure"} 2.0' in text


def test_watcher_refuses_a_duplicate_id_and_a_missing_directory(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    shutil.copy(POLICE, rules / "a.yaml")
    metrics = Metrics()
    watcher = RegistryWatcher(rules, None, metrics=metrics)
    watcher.load()
    shutil.copy(POLICE, rules / "b.yaml")
    assert watcher.poll() is None
    assert watcher.last_error is not None and "duplicate rule id" in watcher.last_error
    shutil.rmtree(rules)
    assert watcher.poll() is None
    assert watcher.last_error is not None and "not found" in watcher.last_error
    assert reloads(metrics, "failure") == 2


def test_watcher_logs_every_problem_a_loader_raises(
    rules_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> Registry:
        raise RegistryError("a.yaml:3: first problem\nb.yaml:9: second problem")

    metrics = Metrics()
    watcher = RegistryWatcher(rules_dir, None, load=broken, metrics=metrics)
    with pytest.raises(RegistryError):
        watcher.load()  # start-up: an invalid registry is an error for the caller
    write(rules_dir / "police.yaml", POLICE.read_text() + "\n")
    caplog.set_level(logging.ERROR, logger="fraud_warning.reload")
    assert watcher.poll() is None
    errors = [r.getMessage() for r in caplog.records]
    assert len(errors) == 2
    assert errors[0].endswith("a.yaml:3: first problem")
    assert errors[1].endswith("b.yaml:9: second problem")
    assert reloads(metrics, "failure") == 1


def test_model_problems_warn_or_refuse(
    rules_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    models = tmp_path / "models"
    shutil.copytree(MODELS / "transfer-scorer", models / "transfer-scorer")
    metrics = Metrics()
    lenient = RegistryWatcher(rules_dir, models, metrics=metrics)
    strict = RegistryWatcher(rules_dir, models, metrics=metrics, strict_models=True)
    assert len(lenient.load().models) == 1
    strict.load()

    write(models / "transfer-scorer" / "model.txt", "not a model\n")
    caplog.set_level(logging.WARNING, logger="fraud_warning.reload")
    staged = lenient.poll()  # the rules are fine: the bad model is left out, with a warning
    assert staged is not None and staged.models == () and staged.model_problems
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings and "transfer-scorer" in warnings[0].getMessage()
    assert strict.poll() is None  # strict: the whole reload is refused
    assert strict.last_error is not None and "transfer-scorer" in strict.last_error
    assert reloads(metrics, "ok") == 1 and reloads(metrics, "failure") == 1


def test_fingerprint_reads_rule_yaml_and_every_model_file(tmp_path: Path) -> None:
    rules, models = tmp_path / "rules", tmp_path / "models"
    (rules / "sub").mkdir(parents=True)
    (models / "m").mkdir(parents=True)
    (rules / "sub" / "a.yml").write_text("x")
    (rules / "notes.txt").write_text("x")
    (models / "m" / "model.txt").write_text("xy")
    names = [Path(p).name for p, _, _ in fingerprint(rules, models)]
    assert sorted(names) == ["a.yml", "model.txt"]
    assert fingerprint(tmp_path / "none", None) == ()


def test_shipped_registry_loads_through_the_watcher() -> None:
    watcher = RegistryWatcher(ROOT / "rules", None)
    assert len(watcher.load()) == len(load_registry(ROOT / "rules"))
    assert watcher.poll() is None
