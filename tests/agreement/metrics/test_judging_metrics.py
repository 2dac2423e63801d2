"""Strength and dimension agreement against a small example computed by hand.

Two annotators, a and b, judge four pairs on a -3..+3 scale (negative: response1 better):

    prompt   a    b
    p1      -3   -2
    p2       1    2
    p3       0    0     (both tie)
    p4      -1    1

Direction (sign) agrees on p1, p2, p3, not p4: 3/4. Exact values agree on p3 only: 1/4.
Strict direction (neither tied): p1, p2 agree, p4 not: 2/3.

Krippendorff's alpha, interval. Eight pairable values, n = 8, each unit has m_u = 2 values, so
every ordered within-unit pair weighs 1 / (m_u - 1) = 1.
  D_o = (1/n) * sum over ordered within-unit pairs of (v - v')^2
      = (1/8) * 2 * (1 + 1 + 0 + 4) = 1.5
  D_e = sum over ordered pairs of all values (v - v')^2 / (n (n - 1)); that sum is
      2 n * sum (v - mean)^2 with mean = -2/8 = -0.25, sum v^2 = 20, sum (v - mean)^2 = 19.5,
      so 2 * 8 * 19.5 = 312 and D_e = 312 / 56.
  alpha = 1 - D_o / D_e = 1 - 1.5 * 56 / 312 = 1 - 7/26 = 19/26 = 0.730769...

Ordinal alpha. Value counts n_g: -3:1, -2:1, -1:1, 0:2, 1:2, 2:1. delta(c, k) =
(sum of n_g for g from c to k - (n_c + n_k) / 2)^2.
  within units: (-3,-2): (2 - 1)^2 = 1; (1,2): (3 - 1.5)^2 = 2.25; (0,0): 0;
  (-1,1): (5 - 1.5)^2 = 12.25. D_o = 2 * 15.5 / 8 = 3.875.
  all pairs of distinct values, n_c n_k delta: (-3,-2) 1, (-3,-1) 4, (-3,0) 2*12.25,
  (-3,1) 2*30.25, (-3,2) 49, (-2,-1) 1, (-2,0) 2*6.25, (-2,1) 2*20.25, (-2,2) 36,
  (-1,0) 2*2.25, (-1,1) 2*12.25, (-1,2) 25, (0,1) 4*4, (0,2) 2*12.25, (1,2) 2*2.25:
  sum 328, ordered 656, D_e = 656 / 56.
  alpha = 1 - 3.875 * 56 / 656 = 1 - 217/656 = 439/656 = 0.669207...

Quadratic-weighted kappa, a against b, weights (i - j)^2 (any common scale cancels):
  observed: mean (a - b)^2 = (1 + 1 + 0 + 4) / 4 = 1.5
  expected by chance (independent margins): E(A - B)^2 = var(a) + var(b) + (mean a - mean b)^2
      with population variances: a = -3,1,0,-1: mean -0.75, var 2.75 - 0.5625 = 2.1875;
      b = -2,2,0,1: mean 0.25, var 2.25 - 0.0625 = 2.1875; (mean a - mean b)^2 = 1;
      E = 5.375
  kappa_w = 1 - 1.5 / 5.375 = 1 - 12/43 = 31/43 = 0.720930...
"""

import itertools

import krippendorff
import numpy as np
import pytest

from agreement.metrics import Judgement
from agreement.metrics.judging import (
    dimension_disagreement,
    judging_report,
    strength_report,
    weighted_kappa,
)

SCORES = {"p1": (-3, -2), "p2": (1, 2), "p3": (0, 0), "p4": (-1, 1)}


def pair(prompt, annotator, score, tie_kind="", dimensions=None):
    """A pairwise judgement of completions R1, R2 with HelpSteer3's signed score."""
    if score == 0:
        ranking, strength = (("R1", "R2"),), 0
    else:
        ranking = (("R1",), ("R2",)) if score < 0 else (("R2",), ("R1",))
        strength = abs(score)
    return Judgement(prompt_id=prompt, annotator=annotator, completion_ids=("R1", "R2"),
                     ranking=ranking, strength=strength, tie_kind=tie_kind,
                     dimensions=dimensions or {})  # fmt: skip


def example():
    return [pair(p, name, s[i]) for p, s in SCORES.items() for i, name in enumerate("ab")]


def test_strength_figures_match_the_hand_computed_example():
    report = strength_report(example(), levels=3)
    assert report["direction_agreement"] == pytest.approx(3 / 4)
    assert report["direction_agreement_strict"] == pytest.approx(2 / 3)
    assert report["exact_agreement"] == pytest.approx(1 / 4)
    assert report["krippendorff_alpha"]["interval"] == pytest.approx(19 / 26)
    assert report["krippendorff_alpha"]["ordinal"] == pytest.approx(439 / 656)
    (kappa,) = report["weighted_kappa"]
    assert kappa["annotators"] == ["a", "b"] and kappa["prompts"] == 4
    assert kappa["kappa"] == pytest.approx(31 / 43)


