"""`python -m bench model-cost`'s measuring functions on a handful of rows, one repeat.

No timing is asserted (the machine is shared); what is checked is the result's shape and
that scoring in batches and one row at a time give the same scores, to 1e-12.
"""

from __future__ import annotations

import numpy as np
import pytest

from bench import model_cost
from bench.model_cost import Recorded
from fraud_warning.features import CATALOGUE
from fraud_warning.feed.generate import generate_feed
from fraud_warning.models.load import load_models
from fraud_warning.models.scorer import Fired, Scorer
from fraud_warning.registry import load_registry
from tests.models.conftest import ROOT, SHIPPED, synthetic

HANDFUL = 7


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Recorded]:
    """Each shipped stream scorer's matrices over a tiny generated city (under a second)."""
    city = tmp_path_factory.mktemp("city")
    generate_feed(city, subscribers=300, hours=6, seed=5, fraud_rate=40)
    registry = load_registry(ROOT / "rules", SHIPPED)
    out, events = model_cost.collect(city, registry)
    assert events > 0
    return out


@pytest.fixture(scope="module")
def scorers() -> dict[str, Scorer]:
    loaded = load_models(SHIPPED)  # the project's loader, as the benchmark's registry uses
    return {s.card.trigger: s for s in loaded.scorers}


def handful(scorer: Scorer, seed: int = 3) -> np.ndarray:
    """A few catalogue-order rows above the prefilter, some with missing features."""
    names = list(CATALOGUE[scorer.card.trigger])
    x, _ = synthetic(HANDFUL, names, seed)
    for feature, bound in scorer.card.prefilter.items():
        x[:, names.index(feature)] = np.maximum(x[:, names.index(feature)], bound)
    x[1, 0] = np.nan
    x[4, :] = np.nan
    for feature, bound in scorer.card.prefilter.items():
        x[4, names.index(feature)] = bound  # everything else missing, still a candidate
    return x


def test_every_shipped_stream_model_is_recorded_with_its_candidates(
    recorded: dict[str, Recorded],
) -> None:
    assert set(recorded) == {"transfer-scorer@1", "call-scorer@1"}
    for rec in recorded.values():
        # the catalogue's columns first (rule-defined window features may follow them)
        width = rec.batches[0].shape[1] if rec.batches else 0
        assert width >= len(CATALOGUE[rec.scorer.card.trigger])
        assert all(m.ndim == 2 and m.shape[1] == width for m in rec.batches)
        candidates = rec.candidates()
        # a candidate is exactly a row the scorer evaluates in the stream
        assert candidates.shape == (sum(rec.scorer.fire(m).evaluated for m in rec.batches), width)
        assert model_cost.candidate_mask(rec.scorer, candidates).all()


def test_cost_on_a_handful_of_real_candidates(recorded: dict[str, Recorded]) -> None:
    for key, rec in recorded.items():
        fig = model_cost.cost(rec, pool=HANDFUL, batches=(1, 4), repeat=1)
        assert fig["pool"] == min(HANDFUL, fig["candidates"]) > 0, key
        assert set(fig["batched"]) == {"1", "4"}
        for row in [*fig["batched"].values(), fig["stream"], fig["one_row"]]:
            assert row["us_per_row"] > 0 and len(row["repeats_us"]) == 1
        assert fig["max_abs_diff"] <= model_cost.TOLERANCE
        if fig["reasons"] is not None:
            assert fig["reasons"]["explained_rows"] > 0
            assert fig["reasons"]["max_abs_diff"] <= model_cost.TOLERANCE


@pytest.mark.parametrize("trigger", ["transfer", "call"])
def test_batched_and_one_row_scores_agree(scorers: dict[str, Scorer], trigger: str) -> None:
    scorer = scorers[trigger]
    rows = handful(scorer)
    base, scores = model_cost.one_row(scorer, rows, repeat=1)
    assert base.rows == HANDFUL and scores.shape == (HANDFUL,)
    assert ((scores >= 0) & (scores <= 1)).all()
    for batch in (1, 3, HANDFUL):
        timing, fired = model_cost.batched(scorer, rows, batch, repeat=1)
        assert timing.rows == HANDFUL and fired.evaluated == HANDFUL
        np.testing.assert_allclose(
            model_cost.batched_scores(scorer, rows, batch), scores, rtol=0, atol=1e-12
        )
        # the timed path (fire) fires the same rows with the same scores
        assert fired.rows.tolist() == np.flatnonzero(scores >= scorer.card.threshold).tolist()
        np.testing.assert_allclose(fired.scores, scores[fired.rows], rtol=0, atol=1e-12)
    stream = model_cost.stream(scorer, [rows, rows[:2]], repeat=1)
    assert stream.rows == HANDFUL + 2


@pytest.mark.parametrize("trigger", ["transfer", "call"])
def test_contributions_batched_and_one_row_agree(scorers: dict[str, Scorer], trigger: str) -> None:
    scorer = scorers[trigger]
    values = model_cost.model_rows(scorer, handful(scorer))
    together, contrib = model_cost.contributions_batched(scorer, values, repeat=1)
    alone, contrib_one = model_cost.contributions_one_row(scorer, values, repeat=1)
    assert contrib.shape == (HANDFUL, len(scorer.feature_names) + 1)
    assert together.rows == alone.rows == HANDFUL
    np.testing.assert_allclose(contrib, contrib_one, rtol=0, atol=1e-12)
    # contributions add up to the margin the score is calibrated from
    np.testing.assert_allclose(contrib.sum(axis=1), scorer.margin(values), atol=1e-9)
    fired = Fired(HANDFUL, np.arange(HANDFUL), scorer.predict(values), values)
    verdicts = model_cost.reasons_stream(scorer, [fired, fired], repeat=1)
    assert verdicts.rows == 2 * HANDFUL and verdicts.us > 0


def test_spread_keeps_stream_order_and_ends() -> None:
    rows = np.arange(20, dtype=np.float64).reshape(10, 2)
    picked = model_cost.spread(rows, 4)
    assert picked.shape == (4, 2)
    assert picked[0, 0] == 0 and picked[-1, 0] == 18
    assert (np.diff(picked[:, 0]) > 0).all()
    assert model_cost.spread(rows, 50) is rows


def test_measure_loops_until_the_least_time() -> None:
    calls = []
    timing = model_cost.measure(lambda: calls.append(1), rows=10, repeat=3, min_seconds=0.001)
    assert len(timing.runs) == 3 and len(calls) > 4  # one warm-up, then at least one each
    assert timing.us == sorted(timing.runs)[1]
