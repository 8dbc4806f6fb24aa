"""The structural check that stands between a damaged model file and LightGBM's C++
loader (which can abort the whole process on malformed text instead of raising)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fraud_warning.models.card import MODEL
from fraud_warning.models.modeltext import ModelTextError, safe_model_text
from tests.models.conftest import MakeModel


@pytest.fixture
def text(make_model: MakeModel) -> str:
    return (make_model() / MODEL).read_text()


def test_a_good_model_passes_and_keeps_only_header_and_trees(text: str) -> None:
    safe = safe_model_text(text)
    assert safe.startswith("tree\nversion=v4\n") and safe.endswith("end of trees\n")
    assert safe == text[: text.index("end of trees")] + "end of trees\n"
    assert "parameters:" not in safe


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("Tree=1\n", "Tree=one\n", "tree_sizes do not match|Tree=1"),
        ("leaf_value=", "leaf_value=x", "tree_sizes do not match|not numbers"),
        ("objective=binary", "objective=multiclass", "not a binary objective"),
        ("version=v4", "version=v3", "expected v4"),
        ("num_cat=0", "num_cat=1", "categorical"),
        ("\nshrinkage=", "\nshrinkage=1 2\nextra=", "tree_sizes do not match|unexpected"),
    ],
)
def test_malformed_parts_are_refused(text: str, old: str, new: str, message: str) -> None:
    assert old in text
    with pytest.raises(ModelTextError, match=message):
        safe_model_text(text.replace(old, new, 1))


def test_children_that_do_not_form_a_tree_are_refused(text: str) -> None:
    # same byte length, so only the tree check can see it: the root becomes its own child
    head, _, rest = text.partition("left_child=")
    first, _, tail = rest.partition(" ")
    assert first.lstrip("-").isdigit()
    looped = head + "left_child=" + "0".rjust(len(first)).replace(" ", "0")[: len(first)]
    with pytest.raises(ModelTextError):
        safe_model_text(looped + " " + tail)


FUZZ = """
import random, sys
import numpy as np
import lightgbm as lgb
from fraud_warning.models.modeltext import ModelTextError, safe_model_text
text = open(sys.argv[1]).read()
rng = random.Random(int(sys.argv[2]))
for _ in range(int(sys.argv[3])):
    t = list(text)
    for _ in range(rng.randint(1, 3)):
        pos = rng.randrange(len(t))
        op = rng.random()
        if op < 0.4:
            t[pos] = rng.choice("0123456789-.=eE \\nxa")
        elif op < 0.7:
            del t[pos]
        else:
            t.insert(pos, rng.choice("0123456789-. \\n"))
    try:
        safe = safe_model_text("".join(t))
    except ModelTextError:
        continue
    try:
        b = lgb.Booster(model_str=safe)
        b.predict(np.random.default_rng(0).normal(size=(20, b.num_feature())), raw_score=True)
        b.predict(np.full((2, b.num_feature()), np.nan), pred_contrib=True)
    except Exception:
        pass
print("survived")
"""


def test_random_damage_never_reaches_a_lightgbm_abort(
    make_model: MakeModel, tmp_path: Path
) -> None:
    """Whatever passes the check loads or raises in LightGBM, never kills the process.
    Run in a child process, so a regression fails this test instead of the whole run."""
    path = make_model() / MODEL
    script = tmp_path / "fuzz.py"
    script.write_text(FUZZ)
    done = subprocess.run(
        [sys.executable, str(script), str(path), "11", "300"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0 and "survived" in done.stdout, done.stderr[-500:]
