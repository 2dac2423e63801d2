"""Consensus rankings: reliability-weighted Bradley-Terry with weights at a fixed point."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agreement.consensus import (
    MAX_WEIGHT,
    MIN_WEIGHT,
    consensus,
    consensus_from_ranking,
    prompt_consensus,
    reliability_weights,
)
from agreement.metrics import Judgement, build_arrays, loo_agreement, synthetic_judgements


def j(prompt, who, ranking, ids=None, skipped=False):
    ranking = tuple(tuple(g) for g in ranking)
    ids = ids or tuple(sorted(c for g in ranking for c in g))
    return Judgement(
        prompt_id=prompt, annotator=who, completion_ids=tuple(ids), ranking=ranking, skipped=skipped
    )


def as_sets(ranking):
    return [set(g) for g in ranking]


def ranking_of(k):
    return st.lists(st.integers(0, k - 1), min_size=k, max_size=k).map(
        lambda levels: [
            [f"c{i}" for i in range(k) if levels[i] == lv] for lv in sorted(set(levels))
        ]
    )


@settings(max_examples=50, deadline=None)
@given(st.integers(2, 9).flatmap(ranking_of), st.integers(1, 4))
def test_unanimous_annotators_give_their_ranking(ranking, m):
    result = consensus([j("p", f"a{i}", ranking) for i in range(m)])
    rec = result.prompt("p")
    assert as_sets(rec["ranking"]) == as_sets(ranking)
    probs = rec["pair_probs"]
    for x in probs:
        a, b = x.split(">")
        assert probs[x] + probs[f"{b}>{a}"] == pytest.approx(1.0)


def test_one_annotator_all_ties_and_skips():
    result = consensus(
        [
            j(1, "solo", [["a"], ["b", "c"], ["d"]]),
            j(2, "solo", [["a", "b", "c"]]),
            j(3, "solo", [], ids=("a", "b"), skipped=True),
        ]
    )
    one, ties, skipped = (result.prompt(p) for p in (1, 2, 3))
    assert one["ranking"] == [["a"], ["b", "c"], ["d"]]
    assert one["agreement"] is None and one["reasons"]["agreement"]
    assert ties["ranking"] == [["a", "b", "c"]]
    assert all(p == pytest.approx(0.5) for p in ties["pair_probs"].values())
    assert skipped["ranking"] is None and skipped["reasons"]["ranking"]
    json.dumps(list(result.prompts()), allow_nan=False)


def test_majority_wins_and_probabilities_reflect_it():
    rec = consensus(
        [j(1, "x", [["a"], ["b"]]), j(1, "y", [["a"], ["b"]]), j(1, "z", [["b"], ["a"]])]
    ).prompt(1)
    assert rec["ranking"] == [["a"], ["b"]]
    assert 0.5 < rec["pair_probs"]["a>b"] < 1.0
    assert rec["agreement"] == pytest.approx(1 / 3)  # x-y agree, x-z and y-z disagree


def test_k9_with_many_annotators_is_finite():
    ids = [f"c{i}" for i in range(9)]
    js = [j(1, f"a{i}", [[c] for c in ids]) for i in range(6)]
    rec = consensus(js).prompt(1)
    assert rec["ranking"] == [[c] for c in ids]
    assert all(np.isfinite(v) for v in rec["scores"].values())
    assert len(rec["pair_probs"]) == 72


def test_reliable_annotators_outweigh_random_ones():
    rng = np.random.default_rng(0)
    ids = ("a", "b", "c", "d")
    js = []
    for p in range(300):
        truth = list(rng.permutation(ids))
        for who in rng.choice(["good1", "good2", "good3", "good4", "random"], 3, replace=False):
            order = list(rng.permutation(ids)) if who == "random" else truth[:]
            if who != "random" and rng.random() < 0.2:  # good annotators slip now and then
                i = int(rng.integers(0, 3))
                order[i], order[i + 1] = order[i + 1], order[i]
            js.append(j(p, str(who), [[c] for c in order]))
    result = consensus(js)
    assert result.converged and result.iterations <= 20
    w = result.annotator_weights
    assert all(MIN_WEIGHT <= v <= MAX_WEIGHT for v in w.values())
    assert w["random"] < 0.5 * min(w[f"good{i}"] for i in range(1, 5))
    # Fixed point: one more round from the final weights moves none of them by more than tol.
    arrays = build_arrays(js)
    per_row = np.array([w[a] for a in arrays.annotators])[arrays.row_annotator]
    agree, total, _ = loo_agreement(arrays, per_row)
    n = len(arrays.annotators)
    again = reliability_weights(
        np.bincount(arrays.row_annotator, agree, n), np.bincount(arrays.row_annotator, total, n)
    )
    np.testing.assert_allclose(again, [w[a] for a in arrays.annotators], atol=1e-3)


def test_consensus_beats_single_annotators_against_gold():
    js, gold = synthetic_judgements(1500, k=4, seed=2, n_annotators=12, gold_fraction=0.3)
    arrays = build_arrays(js, gold)
    result = consensus(arrays)
    hits = total = 0
    for pid, g in gold.items():
        rec = result.prompt(pid)
        if rec["ranking"] is None:
            continue
        pos = {c: i for i, grp in enumerate(rec["ranking"]) for c in grp}
        order = [grp[0] for grp in g]
        for a in range(len(order)):
            for b in range(a + 1, len(order)):
                total += 1
                hits += pos[order[a]] < pos[order[b]]
    single = [x for x in js if x.prompt_id in gold and not x.skipped]
    s_hits = s_total = 0
    for x in single:
        pos = {c: i for i, grp in enumerate(x.ranking) for c in grp}
        order = [grp[0] for grp in gold[x.prompt_id]]
        for a in range(len(order)):
            for b in range(a + 1, len(order)):
                s_total += 1
                s_hits += pos[order[a]] < pos[order[b]]
    assert hits / total > s_hits / s_total


def test_prompt_consensus_matches_the_batch_with_the_same_weights():
    js, _ = synthetic_judgements(50, k=(2, 6), seed=4, n_annotators=6)
    result = consensus(js)
    pid = js[0].prompt_id
    single = prompt_consensus([x for x in js if x.prompt_id == pid], result.annotator_weights)
    batch = result.prompt(pid)
    assert single["ranking"] == batch["ranking"]
    assert single["pair_probs"] == pytest.approx(batch["pair_probs"], abs=1e-9)
    assert single["agreement"] == batch["agreement"]
    with pytest.raises(ValueError):
        prompt_consensus(js)


def test_adjudicated_ranking_has_the_same_shape():
    computed = consensus([j(7, "x", [["a"], ["b", "c"]])]).prompt(7)
    adjudicated = consensus_from_ranking([["b"], ["a", "c"]], ["a", "b", "c"], prompt_id=7)
    assert set(adjudicated) == set(computed)
    assert set(adjudicated["pair_probs"]) == set(computed["pair_probs"])
    assert adjudicated["pair_probs"]["b>a"] == 1.0 and adjudicated["pair_probs"]["a>b"] == 0.0
    assert adjudicated["pair_probs"]["a>c"] == 0.5
    assert adjudicated["scores"] is None and adjudicated["reasons"]["scores"]
    with pytest.raises(ValueError):
        consensus_from_ranking([["a"], ["a"]])


def test_weights_are_log_odds_of_smoothed_agreement():
    w = reliability_weights(np.array([0.0, 9.0, 1000.0, 0.0]), np.array([0.0, 10.0, 1000.0, 50.0]))
    assert w[0] == pytest.approx(np.log(3))  # no evidence: 3 : 1 prior
    assert w[1] == pytest.approx(np.log(12 / 2))
    assert w[2] == MAX_WEIGHT and w[3] == MIN_WEIGHT


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 1000), st.randoms(use_true_random=False))
def test_relabelling_completions_changes_no_consensus(seed, rnd):
    js, _ = synthetic_judgements(15, k=(2, 5), seed=seed, n_annotators=5)
    names = {str(i): f"z{v}" for i, v in enumerate(rnd.sample(range(50), 5))}
    order = {}

    def relabel(x):
        if x.prompt_id not in order:
            ids = [names[c] for c in x.completion_ids]
            rnd.shuffle(ids)
            order[x.prompt_id] = tuple(ids)
        return Judgement(
            prompt_id=x.prompt_id,
            annotator=x.annotator,
            completion_ids=order[x.prompt_id],
            ranking=tuple(tuple(names[c] for c in g) for g in x.ranking),
            skipped=x.skipped,
        )

    a = consensus(js)
    b = consensus([relabel(x) for x in js])
    assert a.annotator_weights == pytest.approx(b.annotator_weights)
    for ra, rb in zip(a.prompts(), b.prompts(), strict=True):
        if ra["ranking"] is None:
            assert rb["ranking"] is None
            continue
        assert [{names[c] for c in g} for g in ra["ranking"]] == as_sets(rb["ranking"])
        for key, p in ra["pair_probs"].items():
            x, y = key.split(">")
            assert rb["pair_probs"][f"{names[x]}>{names[y]}"] == pytest.approx(p, abs=1e-9)
