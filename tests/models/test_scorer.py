"""Loading, refusing, scoring and explaining one model directory."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from fraud_warning.features import CATALOGUE
from fraud_warning.models.card import CARD, MODEL, CardError, read_card
from fraud_warning.models.scorer import ModelError, Scorer, describe
from tests.models.conftest import AMOUNT, RISKY, MakeModel


def rewrite(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def reseal(directory: Path) -> None:
    """Update the card's checksum after editing model.txt (a tamper the checksum misses)."""
    digest = hashlib.sha256((directory / MODEL).read_bytes()).hexdigest()
    card = directory / CARD
    lines = card.read_text().splitlines()
    card.write_text(
        "\n".join(f"model_sha256: {digest}" if line.startswith("model_sha256:") else line
                  for line in lines) + "\n"
    )  # fmt: skip


def test_a_trained_model_loads_and_scores_high_for_fraud(make_model: MakeModel) -> None:
    scorer = Scorer.load(make_model())
    assert scorer.kind == "lightgbm" and scorer.key == "tiny-scorer@1"
    assert scorer.feature_names == CATALOGUE["transfer"]
    rows = np.zeros((2, len(scorer.feature_names)))
    rows[1, AMOUNT], rows[1, RISKY] = 20_000, 1_800
    low, high = scorer.predict(rows)
    assert 0 <= low < scorer.card.threshold <= high <= 1


def test_reasons_name_the_features_that_raised_the_score(make_model: MakeModel) -> None:
    scorer = Scorer.load(make_model())
    row = np.zeros(len(scorer.feature_names))
    row[AMOUNT], row[RISKY] = 20_000, 1_820
    reasons = scorer.reasons(row)
    assert 1 <= len(reasons) <= 3
    assert "risky_call_s_2h = 1,820 raised the score" in reasons
    assert "amount_cny = 20,000 raised the score" in reasons


def test_describe() -> None:
    assert describe(1820.0) == "1,820"
    assert describe(0.375) == "0.38"
    assert describe(float("nan")) == "missing"
    assert describe(12345.6) == "12,346"


def test_wrong_width_is_a_clear_error(make_model: MakeModel) -> None:
    scorer = Scorer.load(make_model())
    with pytest.raises(ValueError, match="expected rows of 23 features"):
        scorer.predict(np.zeros((1, 5)))
    assert scorer.predict(np.zeros((0, 23))).shape == (0,)


def test_a_corrupt_model_file_is_refused_by_name(make_model: MakeModel) -> None:
    directory = make_model("broken-scorer")
    with (directory / MODEL).open("a") as fh:
        fh.write("garbage\n")
    with pytest.raises(ModelError, match=r"broken-scorer@1\): refused: model.txt does not match"):
        Scorer.load(directory)


def test_a_resealed_unparseable_model_is_refused(make_model: MakeModel) -> None:
    directory = make_model("garbled-scorer")
    text = (directory / MODEL).read_text()
    (directory / MODEL).write_text(text.replace("Tree=0", "Tree=zero").replace("leaf_value", "lv"))
    reseal(directory)
    with pytest.raises(ModelError, match=r"garbled-scorer@1\): refused"):
        Scorer.load(directory)


def test_a_model_reading_other_features_than_its_card_is_refused(make_model: MakeModel) -> None:
    directory = make_model()
    rewrite(directory / MODEL, "amount_cny", "amount_usd")
    reseal(directory)
    with pytest.raises(ModelError, match="reads features"):
        Scorer.load(directory)


def test_features_the_engine_does_not_compute_are_refused(make_model: MakeModel) -> None:
    directory = make_model()
    rewrite(directory / CARD, "- amount_cny", "- amount_usd")
    with pytest.raises(ModelError, match="does not compute amount_usd for trigger 'transfer'"):
        Scorer.load(directory)


def test_card_errors_name_file_line_and_field(make_model: MakeModel) -> None:
    directory = make_model()
    rewrite(directory / CARD, "owner: models", "owner: models\nowner_email: x@y")
    with pytest.raises(CardError, match=r"card.yaml:\d+: owner_email: unknown field"):
        read_card(directory / CARD)
    rewrite(directory / CARD, "owner_email: x@y", "status: stable")
    with pytest.raises(CardError, match="duplicate key"):
        read_card(directory / CARD)


def test_unknown_trigger_and_bad_threshold(make_model: MakeModel) -> None:
    directory = make_model()
    rewrite(directory / CARD, "trigger: transfer", "trigger: wire")
    with pytest.raises(CardError, match="unknown 'wire'"):
        read_card(directory / CARD)
    rewrite(directory / CARD, "trigger: wire", "trigger: transfer")
    text = (directory / CARD).read_text()
    threshold = next(line for line in text.splitlines() if line.startswith("threshold:"))
    rewrite(directory / CARD, threshold, "threshold: 1.5")
    with pytest.raises(CardError, match=r"card.yaml:\d+: threshold"):
        read_card(directory / CARD)


def test_missing_files(tmp_path: Path, make_model: MakeModel) -> None:
    with pytest.raises(ModelError, match="cannot read"):
        Scorer.load(tmp_path)
    directory = make_model()
    (directory / MODEL).unlink()
    with pytest.raises(ModelError, match=r"cannot read model\.txt"):
        Scorer.load(directory)


def test_fire_maps_catalogue_columns_and_applies_the_prefilter(make_model: MakeModel) -> None:
    names = ["risky_call_s_2h", "amount_cny", "payee_is_new"]  # a subset, in its own order
    scorer = Scorer.load(make_model(names=names, prefilter={"amount_cny": 5000}))
    catalogue = CATALOGUE["transfer"]
    matrix = np.zeros((3, len(catalogue)))
    matrix[:, catalogue.index("risky_call_s_2h")] = 1_800
    matrix[:, catalogue.index("amount_cny")] = [20_000, 4_000, 20_000]
    matrix[2, catalogue.index("risky_call_s_2h")] = 0
    fired = scorer.fire(matrix)
    assert fired.evaluated == 2  # the 4,000 CNY row is below the prefilter
    assert fired.rows.tolist() == [0]
    (verdict,) = scorer.verdicts(fired)
    assert verdict.model_id == "tiny-scorer@1" and verdict.version == 1
    assert verdict.priority == "P1" and verdict.typology == "test_typology"
    assert verdict.score == pytest.approx(float(fired.scores[0]), abs=1e-4)
    assert any("risky_call_s_2h = 1,800" in r for r in verdict.reasons)
    assert scorer.event_gate("amount_cny") == 5000
    assert scorer.event_gate(None) == float("-inf")
