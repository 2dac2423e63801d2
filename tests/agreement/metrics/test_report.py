"""The project report: per-annotator figures, bootstrap intervals, None-with-reason, summaries."""

import json
from collections import defaultdict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agreement.metrics import (
    Judgement,
    build_arrays,
    combine_summaries,
    project_report,
    prompt_summary,
    synthetic_judgements,
)
from agreement.metrics.annotators import NO_LOO
from agreement.metrics.ranking import headline, pair_table, prompt_sums

DAY = 86_400.0
LEN = {"a": 10, "b": 20, "c": 30}


def j(
    prompt,
    who,
    ranking,
    *,
    shown=(),
    time_ms=None,
    skipped=False,
    created=None,
    ids=("a", "b", "c"),
):
    return Judgement(
        prompt_id=prompt,
        annotator=who,
        completion_ids=ids,
        ranking=tuple(tuple(g) for g in ranking),
        shown_order=tuple(shown),
        time_ms=time_ms,
        skipped=skipped,
        completion_lengths={c: LEN[c] for c in ids},
        created_at=created,
    )


HAND = [
    j(1, "x", ["a", "b", "c"], shown="abc", time_ms=1000, created=0 * DAY + 10),
    j(1, "y", ["a", "b", "c"], shown="bac", time_ms=500, created=1 * DAY + 5),
    j(1, "z", ["c", "b", "a"], shown="cab", time_ms=700, created=1 * DAY + 50),
    j(2, "x", ["a", "b"], ids=("a", "b"), time_ms=3000, created=2 * DAY),
    j(3, "x", [], skipped=True, time_ms=50),
]
GOLD = {1: (("a",), ("b",), ("c",))}


@pytest.fixture(scope="module")
def hand_report():
    return project_report(HAND, GOLD, bootstrap=0)


def by_name(report):
    return {a["annotator"]: a for a in report["annotators"]}


def test_per_annotator_hand_worked(hand_report):
    x, y, z = (by_name(hand_report)[n] for n in "xyz")
    assert (x["judgements"], x["ranked"], x["skipped"]) == (3, 2, 1)
    assert x["skip_rate"] == pytest.approx(1 / 3)
    assert x["median_time_ms"] == 2000  # the skip's 50 ms is not a task time
    # x agrees with y on 3 of 3 pairs and with z on 0 of 3.
    assert x["pairwise_agreement"] == pytest.approx(0.5)
    assert z["pairwise_agreement"] == 0.0
    # The others of x (y and z) exactly cancel: the consensus ties everything.
    assert x["consensus_agreement"] is None and x["reasons"]["consensus_agreement"] == NO_LOO
    # The others of z (x and y) agree on a > b > c, which z reverses.
    assert z["consensus_agreement"] == 0.0 and z["consensus_comparisons"] == 3
    assert x["gold_accuracy"] == 1.0 and x["gold_kendall_distance"] == 0.0
    assert z["gold_accuracy"] == 0.0 and z["gold_kendall_distance"] == 1.0
    # Shown first: x saw a (ranked first), y saw b (second), z saw c (first); chance 1/3.
    assert x["position_bias"]["rate"] == 1.0 and y["position_bias"]["rate"] == 0.0
    assert x["position_bias"]["chance_rate"] == pytest.approx(1 / 3)
    # Lengths a < b < c: x prefers shorter on all 4 strict pairs (3 on prompt 1, 1 on prompt 2).
    assert x["length_bias"]["longer_wins_rate"] == 0.0 and x["length_bias"]["n"] == 4
    assert z["length_bias"]["longer_wins_rate"] == 1.0


