"""rlhf.utils.paired_change: the before/after figure of a PPO evaluation (no torch needed)."""

import pytest

from rlhf.utils import paired_change


def test_pairs_keys_and_gives_a_t_interval():
    change = paired_change(
        {"a": 0.0, "b": 1.0, "c": 0.5, "gone": 9.0}, {"a": 0.2, "b": 1.3, "c": 0.5}
    )
    assert change["n"] == 3 and change["improved"] == 2
    assert [r["key"] for r in change["rows"]] == ["a", "b", "c"]
    assert change["rows"][1] == {"key": "b", "start": 1.0, "end": 1.3, "delta": pytest.approx(0.3)}
    assert change["mean_delta"] == pytest.approx(0.5 / 3)
    # deltas 0.2, 0.3, 0.0: sd 0.15275; t(0.975, df=2) = 4.3027
    lo, hi = change["ci95"]
    assert (lo + hi) / 2 == pytest.approx(0.5 / 3)
    assert (hi - lo) / 2 == pytest.approx(4.3027 * 0.15275 / 3**0.5, rel=1e-3)


def test_one_key_has_no_interval_and_no_overlap_gives_none():
    assert paired_change({"a": 1.0}, {"a": 0.5}) == {
        "rows": [{"key": "a", "start": 1.0, "end": 0.5, "delta": -0.5}],
        "n": 1, "mean_delta": -0.5, "ci95": None, "improved": 0,
    }  # fmt: skip
    assert paired_change({"a": 1.0}, {"b": 1.0}) is None
