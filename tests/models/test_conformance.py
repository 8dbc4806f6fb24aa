"""The conformance suite, generated from the registry: every shipped model directory in
`models/` must pass every check here (river's `check_estimator` idea, for scorers).

Deterministic, no input mutation, missing features tolerated, scores in [0, 1] with
high meaning fraud, save/load round trip, and the card matches the model file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fraud_warning.features import CATALOGUE
from fraud_warning.models.card import MODEL, TABLE, read_card, sha256_of
from fraud_warning.models.scorer import Scorer
from tests.models.conftest import ROOT, SHIPPED_DIRS

pytestmark = pytest.mark.skipif(not SHIPPED_DIRS, reason="no shipped models")
models = pytest.mark.parametrize("directory", SHIPPED_DIRS, ids=[p.name for p in SHIPPED_DIRS])


def probe_rows(scorer: Scorer, n: int = 400, seed: int = 0) -> np.ndarray:
    """Plausible rows: each feature drawn around the split thresholds the trees use."""
    rng = np.random.default_rng(seed)
    dump = scorer._booster.dump_model()
    cuts: dict[int, list[float]] = {}

    def walk(node: dict[str, object]) -> None:
        if "split_feature" in node:
            cuts.setdefault(int(node["split_feature"]), []).append(float(node["threshold"]))  # type: ignore[arg-type]
            walk(node["left_child"])  # type: ignore[arg-type]
            walk(node["right_child"])  # type: ignore[arg-type]

    for tree in dump["tree_info"]:
        walk(tree["tree_structure"])
    rows = np.zeros((n, len(scorer.feature_names)))
    for j in range(rows.shape[1]):
        values = np.array(cuts.get(j, [0.0]))
        rows[:, j] = rng.choice(values, n) * rng.uniform(0.5, 1.5, n)
    return rows


@models
def test_card_matches_the_model(directory: Path) -> None:
    card = read_card(directory / "card.yaml")
    scorer = Scorer.load(directory)
    assert scorer.card == card
    assert sha256_of(directory / MODEL) == card.model_sha256
    assert list(scorer._booster.feature_name()) == card.features
    assert scorer._booster.num_trees() == card.training.trees <= 200
    assert card.kind == "lightgbm" and directory.name == card.id
    assert card.trigger == TABLE or set(card.features) <= set(CATALOGUE[card.trigger])
    assert card.command.startswith("fraud-warning models train")
    v = card.validation
    assert v.rows > 0 and v.positives > 0 and v.auc is not None and v.auc > 0.8
    assert (directory / MODEL).stat().st_size < 2_000_000  # small enough to review and ship


@models
def test_scores_are_probabilities_and_deterministic(directory: Path) -> None:
    scorer = Scorer.load(directory)
    rows = probe_rows(scorer)
    first = scorer.predict(rows)
    assert first.shape == (rows.shape[0],)
    assert np.all((first >= 0) & (first <= 1))
    assert np.array_equal(first, scorer.predict(rows))
    assert np.array_equal(first, Scorer.load(directory).predict(rows))
    # batch or one by one: the same score
    singles = np.array([scorer.predict(row[None, :])[0] for row in rows[:20]])
    assert np.array_equal(first[:20], singles)


@models
def test_inputs_are_not_mutated(directory: Path) -> None:
    scorer = Scorer.load(directory)
    rows = probe_rows(scorer)
    rows[::7, 0] = np.nan
    before = rows.copy()
    scorer.predict(rows)
    scorer.reasons(rows[0])
    scorer.contributions(rows)
    assert np.array_equal(rows, before, equal_nan=True)
    if scorer.columns is not None:
        matrix = np.zeros((5, len(CATALOGUE[scorer.card.trigger])))
        kept = matrix.copy()
        scorer.verdicts(scorer.fire(matrix))
        assert np.array_equal(matrix, kept)


@models
def test_missing_features_are_tolerated(directory: Path) -> None:
    scorer = Scorer.load(directory)
    rows = probe_rows(scorer, n=len(scorer.feature_names) + 1)
    for j in range(len(scorer.feature_names)):
        rows[j, j] = np.nan  # each feature missing once
    rows[-1, :] = np.nan  # and everything missing at once
    scores = scorer.predict(rows)
    assert np.all(np.isfinite(scores)) and np.all((scores >= 0) & (scores <= 1))
    assert scorer.reasons(rows[-1])  # an explanation even for an empty row


# Textbook rows per trigger: a scam in progress and an ordinary moment of someone's day.
QUIET = {"since_noncontact_call_s": 86_400.0}
TEXTBOOK: dict[str, tuple[dict[str, float], dict[str, float]]] = {
    "transfer": (
        {"noncontact_call_s_2h": 2400, "risky_call_s_2h": 2400, "max_noncontact_call_s_2h": 2400,
         "since_noncontact_call_s": 0, "caller_fanout_max_2h": 60, "risk_context": 1,
         "amount_cny": 50_000, "payee_is_new": 1, "new_payee_transfers_2h": 1,
         "new_payee_amount_2h": 50_000, "new_payee_transfers_24h": 1,
         "new_payee_amount_24h": 50_000, "payee_payers_24h": 3, "payee_risky_payers_24h": 3,
         "payee_risky_share_24h": 1, "payee_large_payers_24h": 3},
        {**QUIET, "amount_cny": 300},
    ),
    "call": (
        {"noncontact_call_s_2h": 2400, "risky_call_s_2h": 2400, "max_noncontact_call_s_2h": 2400,
         "since_noncontact_call_s": 0, "caller_fanout_max_2h": 80, "risk_context": 1,
         "call_duration_s": 2400, "caller_origin_risky": 1, "caller_fanout_1h": 80},
        {**QUIET, "noncontact_call_s_2h": 90, "max_noncontact_call_s_2h": 90,
         "call_duration_s": 90, "caller_fanout_1h": 1},
    ),
}  # fmt: skip
SICHUAN = Path("/work/shared/data/sichuan/train.csv")


def row(scorer: Scorer, values: dict[str, float]) -> np.ndarray:
    return np.array([[values.get(name, 0.0) for name in scorer.feature_names]])


@models
def test_high_scores_mean_fraud(directory: Path) -> None:
    """Increasing calibration, and labelled or textbook fraud scores above ordinary life."""
    scorer = Scorer.load(directory)
    assert np.all(np.diff(scorer.card.calibration.apply(np.linspace(-10, 10, 201))) >= 0)
    trigger = scorer.card.trigger
    if trigger in TEXTBOOK:
        scam, ordinary = TEXTBOOK[trigger]
        high, low = scorer.predict(row(scorer, scam))[0], scorer.predict(row(scorer, ordinary))[0]
        assert high > 0.5 > low, (high, low)
    elif (
        trigger == TABLE
        and SICHUAN.is_file()
        and (ROOT / scorer.card.training.data).resolve() == SICHUAN.resolve()
    ):
        from fraud_warning.models.metrics import roc_auc
        from fraud_warning.models.tables import read_table

        table = read_table(SICHUAN, "label", list(scorer.feature_names))
        assert roc_auc(table.y, scorer.predict(table.x)) > 0.9
    else:
        pytest.skip(f"no labelled rows for trigger {trigger}")


@models
def test_save_load_round_trip(directory: Path, tmp_path: Path) -> None:
    scorer = Scorer.load(directory)
    again = Scorer.load(scorer.save(tmp_path / directory.name))
    rows = probe_rows(scorer)
    rows[::5, 1] = np.nan
    assert np.array_equal(scorer.predict(rows), again.predict(rows))
    assert again.card.model_copy(update={"model_sha256": ""}) == scorer.card.model_copy(
        update={"model_sha256": ""}
    )
    assert scorer.reasons(rows[3]) == again.reasons(rows[3])
