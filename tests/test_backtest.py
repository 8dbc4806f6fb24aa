"""`fraud-warning rules test`: backtests on a small generated feed agree with `score` +
`evaluate`, and `--against` shows what a threshold change gains and loses."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from fraud_warning.backtest import Feed as BacktestFeed
from fraud_warning.backtest import load_rules, run_rules
from fraud_warning.cli import main

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rules"
POLICE = RULES / "victim" / "police-impersonation-transfer.yaml"
UNMASKED = re.compile(r"\+\d{8,}")


@pytest.fixture(scope="module")
def feed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("backtest") / "feed"
    args = ["--subscribers", "3000", "--hours", "12", "--seed", "5", "--fraud-rate", "40"]
    assert main(["feed", "generate", *args, "--out", str(out), "--quiet"]) == 0
    return out


@pytest.fixture(scope="module")
def stable_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every shipped stable rule, victim and number side."""
    out = tmp_path_factory.mktemp("stable")
    for path in sorted(RULES.rglob("*.yaml")):
        if "\nstatus: stable" in path.read_text():
            shutil.copy(path, out / path.name)
    return out


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["rules", "test", *argv, "--json"]) == 0
    result: dict[str, Any] = json.loads(capsys.readouterr().out)
    return result


def score_and_evaluate(
    capsys: pytest.CaptureFixture[str], feed: Path, rules_dir: Path, tmp: Path
) -> tuple[dict[str, Any], int]:
    alerts = tmp / "alerts.jsonl"
    refs = ["--cells", str(feed / "cells.csv"), "--subscribers", str(feed / "subscribers.csv")]
    argv = ["score", str(feed / "events.jsonl"), "--rules", str(rules_dir)]
    argv += ["--models", str(tmp / "no-models"), *refs, "--out", str(alerts), "--quiet"]
    assert main(argv) == 0
    capsys.readouterr()
    labels = str(feed / "labels.jsonl")
    assert main(["evaluate", "--alerts", str(alerts), "--labels", labels, "--json"]) == 0
    evaluation: dict[str, Any] = json.loads(capsys.readouterr().out)
    return evaluation, len(alerts.read_text().splitlines())