def test_project_level_hand_worked(hand_report):
    assert hand_report["pairwise_agreement"] == pytest.approx(3 / 9)
    pos = hand_report["position_bias"]
    assert (pos["n"], pos["rate"]) == (3, pytest.approx(2 / 3))  # prompt 2 recorded no order
    pairs = {tuple(p["annotators"]): p for p in hand_report["annotator_pairs"]}
    assert pairs[("x", "y")]["kendall_tau_b"] == pytest.approx(1.0)
    assert pairs[("x", "z")]["kendall_tau_b"] == pytest.approx(-1.0)
    days = {d["day"]: d for d in hand_report["agreement_over_time"]}
    # All three comparisons of prompt 1 become observable on day 1 (the later judgement's day).
    assert days["1970-01-02"]["comparisons"] == 9
    assert days["1970-01-01"]["comparisons"] == 0
    assert days["1970-01-01"]["pairwise_agreement"] is None
    assert days["1970-01-03"]["judgements"] == 1


def _none_paths(node, prefix=()):
    """Dotted paths of None leaves inside nested dicts (lists are separate records)."""
    out = set()
    for key, value in node.items():
        if key == "reasons":
            continue
        if value is None:
            out.add(".".join((*prefix, key)))
        elif isinstance(value, dict):
            out |= _none_paths(value, (*prefix, key))
    return out


def _records(report):
    yield report
    for key in ("annotators", "annotator_pairs", "agreement_over_time"):
        yield from report[key]


def assert_reasons_consistent(report):
    for rec in _records(report):
        reasons = rec.get("reasons", {})
        assert _none_paths(rec) == set(reasons), rec
        assert all(isinstance(r, str) and r for r in reasons.values())


@pytest.mark.parametrize(
    "data",
    [
        [],
        HAND,
        [j(1, "x", ["a", "b", "c"])],
        [j(1, "x", [], skipped=True)],
        [j(1, w, [["a", "b", "c"]]) for w in "xy"],
    ],
    ids=["empty", "hand", "one-judgement", "all-skipped", "all-ties"],
)
def test_every_none_has_a_reason_and_report_is_json(data):
    report = project_report(data, bootstrap=50)
    json.dumps(report, allow_nan=False)
    assert_reasons_consistent(report)


def test_empty_project_reports_nothing_as_zero():
    report = project_report([], bootstrap=20)
    for key in ("pairwise_agreement", "pairwise_agreement_with_ties", "tie_rate", "kendall_w_mean"):
        assert report[key] is None and report["reasons"][key]
        assert report["confidence_intervals"][key] is None
    assert report["krippendorff_alpha"]["ranking"] is None
    assert report["annotators"] == [] and report["counts"]["prompts"] == 0


@pytest.fixture(scope="module")
def synthetic():
    js, gold = synthetic_judgements(400, k=(2, 6), seed=5, n_annotators=10)
    return build_arrays(js, gold), js


def test_report_on_synthetic_data_is_complete_json(synthetic):
    arrays, _ = synthetic
    report = project_report(arrays, bootstrap=200, seed=1)
    text = json.dumps(report, allow_nan=False)
    assert json.loads(text)["counts"]["judgements"] == arrays.n_rows
    for key in (
        "pairwise_agreement",
        "pairwise_agreement_with_ties",
        "tie_rate",
        "kendall_w_mean",
        "krippendorff_alpha",
        "confidence_intervals",
        "annotator_pairs",
        "per_prompt_agreement",
        "agreement_over_time",
        "annotators",
    ):
        assert key in report
    assert set(report["krippendorff_alpha"]["flags"]) == {"incorrect", "unsafe"}
    assert_reasons_consistent(report)
    for key, (lo, hi) in report["confidence_intervals"].items():
        point = (
            report["krippendorff_alpha"]["ranking"]
            if key == "krippendorff_alpha_ranking"
            else report[key]
        )
        assert lo <= point <= hi, key
    hist = report["per_prompt_agreement"]
    assert sum(hist["counts"]) == hist["prompts"]


def test_bootstrap_is_seeded(synthetic):
    arrays, _ = synthetic
    a = project_report(arrays, bootstrap=100, seed=7)["confidence_intervals"]
    b = project_report(arrays, bootstrap=100, seed=7)["confidence_intervals"]
    c = project_report(arrays, bootstrap=100, seed=8)["confidence_intervals"]
    assert a == b and a != c


