"""`fraud-warning models train|evaluate|list|compare`: outputs, files and exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from fraud_warning.cli import main
from fraud_warning.models.card import CARD, MODEL, read_card
from tests.models.conftest import synthetic

NAMES = ["calls", "spend", "fanout", "night_share"]


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    x, y = synthetic(1500, ["amount_cny", "risky_call_s_2h", "fanout", "night_share"])
    path = tmp_path_factory.mktemp("table") / "subs.csv"
    lines = ["phone_hash," + ",".join(NAMES) + ",label"]
    for i, (row, label) in enumerate(zip(x, y, strict=True)):
        cells = ["" if i % 50 == 0 and j == 3 else f"{v:.4f}" for j, v in enumerate(row)]
        lines.append(f"h{i:05d}," + ",".join(cells) + f",{label}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def trained(table: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("models") / "subs-scorer"
    argv = ["models", "train", "--csv", str(table), "--label", "label", "--id", "subs-scorer"]
    assert main([*argv, "--out", str(out), "--folds", "3", "--trees", "40", "--quiet"]) == 0
    return out


def test_train_from_a_table_writes_a_card_with_honest_figures(trained: Path, table: Path) -> None:
    card = read_card(trained / CARD)
    assert card.trigger == "table" and card.features == NAMES  # the text id column left out
    assert card.status == "experimental"  # a new model never pages until promoted
    assert card.training.source == "csv" and card.training.rows == 1500
    assert card.validation.method.startswith("nested stratified 3-fold")
    assert len(card.validation.folds) == 3 and card.validation.auc is not None
    assert card.validation.auc > 0.7  # noisy labels, 78 positives
    assert card.command.startswith("fraud-warning models train --csv")
    assert "--folds 3 --trees 40" in card.command
    assert (trained / MODEL).read_text().startswith("tree\n")


def test_training_is_deterministic(trained: Path, table: Path, tmp_path: Path) -> None:
    argv = ["models", "train", "--csv", str(table), "--label", "label", "--id", "subs-scorer"]
    assert main([*argv, "--out", str(tmp_path), "--folds", "3", "--trees", "40", "--quiet"]) == 0
    assert (tmp_path / MODEL).read_bytes() == (trained / MODEL).read_bytes()


def test_evaluate_json_has_the_contract_keys(
    trained: Path, table: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["models", "evaluate", str(trained), "--csv", str(table), "--label", "label"]
    assert main([*argv, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {"auc", "average_precision", "precision", "recall", "f1"} <= set(result)
    assert all(0 <= result[k] <= 1 for k in ("auc", "average_precision", "precision", "f1"))
    assert main(argv) == 0
    assert "subs-scorer@1 (experimental, threshold" in capsys.readouterr().out


def test_list_and_compare(trained: Path, table: Path, capsys: pytest.CaptureFixture[str]) -> None:
    challenger = trained.parent / "subs-scorer-v2"
    shutil.copytree(trained, challenger)
    card = (challenger / CARD).read_text().replace("id: subs-scorer", "id: subs-scorer-v2")
    (challenger / CARD).write_text(card.replace("status: experimental", "status: shadow"))
    stable = (trained / CARD).read_text().replace("status: experimental", "status: stable")
    (trained / CARD).write_text(stable)
    capsys.readouterr()
    assert main(["models", "list", str(trained.parent)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == ["subs-scorer-v2@1", "subs-scorer@1"]
    assert "stable" in out[1] and "on table" in out[1]
    argv = ["models", "compare", "--models", str(trained.parent), "--csv", str(table)]
    assert main([*argv, "--label", "label", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)["table"]
    assert report["champion"] == "subs-scorer@1"
    both = report["agreement"]["subs-scorer-v2@1"]
    assert both["only_first"] == both["only_second"] == 0  # the same model: full agreement


def test_a_refused_model_fails_list_with_its_name(
    trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(trained, tmp_path / "subs-scorer")
    (tmp_path / "subs-scorer" / MODEL).write_text("tree\n")
    capsys.readouterr()
    assert main(["models", "list", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "subs-scorer@1): refused: model.txt does not match" in err
    assert "1 model(s) refused" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["models", "train", "--id", "x", "--out", "o"], "give one of --feed DIR or --csv FILE"),
        (["models", "train", "--csv", "t.csv", "--id", "x", "--out", "o"], "needs --label"),
        (["models", "evaluate", "nowhere", "--csv", "t.csv", "--label", "y"], "not found"),
        (["models", "list", "nowhere"], "models directory not found"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "t.csv").write_text("a,y\n1,0\n")
    argv = [str(tmp_path / a) if a in ("t.csv", "o") else a for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_bad_training_data_is_a_usage_error(
    table: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["models", "train", "--csv", str(table), "--label", "nope", "--id", "x"]
    assert main([*argv, "--out", str(tmp_path / "x")]) == 2
    assert "no label column 'nope'" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("a,label\n1,0\n2,3\n")
    argv = ["models", "train", "--csv", str(bad), "--label", "label", "--id", "x"]
    assert main([*argv, "--out", str(tmp_path / "x")]) == 2
    assert "bad.csv:3: label: must be 0 or 1" in capsys.readouterr().err


def test_nan_cells_are_missing_values(table: Path) -> None:
    from fraud_warning.models.tables import read_table

    t = read_table(table, "label")
    assert t.skipped == ["phone_hash"]
    assert np.isnan(t.x[0, 3]) and np.isnan(t.x[:, 3]).sum() == 30