@pytest.mark.parametrize("which", ["one rule", "every stable rule"])
def test_backtest_agrees_with_score_and_evaluate(
    which: str,
    feed: Path,
    stable_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if which == "one rule":
        rules_dir = tmp_path / "rules"
        rules_dir.mkdir()
        shutil.copy(POLICE, rules_dir)
        target = str(POLICE)
    else:
        rules_dir = stable_dir
        target = str(stable_dir)
    result = run_json(capsys, target, "--feed", str(feed))["rules"]
    evaluation, emissions = score_and_evaluate(capsys, feed, rules_dir, tmp_path)
    assert result["evaluation"] == evaluation
    assert result["hits"] == emissions > 0
    assert result["evaluation"]["victims_alerted"] > 0
    per_rule = result["per_rule"]
    assert set(per_rule) == {r["rule"] for r in result["rules"]}
    assert all(counts["incidents"] > 0 for counts in per_rule.values())


def test_figures_are_consistent(feed: Path, stable_dir: Path) -> None:
    side = run_rules(load_rules([stable_dir]), BacktestFeed.load(feed))
    e = side.evaluation
    assert len(side.victims) == e.victims_alerted
    assert len(side.before_loss) == e.alerted_before_loss
    assert len(side.false) == e.false_alerted_subscribers
    assert len(side.first_alert) == e.alerted_subscribers
    assert e.false_alerts_per_10k_per_day == pytest.approx(
        e.false_alerted_subscribers / 3000 * 10_000 / 0.5
    )
    assert side.examples and all(not UNMASKED.search(json.dumps(x)) for x in side.examples)


def test_a_shadow_rule_is_backtested_as_if_stable(
    feed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shadow = tmp_path / "shadow.yaml"
    shadow.write_text(POLICE.read_text().replace("status: stable", "status: shadow"))
    stable = run_json(capsys, str(POLICE), "--feed", str(feed))["rules"]
    result = run_json(capsys, str(shadow), "--feed", str(feed))["rules"]
    assert result["evaluation"] == stable["evaluation"]
    assert result["rules"][0]["status"] == "shadow"


def test_against_shows_what_a_threshold_change_gains_and_loses(
    feed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    looser = tmp_path / "police.yaml"
    text = POLICE.read_text()
    text = text.replace("risky_call_s_2h: {gte: 1200}", "risky_call_s_2h: {gte: 300}")
    looser.write_text(text.replace("version: 1", "version: 2"))

    result = run_json(capsys, str(looser), "--feed", str(feed), "--against", str(POLICE))
    new, old, diff = result["rules"], result["against"], result["diff"]
    assert [r["rule"] for r in new["rules"]] == ["police-impersonation-transfer@2"]
    assert [r["rule"] for r in old["rules"]] == ["police-impersonation-transfer@1"]
    gained = new["evaluation"]["victims_alerted"] - old["evaluation"]["victims_alerted"]
    assert gained > 0 and diff["victims_alerted"] == gained
    assert diff["hits"] == new["hits"] - old["hits"]
    # a looser threshold only adds: nothing lost, and the gains add up
    assert diff["victims_lost"]["count"] == 0
    assert diff["victims_gained"]["count"] == gained
    assert (
        diff["false_alerts_gained"]["count"] - diff["false_alerts_lost"]["count"]
        == (diff["false_alerted_subscribers"])
    )
    assert 0 < len(diff["victims_gained"]["examples"]) <= 3
    assert not UNMASKED.search(json.dumps(result))

    capsys.readouterr()
    assert main(["rules", "test", str(looser), "--feed", str(feed), "--against", str(POLICE)]) == 0
    text_out = capsys.readouterr().out
    assert "against" in text_out and "change" in text_out
    assert re.search(rf"victims caught\s+\d+\s+\d+\s+\+{gained}\b", text_out)
    assert re.search(rf"victims gained\s+{gained}\s+\+86\*+\d\d", text_out)
    assert "police-impersonation-transfer@2" in text_out
    assert not UNMASKED.search(text_out)


def test_the_same_rules_against_themselves_change_nothing(
    feed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    diff = run_json(capsys, str(POLICE), "--feed", str(feed), "--against", str(POLICE))["diff"]
    assert diff["hits"] == 0 and diff["victims_alerted"] == 0
    assert all(diff[k]["count"] == 0 for k in diff if k.endswith(("_gained", "_lost")))


def test_rules_reading_number_flags_alone_get_a_note(
    feed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flagged = RULES / "victim" / "flagged-contact-transfer.yaml"
    capsys.readouterr()
    assert main(["rules", "test", str(flagged), "--feed", str(feed)]) == 0
    assert "no number-side rule runs" in capsys.readouterr().out


def usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    capsys.readouterr()
    assert main(["rules", "test", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    return lines[0]


def test_bad_input_exits_2_with_one_line(
    feed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    partial = tmp_path / "partial"
    partial.mkdir()
    shutil.copy(feed / "events.jsonl", partial)
    shutil.copy(feed / "meta.json", partial)
    line = usage_error(capsys, str(POLICE), "--feed", str(partial))
    assert "labels.jsonl" in line and "cells.csv" in line and "events.jsonl" not in line
    line = usage_error(capsys, str(POLICE), "--feed", str(tmp_path / "nowhere"))
    assert "feed directory not found" in line

    bad = tmp_path / "bad.yaml"
    text = POLICE.read_text().replace("amount_cny: {gte: 1000}", "amount_cnyy: {gte: 1000}")
    bad.write_text(text)
    lineno = text.splitlines().index("  amount_cnyy: {gte: 1000}") + 1
    line = usage_error(capsys, str(bad), "--feed", str(feed))
    assert line.startswith(f"fraud-warning: {bad}:{lineno}: when: unknown feature 'amount_cnyy'")
    # a broken old version is refused just the same
    line = usage_error(capsys, str(POLICE), "--feed", str(feed), "--against", str(bad))
    assert f"{bad}:{lineno}:" in line
    line = usage_error(capsys, str(tmp_path / "missing.yaml"), "--feed", str(feed))
    assert "rule file not found" in line

    twice = tmp_path / "twice.yaml"
    twice.write_text(POLICE.read_text())
    line = usage_error(capsys, str(POLICE), str(twice), "--feed", str(feed))
    assert "duplicate rule id 'police-impersonation-transfer'" in line
    line = usage_error(capsys, str(bad), str(tmp_path / "missing.yaml"), "--feed", str(feed))
    assert line.endswith("(and 1 more problem(s))")

    broken_meta = tmp_path / "meta"
    shutil.copytree(feed, broken_meta)
    (broken_meta / "meta.json").write_text("{")
    line = usage_error(capsys, str(POLICE), "--feed", str(broken_meta))
    assert "meta.json: not valid JSON" in line
