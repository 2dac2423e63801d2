"""Formatting, truncation, the K-wise loss and the evaluation maths."""

from __future__ import annotations

import json
import math

import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from rlhf.data import Example, Pair, load_preferences
from rlhf.evaluate import expected_calibration_error, pair_metrics
from rlhf.reward_model import (
    RewardModule,
    balanced_pair_weights,
    batch_rewards,
    encode_examples,
    length_correlation,
    make_batch,
    preference_loss,
)
from rlhf.scoring import encode_example, format_example
from rlhf.utils import wilson_interval


def test_left_truncation_keeps_the_whole_completion(bert_dir):
    tok = AutoTokenizer.from_pretrained(bert_dir)
    prompt = " ".join(f"w{i}" for i in range(10, 40))
    completion = "yes w11 w12"
    ids, mask, truncated = format_example(tok, prompt, completion, 12)
    assert truncated and len(ids) == 12 and mask == [1] * 12
    tokens = tok.convert_ids_to_tokens(ids)
    # [CLS] <last prompt tokens> [SEP] <completion> [SEP]: the prompt lost its head.
    assert tokens[-5:] == ["[SEP]", "yes", "w11", "w12", "[SEP]"]
    assert tokens[1:6] == ["w34", "w35", "w36", "w37", "w38"]
    enc = encode_example(tok, prompt, completion, 12)
    assert enc.prompt_truncated and not enc.completion_truncated
    assert enc.token_type_ids == [0] * 8 + [1] * 4

    long_completion = " ".join(f"w{i}" for i in range(10, 30))
    enc = encode_example(tok, prompt, long_completion, 12)
    assert enc.completion_truncated
    tokens = tok.convert_ids_to_tokens(enc.input_ids)
    assert tokens == ["[CLS]", "[SEP]", *[f"w{i}" for i in range(10, 19)], "[SEP]"]

    ids, _, truncated = format_example(tok, "w10", "w11", 12)
    assert not truncated and tok.convert_ids_to_tokens(ids) == [
        "[CLS]",
        "w10",
        "[SEP]",
        "w11",
        "[SEP]",
    ]


def test_chat_template_used_for_message_prompts_and_bos_survives(llama_dir):
    tok = AutoTokenizer.from_pretrained(llama_dir)
    msgs = [
        {"role": "user", "content": "w10 w11 w12 w13"},
        {"role": "assistant", "content": "w14"},
        {"role": "user", "content": "w15"},
    ]
    enc = encode_example(tok, msgs, "yes w16", 64)
    assert tok.convert_ids_to_tokens(enc.input_ids) == [
        "<s>",
        "<|user|>",
        "w10",
        "w11",
        "w12",
        "w13",
        "</s>",
        "<|assistant|>",
        "w14",
        "</s>",
        "<|user|>",
        "w15",
        "</s>",
        "<|assistant|>",
        "yes",
        "w16",
        "</s>",
    ]
    short = encode_example(tok, msgs, "yes w16", 8)
    # The oldest turns go; BOS stays; the reply and its end-of-turn token stay whole.
    assert tok.convert_ids_to_tokens(short.input_ids) == [
        "<s>",
        "<|user|>",
        "w15",
        "</s>",
        "<|assistant|>",
        "yes",
        "w16",
        "</s>",
    ]
    assert short.prompt_truncated
    # A plain string prompt with this tokenizer gets the plain rendering, closed by EOS.
    plain = tok.convert_ids_to_tokens(encode_example(tok, "w10", "w11", 64).input_ids)
    assert plain == ["<s>", "User:", "w10", "Assistant:", "w11", "</s>"]


