"""Ensemble disagreement, acquisition and calibration maths, against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rlhf.uncertainty import (
    calibration,
    conservative_score,
    hybrid_threshold,
    pair_bald,
    pair_margin_uncertainty,
    pair_probabilities,
    pair_spread,
    prompt_priority,
    ranking_confidence,
    select_completions,
    wilson_upper,
)


def test_pair_statistics_by_hand():
    p = pair_probabilities(np.array([[0.0], [2.0]]), np.array([[0.0], [0.0]]))
    assert p[:, 0] == pytest.approx([0.5, 1 / (1 + math.exp(-2))])
    split = np.array([[0.9], [0.1]])  # two confident members that disagree
    assert pair_spread(split)[0] == pytest.approx(0.4)
    # H(0.5) - H(0.9) in nats
    h = lambda q: -(q * math.log(q) + (1 - q) * math.log(1 - q))  # noqa: E731
    assert pair_bald(split)[0] == pytest.approx(h(0.5) - h(0.9))
    assert pair_margin_uncertainty(split)[0] == pytest.approx(1.0)
    agree = np.array([[0.5], [0.5]])  # equally unsure members: nothing to learn about them
    assert pair_bald(agree)[0] == pytest.approx(0.0, abs=1e-12)
    assert pair_margin_uncertainty(agree)[0] == pytest.approx(1.0)
    sure = np.array([[0.99], [0.99]])
    assert pair_margin_uncertainty(sure)[0] == pytest.approx(0.02)


def test_prompt_priority_sums_each_prompts_pairs():
    scores = np.array([[0.0, 1.0, 3.0, 0.0], [1.0, 0.0, 3.0, 9.0]])
    owner = np.array([0, 0, 0, 1])  # prompt 1 has one completion: no pair
    got = prompt_priority(scores, owner, 2, rule="spread")
    pairs = [(0, 1), (0, 2), (1, 2)]
    expected = sum(
        pair_spread(pair_probabilities(scores[:, [a]], scores[:, [b]]))[0] for a, b in pairs
    )
    assert got[0] == pytest.approx(expected) and got[1] == 0.0
    with pytest.raises(ValueError, match="rule must be one of"):
        prompt_priority(scores, owner, 2, rule="entropy")


def test_select_completions_starts_from_the_most_disputed_pair():
    scores = np.array([[0.0, 0.1, 5.0, -5.0, 0.0], [0.0, 0.1, -5.0, 5.0, 0.0]])
    chosen = select_completions(scores, 3, rule="spread")
    assert chosen[:2] == [2, 3] and len(set(chosen)) == 3
    assert select_completions(scores, 9) == [0, 1, 2, 3, 4]


def test_conservative_score_and_calibration_by_hand():
    assert conservative_score(np.array([[1.0, 2.0], [3.0, 2.0]]), 1.0).tolist() == [1.0, 2.0]
    # confidences 0.9, 0.9, 0.9 (two right, one wrong) and 0.6 (right), five bins on [0.5, 1]
    report = calibration([0.9, 0.9, 0.1, 0.6], bins=5)
    assert report["n"] == 4
    assert report["ece"] == pytest.approx(0.75 * abs(0.9 - 2 / 3) + 0.25 * abs(0.6 - 1.0))
    assert [(b["n"], round(b["lo"], 2)) for b in report["bins"]] == [(1, 0.6), (3, 0.9)]
    assert calibration([])["ece"] is None


def test_ranking_confidence_is_the_least_sure_adjacent_pair():
    # mean scores 2, 0, 1 -> order 0, 2, 1; adjacent pairs (0, 2) and (2, 1)
    scores = np.array([[2.0, 0.0, 1.0], [2.0, 0.0, 1.0]])
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    assert ranking_confidence(scores) == pytest.approx(min(sig(1.0), sig(1.0)))
    members = np.array([[3.0, 0.0], [1.0, 0.0]])  # members disagree on how sure
    assert ranking_confidence(members) == pytest.approx((sig(3.0) + sig(1.0)) / 2)
    assert ranking_confidence(np.array([[1.0]])) is None


def test_hybrid_threshold_takes_the_most_coverage_within_the_error_budget():
    # (confidence, errors, pairs): the two surest prompts are right, the third wrong
    sample = [(0.95, 0, 1), (0.9, 0, 1), (0.8, 1, 1), (0.7, 0, 1)]
    chosen, curve = hybrid_threshold(sample, max_error=0.34, min_prompts=2, bound="estimate")
    assert [r["covered"] for r in curve] == [1, 2, 3, 4]
    assert [r["error_rate"] for r in curve] == [0.0, 0.0, 0.3333, 0.25]
    assert chosen["threshold"] == 0.7 and chosen["coverage"] == 1.0
    estimate = hybrid_threshold(sample, max_error=0.2, min_prompts=2, bound="estimate")
    assert estimate[0]["threshold"] == 0.9
    assert hybrid_threshold(sample, max_error=0.2, min_prompts=3, bound="estimate")[0] is None
    # by default the Wilson upper bound must pass: 4 pairs vouch for little
    assert hybrid_threshold(sample, max_error=0.34, min_prompts=2)[0] is None
    assert hybrid_threshold(sample, max_error=0.66, min_prompts=2)[0]["threshold"] == 0.9
    many = [(0.9, 0, 1)] * 40 + [(0.6, 1, 1)] * 10
    assert hybrid_threshold(many, max_error=0.1, min_prompts=20)[0]["threshold"] == 0.9
    with pytest.raises(ValueError, match="bound"):
        hybrid_threshold(sample, 0.1, 1, bound="mean")
    # the Wilson upper bound of 0 errors in 2 pairs, by hand
    z = 1.96
    assert curve[1]["error_upper"] == pytest.approx(
        (z * z / 4 + z * math.sqrt(z * z / 16)) / (1 + z * z / 2), abs=1e-4
    )
    assert wilson_upper(0, 0) is None