def test_the_hand_values_hold_by_direct_formulas():
    """The same figures from textbook formulas written out here, not from our modules: the
    `krippendorff` package for alpha, and kappa's double sum over categories."""
    a = np.array([s[0] for s in SCORES.values()], dtype=float)
    b = np.array([s[1] for s in SCORES.values()], dtype=float)
    data = np.vstack([a, b])
    assert krippendorff.alpha(data, level_of_measurement="interval") == pytest.approx(19 / 26)
    assert krippendorff.alpha(
        data, level_of_measurement="ordinal", value_domain=[-3, -2, -1, 0, 1, 2, 3]
    ) == pytest.approx(439 / 656)
    categories = range(-3, 4)
    observed = {
        (i, j): np.mean((a == i) & (b == j)) for i, j in itertools.product(categories, categories)
    }
    pa = {i: np.mean(a == i) for i in categories}
    pb = {j: np.mean(b == j) for j in categories}
    num = sum((i - j) ** 2 * observed[i, j] for i, j in observed)
    den = sum((i - j) ** 2 * pa[i] * pb[j] for i, j in observed)
    assert 1 - num / den == pytest.approx(31 / 43)
    assert weighted_kappa(a.astype(int), b.astype(int), 3).value == pytest.approx(31 / 43)


def test_tie_kinds_are_told_apart():
    judgements = [
        pair("t1", "a", 0, "both_good"), pair("t1", "b", 0, "both_bad"),
        pair("t2", "a", 0, "both_bad"), pair("t2", "b", 0, "both_bad"),
        pair("t3", "a", 0, "both_good"), pair("t3", "b", 2),
        pair("t4", "a", 0), pair("t4", "b", 0, "both_good"),
    ]  # fmt: skip
    assert strength_report(judgements, levels=3)["tie_confusion"] == {
        "both_bad/both_bad": 1, "both_bad/both_good": 1, "both_good/unspecified": 1,
        "tie/not_tie": 1,
    }  # fmt: skip


def test_undefined_figures_say_why():
    report = strength_report([pair("p1", "a", 1)], levels=3)
    assert report["direction_agreement"] is None
    assert "two annotators" in report["reasons"]["direction_agreement"]
    assert report["krippendorff_alpha"]["interval"] is None
    assert report["weighted_kappa"] == []
    same = weighted_kappa([1, 1], [1, 1], 3)
    assert same.value is None and "one value" in same.reason


def test_dimensions_against_the_overall_judgement():
    """Three judgements of three outputs X, Y, Z (pairs XY, XZ, YZ):
    1. overall X > Y > Z, honesty X > Y > Z: no pair differs;
    2. overall X > Y > Z, honesty Z > X = Y: XY (tie vs X), XZ, YZ differ: 3 of 3;
    3. overall X = Y > Z, honesty X = Y > Z: none.
    Pairs differing: 3 of 9; judgements differing: 1 of 3."""
    ids = ("X", "Y", "Z")
    rows = [
        (("X",), ("Y",), ("Z",)),
        (("X",), ("Y",), ("Z",)),
        (("X", "Y"), ("Z",)),
    ]
    honesty = [[["X"], ["Y"], ["Z"]], [["Z"], ["X", "Y"]], [["X", "Y"], ["Z"]]]
    judgements = [
        Judgement(prompt_id=i, annotator="a", completion_ids=ids, ranking=r,
                  dimensions={"honesty": {"ranking": h}})
        for i, (r, h) in enumerate(zip(rows, honesty, strict=True))
    ]  # fmt: skip
    record = dimension_disagreement(judgements, "honesty")
    assert record["disagrees_with_overall"] == pytest.approx(3 / 9)
    assert record["judgements_disagreeing"] == pytest.approx(1 / 3)
    assert dimension_disagreement(judgements, "tone")["disagrees_with_overall"] is None


def test_the_judging_report_has_per_dimension_ranking_and_strength_figures():
    judgements = [
        pair(p, name, s[i], dimensions={"helpfulness": {
            "ranking": [["R1"], ["R2"]] if name == "a" else [["R2"], ["R1"]], "strength": 1}})
        for p, s in SCORES.items() for i, name in enumerate("ab")
    ]  # fmt: skip
    report = judging_report(judgements, strength_levels=3, dimensions={"helpfulness": "Help"})
    assert report["strength"]["krippendorff_alpha"]["interval"] == pytest.approx(19 / 26)
    help_ = report["dimensions"]["helpfulness"]
    assert help_["name"] == "Help"
    # a always prefers R1 and b R2 on helpfulness: they never agree.
    assert help_["pairwise_agreement"] == 0.0
    assert help_["strength"]["direction_agreement"] == 0.0
    # overall, a preferred R1 on p1 and p4 (and tied p3) ... a's helpfulness R1 > R2 differs
    # from a's overall on p2 and p3; b's R2 > R1 differs on p1 and p3: 4 of 8 judgements.
    assert help_["vs_overall"]["disagrees_with_overall"] == pytest.approx(4 / 8)