def _ranked_file(tmp_path, k):
    ids = "ABC"[:k]
    row = {
        "id": "p",
        "prompt": "question w10 w11",
        "completions": [
            {"id": c, "text": t}
            for c, t in zip(ids, ["yes w12", "w13 w14 w15", "w16"], strict=False)
        ],
        "annotations": [{"ranking": [[c] for c in ids]}],
    }
    pairs = []
    texts = {c["id"]: c["text"] for c in row["completions"]}
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            pairs.append({"prompt": row["prompt"], "chosen": texts[a], "rejected": texts[b]})
    rank_path, pair_path = tmp_path / f"r{k}.jsonl", tmp_path / f"p{k}.jsonl"
    rank_path.write_text(json.dumps(row) + "\n")
    pair_path.write_text("".join(json.dumps(p) + "\n" for p in pairs))
    return str(rank_path), str(pair_path)


def _loss_and_grads(model, tok, examples):
    model.zero_grad()
    encoded, _ = encode_examples(tok, examples, 64)
    batch = make_batch(examples, encoded, tok.pad_token_id, chunk_size=2)
    loss, _ = preference_loss(batch_rewards(RewardModule(model), batch), batch)
    loss.backward()
    return loss.item(), [p.grad.clone() for p in model.parameters() if p.grad is not None]


@pytest.mark.parametrize("k", [2, 3])
def test_kwise_loss_equals_mean_pairwise_loss(tmp_path, bert_dir, k):
    tok = AutoTokenizer.from_pretrained(bert_dir)
    model = AutoModelForSequenceClassification.from_pretrained(bert_dir, num_labels=1).eval()
    rank_path, pair_path = _ranked_file(tmp_path, k)
    ranked, _ = load_preferences(rank_path)
    pairs, _ = load_preferences(pair_path)
    assert len(ranked) == 1 and len(pairs) == k * (k - 1) // 2
    loss_k, grads_k = _loss_and_grads(model, tok, ranked)
    loss_p, grads_p = _loss_and_grads(model, tok, pairs)
    assert loss_k == pytest.approx(loss_p, rel=1e-5, abs=1e-7)
    assert len(grads_k) == len(grads_p) > 0
    for gk, gp in zip(grads_k, grads_p, strict=True):
        torch.testing.assert_close(gk, gp, rtol=1e-4, atol=1e-7)


def test_loss_matches_hand_computation_with_margins_and_weights():
    ex = [
        Example("a", "q", ["x", "y", "z"], [Pair(0, 1, 0.5, 2.0), Pair(0, 2)]),
        Example("b", "q", ["u", "v"], [Pair(1, 0)]),
    ]
    from rlhf.scoring import Encoded

    enc = [[Encoded([1, 2], None, False, False)] * 3, [Encoded([1, 2, 3], None, False, False)] * 2]
    batch = make_batch(ex, enc, pad_id=0)
    r = torch.tensor([1.0, 0.0, 3.0, 0.2, -0.4])
    loss, gap = preference_loss(r, batch, "prompt")

    def nls(x):
        return -math.log(1 / (1 + math.exp(-x)))

    a1, a2, b = 2.0 * nls(1.0 - 0.0 - 0.5), nls(1.0 - 3.0), nls(-0.4 - 0.2)
    assert loss.item() == pytest.approx(((a1 + a2) / 2 + b) / 2, rel=1e-6)
    assert gap.tolist() == pytest.approx([1.0, -2.0, -0.6])
    # The default weighs comparisons, not prompts: the mean of the three weighted pair losses.
    loss, _ = preference_loss(r, batch)
    assert loss.item() == pytest.approx((a1 + a2 + b) / 3, rel=1e-6)


def test_length_bucketed_chunks_restore_order_and_count_padding():
    from rlhf.scoring import Encoded

    ex = [Example("a", "q", ["x"] * 4, [Pair(0, 1)])]
    lens = [9, 2, 7, 3]
    enc = [[Encoded(list(range(1, n + 1)), None, False, False) for n in lens]]
    batch = make_batch(ex, enc, pad_id=0, chunk_size=2)
    assert [c["input_ids"].shape[1] for c in batch.chunks] == [3, 9]
    assert batch.n_pad == (3 - 2) + (9 - 7) and batch.n_tokens == 2 * 3 + 2 * 9

    class Length(torch.nn.Module):
        def forward(self, chunks):
            return torch.cat([c["attention_mask"].sum(1).float() for c in chunks])

    assert batch_rewards(Length(), batch).tolist() == [9.0, 2.0, 7.0, 3.0]


