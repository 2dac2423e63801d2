"""Pairwise agreement, ties, Kendall's tau-b and Kendall's W."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import kendalltau, rankdata, spearmanr

from agreement.metrics import Judgement, build_arrays, kendall_w, pair_table, project_report
from agreement.metrics.ranking import NO_PAIR, NO_RANKING, NO_STRICT, NO_W, headline


def judgement(prompt, annotator, ranking, completions=None, **kw):
    ranking = tuple(tuple(g) for g in ranking)
    completions = completions or tuple(sorted(c for g in ranking for c in g))
    return Judgement(
        prompt_id=prompt,
        annotator=annotator,
        completion_ids=tuple(completions),
        ranking=ranking,
        **kw,
    )


X = judgement(1, "x", [["a"], ["b", "c"], ["d"]])
Y = judgement(1, "y", [["b"], ["a"], ["c", "d"]])


def test_hand_worked_two_annotators_with_ties():
    # Pairs ab ac ad bc bd cd; x: > > > = > >, y: < > > > > =.
    # Both strict on ab ac ad bd, agreeing on 3; identical answers on ac ad bd out of 6.
    h = headline(build_arrays([X, Y]))
    assert h["pairwise_agreement"].value == pytest.approx(3 / 4)
    assert h["pairwise_agreement_with_ties"].value == pytest.approx(3 / 6)
    assert h["tie_rate"].value == pytest.approx(2 / 12)
    # W by hand: ranks x 1 2.5 2.5 4, y 2 1 3.5 3.5; R = 3 3.5 6 7.5; S = 13.5;
    # T = 6 per rater; W = 12 * 13.5 / (4 * 60 - 2 * 12) = 0.75.
    assert h["kendall_w_mean"].value == pytest.approx(0.75)
    # tau-b: concordant - discordant = 2, untied pairs 5 and 5.
    assert pair_table(build_arrays([X, Y])).tau_b[0] == pytest.approx(2 / 5)


def test_kendall_w_hand_worked_tie_correction():
    # m = 2, n = 3: ranks 1 2 3 and 1.5 1.5 3; S = 6.5, T = 6; W = 78 / 84.
    a = judgement(1, "a", [["p"], ["q"], ["r"]])
    b = judgement(1, "b", [["p", "q"], ["r"]])
    assert kendall_w(build_arrays([a, b]))[0][0] == pytest.approx(13 / 14)


def test_reversed_rankings_disagree_completely():
    a = judgement(1, "a", [["p"], ["q"], ["r"]])
    b = judgement(1, "b", [["r"], ["q"], ["p"]])
    h = headline(build_arrays([a, b]))
    assert h["pairwise_agreement"].value == 0.0
    assert h["kendall_w_mean"].value == pytest.approx(0.0)


def ranking_of(k):
    """Tie groups over completions c0..c{k-1}, from a random level per completion."""
    return st.lists(st.integers(0, k - 1), min_size=k, max_size=k).map(
        lambda levels: [
            [f"c{i}" for i in range(k) if levels[i] == lv] for lv in sorted(set(levels))
        ]
    )


ranking_st = st.integers(2, 9).flatmap(ranking_of)


def positions(ranking, completions):
    pos = {c: i for i, g in enumerate(ranking) for c in g}
    return [pos[c] for c in completions]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(2, 9), min_size=1, max_size=6), st.data())
def test_tau_b_matches_scipy_per_prompt_and_pair_mean(ks, data):
    js, expected = [], []
    for p, k in enumerate(ks):
        first, second = data.draw(ranking_of(k)), data.draw(ranking_of(k))
        ids = tuple(f"c{i}" for i in range(k))
        js += [judgement(p, "u", first, ids), judgement(p, "v", second, ids)]
        tau = kendalltau(positions(first, ids), positions(second, ids)).statistic
        expected.append(tau)
    arrays = build_arrays(js)
    np.testing.assert_allclose(pair_table(arrays).tau_b, expected, atol=1e-12, equal_nan=True)
    pair = project_report(arrays, bootstrap=0)["annotator_pairs"][0]
    defined = [t for t in expected if not np.isnan(t)]
    if defined:
        assert pair["kendall_tau_b"] == pytest.approx(np.mean(defined))
    else:
        assert pair["kendall_tau_b"] is None and pair["reasons"]["kendall_tau_b"]


def _w_reference(rank_matrix):
    """Kendall's W written out from the textbook definition, ranks via scipy.rankdata."""
    r = np.array([rankdata(row) for row in rank_matrix])
    m, n = r.shape
    s = ((r.sum(axis=0) - m * (n + 1) / 2) ** 2).sum()
    ties = sum(sum(t**3 - t for t in np.unique(row, return_counts=True)[1]) for row in rank_matrix)
    return 12 * s / (m**2 * (n**3 - n) - m * ties)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 9), st.integers(2, 5), st.data())
