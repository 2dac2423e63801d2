"""The batched Bradley-Terry fit against a general-purpose optimiser."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize
from scipy.special import expit, log_expit

from agreement.metrics import fit_bradley_terry
from agreement.metrics.bt import tie_groups


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
