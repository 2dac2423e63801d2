"""Krippendorff's alpha against the `krippendorff` package and Krippendorff's worked examples."""

import krippendorff
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agreement.metrics import Judgement, build_arrays, krippendorff_alpha
from agreement.metrics.alpha import (
    LEVELS,
    NO_PAIRABLE,
    NO_VARIATION,
    alpha_flags,
    alpha_ranking,
    alpha_ratings,
    coincidences,
)

N = np.nan
# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability": 4 observers, 12 units,
# values 1..5, missing data. The paper reports the alphas below.
PAPER_DATA = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
    [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],
]
PAPER_ALPHA = {"nominal": 0.743, "ordinal": 0.815, "interval": 0.849, "ratio": 0.797}


@pytest.mark.parametrize("level", LEVELS)
def test_paper_example_multiple_observers_missing_data(level):
    est = krippendorff_alpha(PAPER_DATA, level)
    assert round(est.value, 3) == PAPER_ALPHA[level]
    assert est.value == pytest.approx(
        krippendorff.alpha(PAPER_DATA, level_of_measurement=level), abs=1e-12
    )


def test_paper_example_binary_two_observers():
    # Same paper, first example: 2 observers, 10 units, binary values; alpha = 0.095.
    data = [[0, 1, 0, 0, 0, 0, 0, 0, 1, 0], [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]]
    assert round(krippendorff_alpha(data, "nominal").value, 3) == 0.095


def test_paper_example_nominal_two_observers():
    # Same paper, second example: values a..e coded as 0..4; alpha = 0.692.
    codes = {c: i for i, c in enumerate("abcde")}
    a = [codes[c] for c in "aabbdcccedda"]
    b = [codes[c] for c in "babbbccceddd"]
    assert round(krippendorff_alpha([a, b], "nominal").value, 3) == 0.692


def test_coincidence_matrix_by_hand():
    # Unit 1: values 1, 1, 2 (m=3): ordered pairs (1,1)x2, (1,2)x2, (2,1)x2, each weighted 1/2.
    # Unit 2: values 2, 2 (m=2): (2,2)x2 with weight 1. Unit 3: a single value, not pairable.
    c = coincidences(np.array([1, 1, 1, 2, 2, 3]), np.array([1.0, 1.0, 2.0, 2.0, 2.0, 7.0]))
    assert c.domain.tolist() == [1.0, 2.0]
    np.testing.assert_allclose(c.matrix(), [[1.0, 1.0], [1.0, 2.0]])


def test_undefined_alpha_has_a_reason():
    single_coder = krippendorff_alpha([[1, 2, 3]], "interval")
    assert single_coder.value is None and single_coder.reason == NO_PAIRABLE
    no_variation = krippendorff_alpha([[3, 3, N], [3, 3, 3]], "ordinal")
    assert no_variation.value is None and no_variation.reason == NO_VARIATION


@st.composite
def reliability_data(draw):
    coders = draw(st.integers(2, 5))
    units = draw(st.integers(1, 25))
    cells = st.one_of(st.just(N), st.integers(1, 5).map(float))
    data = draw(
        st.lists(st.lists(cells, min_size=units, max_size=units), min_size=coders, max_size=coders)
    )
    return np.array(data, dtype=float)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # the package's 0/0
@settings(max_examples=60, deadline=None)
@given(reliability_data(), st.sampled_from(LEVELS))
def test_matches_package_with_missing_values(data, level):
    ours = krippendorff_alpha(data, level)
    try:
        ref = krippendorff.alpha(data, level_of_measurement=level)
    except ValueError:
        # The package refuses data with no pairable unit or a single value.
        assert ours.value is None and ours.reason
        return
    if np.isnan(ref):
        assert ours.value is None and ours.reason == NO_VARIATION
    else:
        assert ours.value == pytest.approx(ref, abs=1e-9)


@settings(max_examples=30, deadline=None)
@given(reliability_data(), st.sampled_from(LEVELS), st.randoms(use_true_random=False))
def test_invariant_to_unit_and_coder_order(data, level, rnd):
    units = list(range(data.shape[1]))
    coders = list(range(data.shape[0]))
    rnd.shuffle(units)
    rnd.shuffle(coders)
    a = krippendorff_alpha(data, level).value
    b = krippendorff_alpha(data[coders][:, units], level).value
    assert (a is None and b is None) or a == pytest.approx(b, abs=1e-12)