def test_bootstrap_interval_matches_a_plain_resampling_loop(synthetic):
    arrays, _ = synthetic
    sums = prompt_sums(arrays, pair_table(arrays))
    rng = np.random.default_rng(123)
    n = arrays.n_prompts
    ref = []
    for _ in range(2000):
        pick = rng.integers(0, n, n)
        ref.append(sums["agree"][pick].sum() / sums["strict"][pick].sum())
    lo_ref, hi_ref = np.percentile(ref, [2.5, 97.5])
    lo, hi = project_report(arrays, bootstrap=2000, seed=0)["confidence_intervals"][
        "pairwise_agreement"
    ]
    width = hi_ref - lo_ref
    assert abs(lo - lo_ref) < 0.15 * width and abs(hi - hi_ref) < 0.15 * width


def test_bootstrap_disabled_gives_reasons(synthetic):
    arrays, _ = synthetic
    report = project_report(arrays, bootstrap=0)
    assert report["confidence_intervals"]["tie_rate"] is None
    assert report["reasons"]["confidence_intervals.tie_rate"] == "bootstrap disabled"


def test_prompt_summaries_combine_to_the_project_headline(synthetic):
    arrays, js = synthetic
    by_prompt = defaultdict(list)
    for x in js:
        by_prompt[x.prompt_id].append(x)
    combined = combine_summaries(prompt_summary(v) for v in by_prompt.values())
    head = headline(arrays)
    for key, est in head.items():
        assert combined[key] == pytest.approx(est.value)
    one = prompt_summary(by_prompt["p0"])
    assert one["prompt_id"] == "p0" and "kendall_w" in one
    with pytest.raises(ValueError):
        prompt_summary(js[:10])


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000), st.randoms(use_true_random=False))
def test_relabelling_completions_changes_nothing(seed, rnd):
    js, gold = synthetic_judgements(12, k=(2, 5), seed=seed, n_annotators=5, gold_fraction=0.3)
    names = {str(i): f"out-{v}" for i, v in enumerate(rnd.sample(range(100), 5))}
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
            ratings={names[c]: v for c, v in x.ratings.items()},
            flags={names[c]: v for c, v in x.flags.items()},
            shown_order=tuple(names[c] for c in x.shown_order),
            time_ms=x.time_ms,
            skipped=x.skipped,
            completion_lengths={names[c]: v for c, v in x.completion_lengths.items()},
            is_gold=x.is_gold,
            created_at=x.created_at,
        )

    new_gold = {p: tuple(tuple(names[c] for c in g) for g in r) for p, r in gold.items()}
    a = project_report(js, gold, bootstrap=30, seed=1)
    b = project_report([relabel(x) for x in js], new_gold, bootstrap=30, seed=1)
    assert _flatten(a) == pytest.approx(_flatten(b), abs=1e-9, nan_ok=True)


def _flatten(node, prefix=""):
    out = {}
    if isinstance(node, dict):
        for k, v in node.items():
            out.update(_flatten(v, f"{prefix}.{k}"))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.update(_flatten(v, f"{prefix}[{i}]"))
    elif isinstance(node, bool) or node is None or isinstance(node, str):
        out[prefix] = float("nan") if node is None else hash(node)
    else:
        out[prefix] = float(node)
    return out


def test_demo_runs_end_to_end():
    from agreement.metrics import demo

    out = demo(60, bootstrap=20)
    json.dumps(out, allow_nan=False)
    assert len(out["consensus"]) == 5 and out["report"]["counts"]["prompts"] == 60
    assert set(out["annotator_weights"]) == {a["annotator"] for a in out["report"]["annotators"]}


@pytest.mark.parametrize("density", [0.05, 0.6])
def test_resampled_cell_sums_sparse_and_dense_paths(density):
    import scipy.sparse as sp

    from agreement.metrics.bootstrap import resample_counts, resampled_cell_sums

    cells = sp.random(20, 500, density=density, random_state=1, format="csr")
    got = resampled_cell_sums(np.random.default_rng(3), cells, 37)
    counts = resample_counts(np.random.default_rng(3), 500, 37)
    assert counts.sum(axis=1).tolist() == [500] * 37
    np.testing.assert_allclose(got, counts @ cells.T.toarray(), rtol=1e-5)
