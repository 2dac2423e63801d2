"""Margins (Llama 2) and per-dimension labels read from a snapshot (rlhf.pair_labels)."""

from __future__ import annotations

import math

import pytest
import torch

from rlhf.config import ConfigError, RewardConfig
from rlhf.data import DataError, load_preferences
from rlhf.pair_labels import label_pairs
from rlhf.reward_model import make_batch, preference_loss
from rlhf.scoring import Encoded


def _cfg(**over) -> RewardConfig:
    return RewardConfig(**over)


RANKED = {
    "id": "p1",
    "prompt": "q",
    "completions": [{"id": c, "text": c.lower()} for c in "ABCD"],
    "annotations": [{"annotator": "x", "ranking": [["A"], ["B"], ["C", "D"]]}],
}
PAIR = {"prompt": "q2", "chosen": "good", "rejected": "bad", "margin": 2.0}


def _load(path, cfg):
    examples, _ = load_preferences(str(path), cfg.labels)
    return label_pairs(str(path), examples, cfg)


def _margins(ex):
    return {(p.better, p.worse): p.margin for p in ex.pairs}


def test_default_keeps_the_loaders_margins_untouched(tmp_path, jsonl):
    path = jsonl(tmp_path / "d.jsonl", [RANKED, PAIR])
    examples, counts = _load(path, _cfg())
    assert counts == {}
    assert set(_margins(examples[0]).values()) == {0.0}
    assert _margins(examples[1]) == {(0, 1): 2.0}  # a pairwise line's margin, as before


def test_rank_gaps_become_margins_and_pairwise_margins_scale(tmp_path, jsonl):
    path = jsonl(tmp_path / "d.jsonl", [RANKED, PAIR])
    examples, _ = _load(path, _cfg(margin_loss="on", margin_scale=0.5))
    # Groups A | B | C D: adjacent groups differ by one (margin 0), A against C and D by two.
    assert _margins(examples[0]) == {(0, 1): 0.0, (0, 2): 0.5, (0, 3): 0.5,
                                     (1, 2): 0.0, (1, 3): 0.0}  # fmt: skip
    assert _margins(examples[1]) == {(0, 1): 1.0}
    examples, _ = _load(path, _cfg(margin_loss="off"))
    assert _margins(examples[1]) == {(0, 1): 0.0}


def test_llama2_margin_loss_by_hand(tmp_path, jsonl):
    """The loss of the ranking above under margin_loss "on" (scale 1), rewards 3, 2, 1, 0."""
    path = jsonl(tmp_path / "d.jsonl", [RANKED])
    examples, _ = _load(path, _cfg(margin_loss="on"))
    enc = [[Encoded([1, 2], None, False, False)] * 4]
    batch = make_batch(examples, enc, pad_id=0)
    loss, _ = preference_loss(torch.tensor([3.0, 2.0, 1.0, 0.0]), batch)

    def nls(x):
        return math.log1p(math.exp(-x))  # -log sigmoid(x)

    # A>B: gap 1, margin 0; A>C: gap 2, margin 1; A>D: 3 - 1; B>C: 1 - 0; B>D: 2 - 0.
    by_hand = (nls(1) + nls(2 - 1) + nls(3 - 1) + nls(1) + nls(2)) / 5
    assert loss.item() == pytest.approx(by_hand, rel=1e-6)
    plain, _ = _load(path, _cfg())
    loss_plain, _ = preference_loss(torch.tensor([3.0, 2.0, 1.0, 0.0]),
                                    make_batch(plain, enc, pad_id=0))  # fmt: skip
    assert loss_plain.item() == pytest.approx((nls(1) + nls(2) + nls(3) + nls(1) + nls(2)) / 5)


def test_dimension_tags_and_per_dimension_rankings(tmp_path, jsonl):
    ranked = {**RANKED, "annotations": [{
        "annotator": "x", "ranking": [["A"], ["B"], ["C", "D"]],
        # A bare ranking, or the rankings export's {"ranking", "strength", ...} object.
        "dimensions": {"helpfulness": {"ranking": [["D"], ["A", "B", "C"]], "gaps": [1]},
                       "honesty": [["A"], ["B"]]},
    }]}  # fmt: skip
    rows = [
        ranked,
        {**PAIR, "dimension": "harmlessness"},
        {**PAIR, "prompt": "q3", "dimension": "style"},  # not trained: skipped and counted
    ]
    path = jsonl(tmp_path / "d.jsonl", rows)
    cfg = _cfg(dimensions=["helpfulness", "harmlessness"])
    examples, counts = _load(path, cfg)
    dims = [ex.meta["dimension"] for ex in examples]
    assert dims == ["overall", "helpfulness", "harmlessness"]
    assert counts["other_dimension_skipped"] == 1
    help_ex = examples[1]
    assert help_ex.completions == examples[0].completions and help_ex.prompt_id == "p1"
    assert sorted((p.better, p.worse) for p in help_ex.pairs) == [(3, 0), (3, 1), (3, 2)]
    # Without `dimensions` the tags are ignored: everything trains the one head, as before.
    examples, counts = _load(path, _cfg())
    assert len(examples) == 3 and counts == {}


def test_bad_dimension_values_name_the_field(tmp_path, jsonl):
    path = jsonl(tmp_path / "d.jsonl", [{**PAIR, "dimension": 3}])
    with pytest.raises(DataError, match="'dimension'"):
        _load(path, _cfg(dimensions=["harmlessness"]))
    bad = {**RANKED, "annotations": [{"ranking": [["A"], ["B"]],
                                      "dimensions": {"helpfulness": [["Z"], ["A"]]}}]}  # fmt: skip
    path = jsonl(tmp_path / "e.jsonl", [bad])
    with pytest.raises(DataError, match=r"annotations\[0\]\.dimensions\.helpfulness"):
        _load(path, _cfg(dimensions=["helpfulness"]))
    for field, value in (("margin_loss", "yes"), ("ensemble_size", 0), ("dimensions", ["a", "a"]),
                         ("margin_scale", -1.0)):  # fmt: skip
        with pytest.raises(ConfigError) as err:
            _cfg(**{field: value})
        assert err.value.field == field