def _judgements():
    rng = np.random.default_rng(3)
    out = []
    for p in range(40):
        k = int(rng.integers(2, 6))
        ids = tuple(f"c{i}" for i in range(k))
        truth = rng.normal(size=k)
        for a in rng.choice(6, size=int(rng.integers(1, 4)), replace=False):
            u = np.round(truth + rng.normal(size=k), 0)  # rounding makes ties
            levels = sorted(set(u), reverse=True)
            ranking = tuple(tuple(ids[i] for i in range(k) if u[i] == lv) for lv in levels)
            out.append(
                Judgement(
                    prompt_id=p,
                    annotator=f"ann{a}",
                    completion_ids=ids,
                    ranking=ranking,
                    ratings={
                        ids[i]: int(np.clip(4 + u[i], 1, 7)) for i in range(k) if rng.random() < 0.8
                    },
                    flags={ids[i]: ("bad",) for i in range(k) if u[i] < -1},
                    skipped=bool(rng.random() < 0.1),
                )
            )
    return out


def _matrix(arrays, values, rows):
    """Reliability data [annotators, (prompt, completion)] for the package."""
    k = arrays.k_max
    m = np.full((len(arrays.annotators), arrays.n_prompts * k), np.nan)
    cols = arrays.row_prompt[rows, None] * k + np.arange(k)[None, :]
    m[arrays.row_annotator[rows, None], cols] = values
    return m


def test_project_alphas_match_package_on_the_same_reliability_data():
    arrays = build_arrays(_judgements())
    ranked = np.flatnonzero(arrays.ranked)
    for level in ("ordinal", "interval"):
        ref = krippendorff.alpha(
            _matrix(arrays, arrays.rank[ranked], ranked), level_of_measurement=level
        )
        assert alpha_ranking(arrays, level).value == pytest.approx(ref, abs=1e-12)
    done = np.flatnonzero(~arrays.skipped)
    ratings = alpha_ratings(arrays)
    for level in ("ordinal", "interval"):
        ref = krippendorff.alpha(
            _matrix(arrays, arrays.ratings[done], done), level_of_measurement=level
        )
        assert ratings[level].value == pytest.approx(ref, abs=1e-12)
    flag = np.where(arrays.row_mask()[done], arrays.flags[0, done].astype(float), np.nan)
    ref = krippendorff.alpha(_matrix(arrays, flag, done), level_of_measurement="nominal")
    assert alpha_flags(arrays)["bad"].value == pytest.approx(ref, abs=1e-12)


def test_skipped_judgements_do_not_count_as_unflagged():
    ids = ("a", "b")

    def j(who, flags, skipped=False):
        return Judgement(
            prompt_id=1,
            annotator=who,
            completion_ids=ids,
            ranking=(("a",), ("b",)),
            flags=flags,
            skipped=skipped,
        )

    # Two annotators agree perfectly on the one flag; a third skipped and must not add zeros.
    one = build_arrays([j("x", {"a": ("f",)}), j("y", {"a": ("f",)}), j("z", {}, skipped=True)])
    assert alpha_flags(one)["f"].value == pytest.approx(1.0)


def test_ratings_that_are_not_half_integers():
    # Values off the 1/2 grid take the sorting path for the value domain.
    ids = ("a", "b", "c")
    rates = {"x": (1.25, 3.5, 6.0), "y": (1.25, 4.75, 6.0), "z": (2.0, 3.5, None)}
    js = [
        Judgement(
            prompt_id=1,
            annotator=who,
            completion_ids=ids,
            ranking=(("a",), ("b",), ("c",)),
            ratings={c: v for c, v in zip(ids, vals, strict=True) if v is not None},
        )
        for who, vals in rates.items()
    ]
    arrays = build_arrays(js)
    done = np.flatnonzero(~arrays.skipped)
    for level, est in alpha_ratings(arrays).items():
        ref = krippendorff.alpha(
            _matrix(arrays, arrays.ratings[done], done), level_of_measurement=level
        )
        assert est.value == pytest.approx(ref, abs=1e-12)