def test_kendall_w_against_reference_and_spearman_identity(k, m, data):
    perms = [data.draw(st.permutations(range(k))) for _ in range(m)]
    js = [judgement(0, f"a{i}", [[f"c{c}"] for c in perm]) for i, perm in enumerate(perms)]
    w = kendall_w(build_arrays(js))[0][0]
    ids = sorted(f"c{c}" for c in range(k))
    rank = [[perm.index(int(c[1:])) + 1 for c in ids] for perm in perms]
    assert w == pytest.approx(_w_reference(rank))
    # Without ties, the mean Spearman correlation over rater pairs is (m W - 1) / (m - 1).
    rho = [spearmanr(a, b).statistic for a, b in itertools.combinations(rank, 2)]
    assert np.mean(rho) == pytest.approx((m * w - 1) / (m - 1), abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(ranking_st, st.integers(2, 4))
def test_identical_rankings_agree_fully(ranking, m):
    arrays = build_arrays([judgement(0, f"a{i}", ranking) for i in range(m)])
    h = headline(arrays)
    assert h["pairwise_agreement_with_ties"].value == 1.0
    if len(ranking) > 1:  # at least one strict pair
        assert h["pairwise_agreement"].value == 1.0
        assert h["kendall_w_mean"].value == pytest.approx(1.0)
        assert np.allclose(pair_table(arrays).tau_b, 1.0)
    else:
        assert h["pairwise_agreement"].value is None
        assert h["pairwise_agreement"].reason == NO_STRICT
        assert h["kendall_w_mean"].reason == NO_W


def test_undefined_statistics_carry_reasons():
    lone = headline(build_arrays([X]))
    assert lone["pairwise_agreement"] == (None, NO_PAIR)
    assert lone["pairwise_agreement_with_ties"] == (None, NO_PAIR)
    assert lone["tie_rate"].value == pytest.approx(1 / 6)
    skipped = headline(build_arrays([judgement(1, "x", [], ("a", "b"), skipped=True)]))
    assert skipped["tie_rate"] == (None, NO_RANKING)
    ties = headline(build_arrays([judgement(1, u, [["a", "b", "c"]]) for u in "xy"]))
    assert ties["pairwise_agreement"] == (None, NO_STRICT)
    assert ties["pairwise_agreement_with_ties"].value == 1.0
    assert ties["tie_rate"].value == 1.0
    assert ties["kendall_w_mean"] == (None, NO_W)


def test_resubmission_replaces_the_earlier_judgement():
    old = judgement(1, "y", [["d"], ["c"], ["b"], ["a"]], created_at=100.0)
    new = judgement(1, "y", [["a"], ["b", "c"], ["d"]], created_at=200.0)
    arrays = build_arrays([new, X, old])
    assert arrays.n_rows == 2
    assert headline(arrays)["pairwise_agreement"].value == 1.0


def test_unknown_completion_is_an_error():
    bad = judgement(1, "x", [["a"], ["zzz"]], ("a", "b"))
    with pytest.raises(ValueError, match="zzz"):
        build_arrays([bad])
    with pytest.raises(ValueError, match="saw completions"):
        build_arrays([X, judgement(1, "y", [["a"], ["b"]])])
