"""Several heads on one trunk: an ensemble and per-dimension heads, trained end to end on tiny
models, scored, loaded from the card alone, and combined for PPO."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from rlhf.config import RewardConfig
from rlhf.data import Example, Pair
from rlhf.heads import HeadLayout, combine, pair_stats, rollout_reward_fn
from rlhf.reward_heads import HeadTraining, heads_loss
from rlhf.reward_model import make_batch
from rlhf.scoring import Encoded, RewardScorer
from rlhf.train_reward import train_reward


def _config(model_dir, train_file, out_dir, **over) -> RewardConfig:
    base = dict(model_name_or_path=str(model_dir), train_file=str(train_file),
                output_dir=str(out_dir), batch_size=4, learning_rate=2e-3, num_epochs=3,
                max_length=48, eval_fraction=0.25, warmup_ratio=0.0, seed=0, num_threads=1,
                log_every=5)  # fmt: skip
    base.update(over)
    return RewardConfig(**base)


def _nls(x: float) -> float:
    return math.log1p(math.exp(-x))


def test_heads_loss_by_hand():
    """Two members x two dimensions; column d * 2 + e. Example a is overall, b harmlessness."""
    ex = [Example("a", "q", ["x", "y"], [Pair(0, 1, 0.5)]),
          Example("b", "q", ["u", "v"], [Pair(1, 0, 0.0, 2.0)])]  # fmt: skip
    enc = [[Encoded([1, 2], None, False, False)] * 2] * 2
    batch = make_batch(ex, enc, pad_id=0)
    out = torch.tensor([[1.0, 2.0, 0.0, 0.0],  # a.x
                        [0.0, 1.0, 9.0, 9.0],  # a.y
                        [0.0, 0.0, 1.0, 3.0],  # b.u
                        [0.0, 0.0, 2.0, 1.0]])  # b.v  # fmt: skip
    layout = HeadLayout(["overall", "harmlessness"], 2)
    heads = HeadTraining(layout, dims=[0, 1], boot=[[[1.0], [0.0]], [[2.0], [1.0]]], sizes=[2, 2])
    loss, gap, overall = heads_loss(out, batch, heads, [0, 1], "comparison")
    # a: member 0 gap 1 - 0.5, member 1 gap 1 - 0.5 (bootstrap weight 0); b: pair v > u,
    # weight 2: member 0 gap 2 - 1 (boot 2), member 1 gap 1 - 3 (boot 1).
    by_hand = (_nls(0.5) * 1 + _nls(0.5) * 0 + 2 * _nls(1.0) * 2 + 2 * _nls(-2.0) * 1) / 4
    assert loss.item() == pytest.approx(by_hand, rel=1e-6)
    assert gap.tolist() == pytest.approx([1.0, -0.5])
    assert overall.tolist() == pytest.approx([1.5, 0.5, 2.0, 1.5])


@pytest.fixture(scope="module")
def ensemble(tmp_path_factory, bert_dir, make_rankings, jsonl):
    tmp = tmp_path_factory.mktemp("ensemble")
    train_file = jsonl(tmp / "train.jsonl", make_rankings(60, k=3, seed=3))
    cfg = _config(bert_dir, train_file, tmp / "out", ensemble_size=3, num_epochs=2)
    return cfg, train_reward(cfg), make_rankings(6, k=3, seed=99)


def test_ensemble_learns_and_its_members_disagree(ensemble):
    cfg, result, fresh = ensemble
    assert result["metrics"]["validation"]["accuracy"] >= 0.85
    members = result["metrics"]["members"]["validation"]
    assert len(members) == 3 and min(members) >= 0.7
    scorer = RewardScorer.from_pretrained(cfg.output_dir)
    prompts = [r["prompt"] for r in fresh for _ in r["completions"]]
    texts = [c["text"] for r in fresh for c in r["completions"]]
    matrix = scorer.score_matrix(prompts, texts)
    assert matrix.shape == (3, len(texts))
    assert matrix.std(axis=0).max() > 1e-3  # heads differ: bootstrap and their own init
    assert scorer.score(prompts, texts) == pytest.approx(matrix.mean(axis=0).tolist(), abs=1e-5)
    stats = pair_stats(matrix[:, 0::3], matrix[:, 1::3])
    assert len(stats["p_better"]) == 6 and all(b >= 0 for b in stats["bald"])


def test_ensemble_loads_from_the_card_alone(ensemble):
    cfg, _, fresh = ensemble
    card = json.loads((Path(cfg.output_dir) / "rankwise_card.json").read_text())
    heads = card["heads"]
    assert heads["members"] == 3 and heads["columns"] == {"overall": [0, 1, 2]}
    model = AutoModelForSequenceClassification.from_pretrained(cfg.output_dir).eval()
    tok = AutoTokenizer.from_pretrained(cfg.output_dir)
    row = fresh[0]
    texts = [c["text"] for c in row["completions"]]
    inputs = [card["input"]["template"].format(prompt=row["prompt"], completion=t) for t in texts]
    with torch.no_grad():
        logits = model(**tok(inputs, return_tensors="pt", padding=True)).logits
    by_card = (logits - torch.tensor(heads["offsets"]))[:, heads["columns"]["overall"]].T
    scorer = RewardScorer.from_pretrained(cfg.output_dir)
    expected = scorer.score_matrix([row["prompt"]] * len(texts), texts)
    np.testing.assert_allclose(by_card.numpy(), expected, atol=1e-5)


def _two_dimension_rows(make_rankings, n, seed):
    """Overall and helpfulness favour the marked completion; 'brevity' ranks it last."""
    rows = make_rankings(n, k=3, seed=seed)
    for r in rows:
        ann = r["annotations"][0]
        best, rest = ann["ranking"]
        ann["dimensions"] = {"helpfulness": [best, rest], "brevity": [rest, best]}
    return rows


@pytest.fixture(scope="module")
def dimensional(tmp_path_factory, bert_dir, make_rankings, jsonl):
    tmp = tmp_path_factory.mktemp("dims")
    train_file = jsonl(tmp / "train.jsonl", _two_dimension_rows(make_rankings, 60, 4))
    cfg = _config(bert_dir, train_file, tmp / "out", dimensions=["helpfulness", "brevity"],
                  ensemble_size=2)  # fmt: skip
    return cfg, train_reward(cfg), make_rankings(6, k=3, seed=98)


def test_one_head_per_dimension_learns_its_own_preference(dimensional):
    cfg, result, fresh = dimensional
    per_head = result["metrics"]["heads"]
    assert set(per_head) == {"overall", "helpfulness", "brevity"}
    for name in per_head:
        assert per_head[name]["validation"]["accuracy"] >= 0.8, name
    scorer = RewardScorer.from_pretrained(cfg.output_dir)
    row = fresh[0]
    texts = [c["text"] for c in row["completions"]]
    heads = scorer.score_heads([row["prompt"]] * 3, texts)
    assert {k: v.shape for k, v in heads.items()} == {
        "overall": (2, 3), "helpfulness": (2, 3), "brevity": (2, 3)}  # fmt: skip
    best = row["annotations"][0]["ranking"][0][0]
    b = [c["id"] for c in row["completions"]].index(best)
    assert heads["helpfulness"].mean(0).argmax() == b
    assert heads["brevity"].mean(0).argmin() == b


def test_ppo_reward_combines_heads_conservatively(dimensional):
    cfg, _, fresh = dimensional
    scorer = RewardScorer.from_pretrained(cfg.output_dir)
    row = fresh[1]
    prompts, texts = [row["prompt"]] * 3, [c["text"] for c in row["completions"]]
    heads = scorer.score_heads(prompts, texts)
    weights = {"helpfulness": 1.0, "brevity": 0.5}
    fn = rollout_reward_fn(scorer, weights, conservative_k=1.0)
    expected = sum(w * (heads[h].mean(0) - heads[h].std(0)) for h, w in weights.items())
    assert fn(prompts, texts) == pytest.approx(expected.tolist(), abs=1e-5)
    assert fn(prompts, texts) != pytest.approx(
        rollout_reward_fn(scorer, weights)(prompts, texts), abs=1e-6)  # fmt: skip
    with pytest.raises(ValueError, match="reward_weights names"):
        rollout_reward_fn(scorer, {"helpfulnes": 1.0})


def test_combine_is_the_mean_minus_k_spreads():
    heads = {"overall": np.array([[1.0, 0.0], [3.0, 0.0]]), "x": np.array([[2.0, 2.0]] * 2)}
    assert combine(heads, None).tolist() == [2.0, 0.0]
    assert combine(heads, None, 2.0).tolist() == [0.0, 0.0]
    assert combine(heads, {"overall": 1.0, "x": -0.5}, 1.0).tolist() == [0.0, -1.0]


def test_one_head_run_writes_no_head_layout(tmp_path, bert_dir, make_rankings, jsonl):
    train_file = jsonl(tmp_path / "t.jsonl", make_rankings(12, k=2, seed=5))
    cfg = _config(bert_dir, train_file, tmp_path / "out", num_epochs=1)
    result = train_reward(cfg)
    card = json.loads((tmp_path / "out" / "rankwise_card.json").read_text())
    assert "heads" not in card and "heads" not in result
    scorer = RewardScorer.from_pretrained(tmp_path / "out")
    assert scorer.heads is None
    matrix = scorer.score_matrix(["q"], ["w10 w11"])
    assert matrix.shape == (1, 1) and matrix[0, 0] == pytest.approx(
        scorer.score(["q"], ["w10 w11"])[0]
    )
    assert rollout_reward_fn(scorer) == scorer.score  # PPO's reward is unchanged


def test_score_cli_writes_each_heads_mean_and_spread(ensemble, tmp_path, jsonl):
    from rlhf.score import main as score_main

    cfg, _, fresh = ensemble
    rows = [
        {"prompt": r["prompt"], "completion": c["text"]} for r in fresh for c in r["completions"]
    ]
    src = jsonl(tmp_path / "plain.jsonl", rows)
    out = tmp_path / "scores.jsonl"
    assert score_main(["--model", cfg.output_dir, "--input", str(src), "--output", str(out)]) == 0
    written = [json.loads(line) for line in out.read_text().splitlines()]
    matrix = RewardScorer.from_pretrained(cfg.output_dir).score_matrix(
        [r["prompt"] for r in rows], [r["completion"] for r in rows]
    )
    assert [w["heads"]["overall"]["spread"] for w in written] == pytest.approx(
        matrix.std(axis=0).tolist(), abs=1e-5
    )
    assert [w["score"] for w in written] == pytest.approx(matrix.mean(axis=0).tolist(), abs=1e-5)
