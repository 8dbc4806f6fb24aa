"""The issue's bar, end to end through the CLI: on a generated 24 h city the shipped
models were not trained on (seed 202; training used seed 101), rules plus models warn
more victims by their loss (and as many before it) without more false alerts than rules
alone.

The floors are the figures measured in README ("Models in the stream"), so a change that
loses a caught victim or adds a false alert fails here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fraud_warning.cli import main
from tests.models.conftest import SHIPPED

pytestmark = pytest.mark.slow
STREAM_MODELS = ("transfer-scorer", "call-scorer")


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not all((SHIPPED / m / "card.yaml").is_file() for m in STREAM_MODELS):
        pytest.skip("shipped stream models missing")
    out = tmp_path_factory.mktemp("held-out-city")
    argv = ["feed", "generate", "--subscribers", "20000", "--hours", "24", "--seed", "202"]
    assert main([*argv, "--fraud-rate", "10", "--out", str(out), "--quiet"]) == 0
    return out


def score(city: Path, name: str, extra: list[str], capsys: pytest.CaptureFixture[str]) -> Any:
    alerts = city / f"alerts-{name}.jsonl"
    refs = ["--cells", str(city / "cells.csv"), "--subscribers", str(city / "subscribers.csv")]
    argv = ["score", str(city / "events.jsonl"), "--out", str(alerts), *refs, *extra]
    assert main([*argv, "--quiet"]) == 0
    capsys.readouterr()
    argv = ["evaluate", "--alerts", str(alerts), "--labels", str(city / "labels.jsonl")]
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_rules_plus_models_warn_more_victims_without_more_false_alerts(
    city: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    no_models = city / "no-models"  # score loads ./models by default: point it elsewhere
    no_models.mkdir(exist_ok=True)
    rules = score(city, "rules", ["--models", str(no_models)], capsys)
    both = score(city, "models", ["--models", str(SHIPPED)], capsys)
    # measured (README): before loss 54 -> 54, by loss 77 -> 81, alerted 133 -> 137
    assert both["alerted_before_loss"] >= rules["alerted_before_loss"]
    assert both["alerted_by_loss"] >= rules["alerted_by_loss"] + 4
    assert both["victims_alerted"] >= rules["victims_alerted"] + 4
    assert both["false_alerts_per_10k_per_day"] <= rules["false_alerts_per_10k_per_day"]
    # victims escalated to P1 (police dispatch) by the transfer scorer: 83 -> 105, for one
    # more false P1 (47 -> 48)
    p1, p1_rules = both["by_priority"]["P1"], rules["by_priority"]["P1"]
    assert p1["true"] >= p1_rules["true"] + 20
    assert p1["alerted"] - p1["true"] <= p1_rules["alerted"] - p1_rules["true"] + 1


def test_train_and_evaluate_from_a_feed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    feed = tmp_path / "feed"
    argv = ["feed", "generate", "--subscribers", "3000", "--hours", "24", "--seed", "5"]
    assert main([*argv, "--fraud-rate", "30", "--out", str(feed), "--quiet"]) == 0
    out = tmp_path / "transfer-test"
    argv = ["models", "train", "--feed", str(feed), "--id", "transfer-test", "--out", str(out)]
    assert main([*argv, "--prefilter", "amount_cny=100", "--trees", "40", "--quiet"]) == 0
    from fraud_warning.models.card import read_card

    card = read_card(out / "card.yaml")
    assert card.trigger == "transfer" and card.prefilter == {"amount_cny": 100.0}
    assert card.training.source == "feed" and card.training.feed_meta["seed"] == 5
    assert card.training.label == "transfer to a labelled mule account"
    assert card.validation.method.startswith("time-ordered")
    assert card.validation.positives > 0
    argv = ["models", "evaluate", str(out), "--feed", str(feed), "--json"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["auc"] > 0.9 and result["below_prefilter"] > 0
