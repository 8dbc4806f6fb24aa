"""`models train --csv --tune`: everything tuned comes from the rows the tuner is given."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fraud_warning.cli import main
from fraud_warning.models import tune
from fraud_warning.models.card import CARD, MODEL, read_card
from fraud_warning.models.train import Settings, stratified_folds

SMALL_GRID: tuple[dict[str, float | int], ...] = ({}, {"num_leaves": 4, "min_data_in_leaf": 10})


def rows(n: int = 600, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Column 0 is the row's id (a marker that shows which rows a function saw)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    x[:, 0] = np.arange(n, dtype=np.float64)
    y = ((x[:, 1] + 0.5 * x[:, 2] + rng.normal(scale=0.7, size=n)) > 0.6).astype(np.int8)
    return x, y


@pytest.fixture
def small_grid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tune, "GRID", SMALL_GRID)


def test_outer_fold_rows_never_reach_the_tuner(
    small_grid: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    x, y = rows()
    seen: list[set[int]] = []
    real = tune.tune_fit

    def spy(xs: np.ndarray, ys: np.ndarray, names: list[str], s: Settings) -> Any:
        seen.append({int(v) for v in xs[:, 0]})
        return real(xs, ys, names, s)

    monkeypatch.setattr(tune, "tune_fit", spy)
    settings = Settings(max_trees=30)
    outcome, _ = tune.train_nested_cv_tuned(x, y, ["id", "a", "b", "c"], settings, k=3)
    folds = stratified_folds(y, 3, settings.seed)
    assert len(seen) == 4  # one tuner per outer fold, then the shipped model on every row
    for fold, ids in zip(folds, seen, strict=False):
        assert ids.isdisjoint(fold.tolist())
        assert ids | set(fold.tolist()) == set(range(y.size))
    assert seen[-1] == set(range(y.size))
    assert len(outcome.folds) == 3
    assert all(f["num_leaves"] in (4, 15) for f in outcome.folds)  # what each fold picked
    assert "tuned inside" in outcome.split


def test_out_of_fold_margins_come_from_models_that_did_not_train_on_the_row(
    small_grid: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    x, y = rows(400)
    calls: list[tuple[set[int], set[int]]] = []
    real = tune._early_stopped

    def spy(xs: np.ndarray, ys: np.ndarray, train: Any, valid: Any, *rest: Any) -> Any:
        calls.append(({int(v) for v in xs[train, 0]}, {int(v) for v in xs[valid, 0]}))
        return real(xs, ys, train, valid, *rest)

    monkeypatch.setattr(tune, "_early_stopped", spy)
    margins, trees = tune.out_of_fold(x, y, ["id", "a", "b", "c"], Settings(max_trees=20))
    assert len(calls) == tune.INNER and 1 <= trees <= 20
    assert all(train.isdisjoint(valid) for train, valid in calls)
    assert set().union(*(valid for _, valid in calls)) == set(range(y.size))
    assert margins.shape == (y.size,) and np.isfinite(margins).all()


def test_tuning_is_deterministic_and_respects_the_tree_cap(small_grid: None) -> None:
    x, y = rows()
    names = ["id", "a", "b", "c"]
    first, chosen = tune.tune_fit(x, y, names, Settings(max_trees=25))
    again, _ = tune.tune_fit(x, y, names, Settings(max_trees=25))
    assert first.model_text == again.model_text
    assert first.threshold == again.threshold and first.calibration == again.calibration
    assert 1 <= first.trees <= 25
    assert chosen.threshold_rows == tune.INNER_ROWS
    assert "out-of-fold" in chosen.threshold_rule()


def test_default_settings_are_unchanged_for_the_stream_models() -> None:
    """`--tune` and the new Settings fields must not move what `--feed` training writes."""
    assert Settings().params() == {
        "objective": "binary",
        "learning_rate": 0.05,
        "num_leaves": 15,
        "min_data_in_leaf": 20,
        "feature_fraction": 0.8,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambda_l2": 1.0,
        "seed": 7,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": 1,
        "verbosity": -1,
    }
    assert Settings().threshold_rule() == "best F1 on the validation rows"
    assert tune.GRID[0] == {}  # the defaults are always a candidate


COLUMNS = ["opposite_count", "opposite_unique", "voc_day_nunique", "sms_count", "day_nunique"]


@pytest.fixture(scope="module")
def sichuan_like(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Fraud numbers call many distinct numbers on few days and send few SMS."""
    rng = np.random.default_rng(11)
    n = 500
    y = (rng.random(n) < 0.3).astype(np.int8)
    calls = rng.poisson(np.where(y == 1, 80, 300)) + 1.0
    unique = np.minimum(calls, rng.poisson(np.where(y == 1, 50, 60)) + 1.0)
    days = rng.integers(1, 31, n).astype(float)
    sms = rng.poisson(np.where(y == 1, 40, 200)).astype(float)
    sms_days = np.where(sms > 0, rng.integers(1, 31, n), 0).astype(float)
    lines = ["phone_no_m," + ",".join(COLUMNS) + ",label"]
    for i in range(n):
        cells = [calls[i], unique[i], days[i], sms[i], sms_days[i]]
        text = ["" if i % 40 == 0 and j == 2 else f"{v:g}" for j, v in enumerate(cells)]
        lines.append(f"p{i:04d}," + ",".join(text) + f",{y[i]}")
    path = tmp_path_factory.mktemp("sichuan") / "train.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_cli_tune_with_derived_features_round_trips(
    sichuan_like: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(tune, "GRID", SMALL_GRID)
    base = ["models", "train", "--csv", str(sichuan_like), "--label", "label", "--id", "sc"]
    flags = ["--folds", "3", "--trees", "30", "--features", "derived", "--tune", "--quiet"]
    assert main([*base, "--out", str(tmp_path / "a"), *flags]) == 0
    assert main([*base, "--out", str(tmp_path / "b"), *flags]) == 0
    assert (tmp_path / "a" / MODEL).read_bytes() == (tmp_path / "b" / MODEL).read_bytes()
    card = read_card(tmp_path / "a" / CARD)
    assert card.features[: len(COLUMNS)] == COLUMNS
    assert "unique_opposite_share" in card.features and "sms_share" in card.features
    assert card.command.endswith("--features derived --tune")
    assert card.threshold_rule == f"best F1 on {tune.INNER_ROWS}"
    assert "tuned in the inner folds" in card.validation.method
    assert card.validation.auc is not None and card.validation.auc > 0.8
    assert all("num_leaves" in f for f in card.validation.folds)
    # evaluate computes the derived columns the CSV lacks, as training did
    capsys.readouterr()
    argv = ["models", "evaluate", str(tmp_path / "a"), "--csv", str(sichuan_like)]
    assert main([*argv, "--label", "label", "--json"]) == 0
    assert '"auc"' in capsys.readouterr().out


def test_tune_and_features_are_refused_for_feed_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["models", "train", "--feed", str(tmp_path), "--id", "x", "--out", str(tmp_path / "o")]
    assert main([*argv, "--tune"]) == 2
    assert "--csv training only" in capsys.readouterr().err
    assert main([*argv, "--features", "derived"]) == 2
    assert "--csv training only" in capsys.readouterr().err