def test_balanced_pairs_equalise_longer_and_shorter_wins():
    ex = [
        Example("a", "q", ["long answer", "s", "mid"], [Pair(0, 1), Pair(0, 2), Pair(2, 1)]),
        Example("b", "q", ["s", "longer"], [Pair(0, 1)]),
    ]
    weights = balanced_pair_weights(ex, 1.0)
    longer = weights[0][0] + weights[0][1] + weights[0][2]
    assert longer == pytest.approx(weights[1][0])  # 3 longer-wins pairs vs 1 shorter-wins
    assert longer + weights[1][0] == pytest.approx(4.0)  # total weight kept
    assert balanced_pair_weights(ex, 0.0) == [[1.0, 1.0, 1.0], [1.0]]


def test_length_correlation_is_pearson():
    r = torch.tensor([0.1, 0.5, 0.2, 0.9, 0.3])
    n = torch.tensor([10.0, 40.0, 25.0, 80.0, 5.0])
    expected = torch.corrcoef(torch.stack([r, n]))[0, 1]
    assert length_correlation(r, n).item() == pytest.approx(expected.item(), rel=1e-5)


def test_pair_metrics_on_known_rewards():
    ex = [
        Example("a", "q", ["aaaa", "b", "cc"], [Pair(0, 1), Pair(0, 2), Pair(2, 1)], agreement=0.9),
        Example("b", "q", ["dd", "eeee"], [Pair(0, 1)], agreement=0.5),
    ]
    rewards = [[2.0, 0.0, -1.0], [1.0, 0.0]]
    m = pair_metrics(ex, rewards, agreement_buckets=[0.6, 0.8])
    # pairs (gap): 2.0 ok, 3.0 ok, -1.0 wrong, 1.0 ok
    assert m["n_pairs"] == 4 and m["accuracy"] == pytest.approx(0.75)
    assert m["length_baseline_accuracy"] == pytest.approx(3 / 4)  # longer wins 3 of 4
    # the model sides with the longer answer in the first two pairs only
    assert m["picks_longer_rate"] == pytest.approx(2 / 4)
    assert m["by_agreement"][">=0.8"] == {
        "n_pairs": 3,
        "accuracy": pytest.approx(2 / 3),
        "mean_human_agreement": 0.9,
    }
    assert m["by_agreement"]["<0.6"]["accuracy"] == 1.0
    assert m["human_agreement"] == pytest.approx((0.9 * 3 + 0.5) / 4)
    expected_ll = sum(math.log1p(math.exp(-g)) for g in (2.0, 3.0, -1.0, 1.0)) / 4
    assert m["log_loss"] == pytest.approx(expected_ll)
    assert m["reward"]["mean"] == pytest.approx(0.4)
    assert m["reward"]["q50"] == pytest.approx(0.0)


def test_ece_and_wilson():
    # All gaps zero: predictions 0.5 in both orientations, outcomes half right: calibrated.
    assert expected_calibration_error([0.0] * 10) == pytest.approx(0.0)
    # Huge gaps all in the right direction: confident and right, calibrated again.
    assert expected_calibration_error([30.0] * 10) == pytest.approx(0.0, abs=1e-9)
    # Huge gaps in the wrong direction: confident and wrong.
    assert expected_calibration_error([-30.0] * 10) == pytest.approx(1.0)
    lo, hi = wilson_interval(8, 10)
    assert (round(lo, 3), round(hi, 3)) == (0.490, 0.943)
    assert wilson_interval(0, 20)[0] == 0.0
