"""The batched Bradley-Terry fit against a general-purpose optimiser."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize
from scipy.special import expit, log_expit

from agreement.metrics import Judgement, build_arrays, fit_bradley_terry, loo_agreement
from agreement.metrics.bt import score_signs, tie_groups
from agreement.metrics.ranking import preference_signs


def reference_fit(wins, prior):
    k = wins.shape[0]
    w = wins + prior * (1 - np.eye(k))

    def nll(s):
        d = s[:, None] - s[None, :]
        p = expit(d)
        grad = -((w - (w + w.T) * p).sum(axis=1))
        return -(w * log_expit(d)).sum(), grad

    s = minimize(nll, np.zeros(k), jac=True, method="BFGS", options={"gtol": 1e-10}).x
    return s - s.mean()


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 9), st.integers(0, 2**31), st.sampled_from([0.1, 0.5, 2.0]))
def test_matches_direct_maximisation(k, seed, prior):
    rng = np.random.default_rng(seed)
    wins = rng.integers(0, 4, size=(k, k)) * rng.random((k, k))
    np.fill_diagonal(wins, 0)
    scores, converged, _ = fit_bradley_terry(wins[None], np.ones((1, k), bool), prior=prior)
    assert converged.all()
    np.testing.assert_allclose(scores[0], reference_fit(wins, prior), atol=1e-5)


def test_batches_with_padding_and_perfect_separation():
    # Problem 0: K=3, a beats everything always (perfect separation). Problem 1: K=2 padded to 3.
    wins = np.zeros((2, 3, 3))
    wins[0, 0, 1] = wins[0, 0, 2] = wins[0, 1, 2] = 50
    wins[1, 1, 0] = 3
    present = np.array([[True, True, True], [True, True, False]])
    scores, converged, _ = fit_bradley_terry(wins, present, prior=0.5)
    assert converged.all()
    assert np.isfinite(scores[0]).all() and scores[0, 0] > scores[0, 1] > scores[0, 2]
    assert np.isnan(scores[1, 2]) and scores[1, 1] > scores[1, 0]
    np.testing.assert_allclose(scores[1, :2], reference_fit(wins[1, :2, :2], 0.5), atol=1e-6)
    np.testing.assert_allclose(np.nansum(scores, axis=1), 0.0, atol=1e-12)


def test_tie_groups_follow_scores():
    scores = np.array([[0.3, 1.0, 0.3 + 1e-9, np.nan], [0.0, 0.0, 0.0, 0.0]])
    assert tie_groups(scores).tolist() == [[1, 0, 1, -1], [0, 0, 0, 0]]


@pytest.mark.parametrize("k", [2, 9])
def test_many_problems_at_once_equal_one_at_a_time(k):
    rng = np.random.default_rng(k)
    wins = rng.random((300, k, k)) * 3
    present = np.ones((300, k), bool)
    together, _, _ = fit_bradley_terry(wins, present)
    alone = np.vstack(
        [fit_bradley_terry(wins[i : i + 1], present[:1])[0] for i in range(0, 300, 37)]
    )
    np.testing.assert_allclose(together[::37], alone, atol=1e-9)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31))
def test_leave_one_out_agreement_against_explicit_fits(seed):
    """Every row against a plain fit of the others' weighted wins: covers both the 2-ranking
    shortcut (complete and partial partners) and the general path."""
    rng = np.random.default_rng(seed)
    js = []
    for p in range(6):
        k = int(rng.integers(2, 7))
        ids = tuple(f"c{i}" for i in range(k))
        for a in range(int(rng.integers(1, 4))):
            level = rng.integers(0, k, size=k)
            keep = [i for i in range(k) if rng.random() < 0.85 or k == 2]
            groups = [
                tuple(ids[i] for i in keep if level[i] == lv) for lv in sorted(set(level[keep]))
            ]
            js.append(
                Judgement(prompt_id=p, annotator=f"a{a}", completion_ids=ids, ranking=tuple(groups))
            )
    arrays = build_arrays(js)
    weight = rng.uniform(0.1, 3.0, arrays.n_rows)
    agree, total, _ = loo_agreement(arrays, weight)
    sign, valid = preference_signs(arrays.rank)
    ranked = arrays.ranked
    ci, cj = np.triu_indices(arrays.k_max, 1)
    for r in range(arrays.n_rows):
        others = [
            o
            for o in np.flatnonzero(ranked)
            if arrays.row_prompt[o] == arrays.row_prompt[r] and o != r
        ]
        if not ranked[r] or not others:
            assert agree[r] == total[r] == 0
            continue
        k = arrays.n_completions[arrays.row_prompt[r]]
        wins = np.zeros((arrays.k_max, arrays.k_max))
        for o in others:
            rk = arrays.rank[o]
            for a, b in zip(ci, cj, strict=True):
                if np.isfinite(rk[a]) and np.isfinite(rk[b]):
                    wins[a, b] += weight[o] * (
                        1.0 if rk[a] < rk[b] else 0.5 if rk[a] == rk[b] else 0.0
                    )
                    wins[b, a] += weight[o] * (
                        1.0 if rk[b] < rk[a] else 0.5 if rk[a] == rk[b] else 0.0
                    )
        present = np.arange(arrays.k_max)[None, :] < k
        scores, _, _ = fit_bradley_terry(wins[None], present)
        c_sign, c_valid = score_signs(scores)
        strict = valid[r] & c_valid[0] & (sign[r] != 0) & (c_sign[0] != 0)
        assert total[r] == strict.sum()
        assert agree[r] == (strict & (sign[r] == c_sign[0])).sum()
