"""Issue 13's trainer options: loss weighting, source-mixed batches, the linear schedule,
the one-text input layout and its model card, hh dialogues without a prompt, the start
summary. Tiny models built from configs; a few seconds in all."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from rlhf.callbacks import RunCallbacks
from rlhf.config import RewardConfig
from rlhf.data import DataError, Example, Pair, load_preferences
from rlhf.reward_model import (
    RewardModule,
    batch_rewards,
    cut_by_comparisons,
    drop_overlong,
    encode_examples,
    lr_lambda,
    make_batch,
    mix_sources,
    plan_batches,
    preference_loss,
    source_pair_weights,
)
from rlhf.score import score_file
from rlhf.scoring import TEXT_TEMPLATE, RewardScorer, encode_example
from rlhf.train_reward import train_reward


def _ex(source: str, k: int, pid: str = "p") -> Example:
    pairs = [Pair(i, j) for i in range(k) for j in range(i + 1, k)]
    return Example(pid, "q", [f"w{10 + i}" for i in range(k)], pairs, source=source)


# ---- data -------------------------------------------------------------------------------


def test_hh_dialogues_without_prompt_split_at_the_last_assistant_turn(tmp_path):
    rows = [
        {
            "chosen": "\n\nHuman: hi\n\nAssistant: hello\n\nHuman: help?\n\nAssistant: Sure.",
            "rejected": "\n\nHuman: hi\n\nAssistant: hello\n\nHuman: help?\n\nAssistant: No.",
            "source": "hh",
        },
        {
            "chosen": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
            "rejected": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "b"}],
        },
    ]
    path = tmp_path / "hh.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    (hh, msgs), _ = load_preferences(str(path))
    assert hh.prompt == "\n\nHuman: hi\n\nAssistant: hello\n\nHuman: help?\n\nAssistant:"
    assert hh.completions == ["Sure.", "No."]
    assert hh.source == "hh"
    assert msgs.prompt == [{"role": "user", "content": "q"}]
    assert msgs.completions == ["a", "b"]
    assert msgs.source == "pairwise"  # no source given: the line's format


def test_dialogues_that_differ_before_the_last_turn_name_the_field(tmp_path):
    row = {
        "chosen": "\n\nHuman: hi\n\nAssistant: Sure.",
        "rejected": "\n\nHuman: bye\n\nAssistant: No.",
    }
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(DataError, match=r"bad.jsonl:1: field 'prompt': missing, and the two"):
        load_preferences(str(path))


# ---- loss weighting and batches ----------------------------------------------------------


def test_weighting_comparison_counts_pairs_prompt_counts_prompts(bert_dir):
    tok = AutoTokenizer.from_pretrained(bert_dir)
    examples = [_ex("oasst", 4, "a"), _ex("hh", 2, "b")]  # 6 pairs + 1 pair
    encs, _ = encode_examples(tok, examples, 32)
    batch = make_batch(examples, encs, tok.pad_token_id)
    # Ranking's pairs all right by a wide margin, the hh pair wrong: the loss is the hh pair's
    # share of the weight times log(1 + e^1) (the ranking's pairs cost almost nothing).
    rewards = torch.tensor([300.0, 200.0, 100.0, 0.0, 0.0, 1.0])
    hh_loss = float(torch.nn.functional.softplus(torch.tensor(1.0)))
    per_comparison, gap = preference_loss(rewards, batch, "comparison")
    per_prompt, _ = preference_loss(rewards, batch, "prompt")
    assert len(gap) == 7
    assert per_comparison.item() == pytest.approx(hh_loss / 7, rel=1e-4)
    assert per_prompt.item() == pytest.approx(hh_loss / 2, rel=1e-4)

    weights = source_pair_weights(examples)
    batch_w = make_batch(examples, encs, tok.pad_token_id, weights=weights)
    per_source, _ = preference_loss(rewards, batch_w, "source")
    assert per_source.item() == pytest.approx(hh_loss * 3.5 / 7, rel=1e-4)  # half of 7 pairs


def test_source_weights_give_every_source_the_same_total_and_keep_the_mean():
    examples = [_ex("oasst", 4, "a"), _ex("hh", 2, "b"), _ex("hh", 2, "c")]  # 6 + 1 + 1 pairs
    weights = source_pair_weights(examples)
    oa = sum(weights[0])
    hh = sum(weights[1]) + sum(weights[2])
    assert oa == pytest.approx(hh)
    assert oa + hh == pytest.approx(8)
    single = [_ex("hh", 2, "b"), _ex("hh", 3, "c")]
    assert source_pair_weights(single) == [[1.0], [1.0, 1.0, 1.0]]


def test_mixed_batches_hold_each_source_in_its_share():
    sources = ["oasst"] * 20 + ["hh"] * 80
    idx = list(range(100))
    mixed = mix_sources(idx, sources)
    assert sorted(mixed) == idx
    for s in range(0, 100, 10):
        assert sum(sources[i] == "oasst" for i in mixed[s : s + 10]) == 2

    class E:  # plan_batches only needs token lengths
        def __init__(self, n):
            self.input_ids = [0] * n

    encoded = [[E(300)] for _ in range(20)] + [[E(40)] for _ in range(80)]
    batches = plan_batches(encoded, 10, 0, 0, False, 50, sources)
    assert all(sum(sources[i] == "oasst" for i in b) == 2 for b in batches)
    bucketed = plan_batches(encoded, 10, 0, 0, True, 50, sources)
    # Length bucketing puts the long source into batches of its own.
    assert max(sum(sources[i] == "oasst" for i in b) for b in bucketed) == 10


def test_linear_schedule_warms_up_then_decays_to_zero():
    f = lr_lambda(100, 10, "linear")
    assert f(0) == pytest.approx(1 / 11)
    assert f(10) == pytest.approx(1.0)
    assert f(55) == pytest.approx(0.5)
    assert f(100) == 0.0
    assert RewardConfig().lr_scheduler == "linear"


# ---- input layout ------------------------------------------------------------------------


def test_text_layout_is_the_tokenized_template_and_keeps_the_prompt_end(bert_dir):
    tok = AutoTokenizer.from_pretrained(bert_dir)
    prompt, completion = "question w10 w11", "w12 w13 yes"
    enc = encode_example(tok, prompt, completion, 64, "text", 0.25)
    whole = tok(TEXT_TEMPLATE.format(prompt=prompt, completion=completion))
    assert enc.input_ids == whole["input_ids"]
    assert enc.token_type_ids == [0] * len(enc.input_ids)  # one segment
    assert not enc.truncated

    long_prompt = " ".join(f"w{20 + i}" for i in range(40))
    long_reply = " ".join(f"w{30 + i % 30}" for i in range(60))
    enc = encode_example(tok, long_prompt + " w19", long_reply, 40, "text", 0.25)
    assert len(enc.input_ids) == 40
    assert enc.prompt_truncated and enc.completion_truncated
    words = tok.convert_ids_to_tokens(enc.input_ids)
    # Budget 38 after [CLS]/[SEP]: the prompt keeps its last 9 tokens (w19 then
    # "Assistant :" are the end), the reply its first 29.
    at = words.index("w19")
    assert words[at + 1 : at + 3] == ["assistant", ":"]
    assert words[at + 3 : at + 6] == ["w30", "w31", "w32"]
    assert at + 3 == 1 + 9  # [CLS] + 9 prompt tokens
    # The older pair layout gives the whole room to the reply: the prompt vanishes.
    old = encode_example(tok, long_prompt + " w19", long_reply, 40, "pair")
    assert "w19" not in tok.convert_ids_to_tokens(old.input_ids)


@pytest.mark.parametrize("arch", ["bert", "llama"])
def test_card_template_with_plain_transformers_reproduces_rlhf_score(
    arch, request, tmp_path, make_rankings, jsonl
):
    model_dir = request.getfixturevalue(f"{arch}_dir")
    train_file = jsonl(tmp_path / "train.jsonl", make_rankings(24, k=3, seed=2))
    cfg = RewardConfig(
        model_name_or_path=str(model_dir),
        train_file=str(train_file),
        output_dir=str(tmp_path / "out"),
        batch_size=4,
        learning_rate=1e-3,
        max_length=48,
        seed=0,
        num_threads=1,
        offset_max_completions=20,
    )
    train_reward(cfg)
    card = json.loads((tmp_path / "out" / "rankwise_card.json").read_text())
    assert card["input"]["layout"] == "text"
    template = card["input"]["template"]
    # Decoders read the reward at the closing EOS: the template says so.
    assert template.endswith("</s>") == (arch == "llama")
    pairs = [
        {"prompt": "question w10 w11", "chosen": "w12 yes w13", "rejected": "w14 w15"},
        {"prompt": "question w16", "chosen": "w17 w18 w19 yes", "rejected": "w20"},
    ]
    pair_file = jsonl(tmp_path / "pairs.jsonl", pairs)
    scorer = RewardScorer.from_pretrained(tmp_path / "out")
    score_file(scorer, str(pair_file), str(tmp_path / "scores.jsonl"))
    cli = [json.loads(x) for x in (tmp_path / "scores.jsonl").read_text().splitlines()]

    model = AutoModelForSequenceClassification.from_pretrained(tmp_path / "out").eval()
    tok = AutoTokenizer.from_pretrained(tmp_path / "out")
    with torch.no_grad():
        for row, got in zip(pairs, cli, strict=True):
            for side in ("chosen", "rejected"):
                text = template.format(prompt=row["prompt"], completion=row[side])
                raw = model(**tok(text, return_tensors="pt")).logits[0, 0].item()
                assert raw - card["reward_offset"] == pytest.approx(got[f"{side}_score"], abs=1e-5)
    assert card["reward_offset"] != 0.0  # the offset is applied, not trivially zero


def test_old_cards_without_a_layout_score_with_the_pair_layout(tmp_path, bert_dir):
    (tmp_path / "m").mkdir()
    model = AutoModelForSequenceClassification.from_pretrained(bert_dir)
    model.save_pretrained(tmp_path / "m")
    AutoTokenizer.from_pretrained(bert_dir).save_pretrained(tmp_path / "m")
    (tmp_path / "m" / "rankwise_card.json").write_text(json.dumps({"max_length": 32}))
    assert RewardScorer.from_pretrained(tmp_path / "m").input_layout == "pair"


# ---- the start summary -------------------------------------------------------------------


class Lines(RunCallbacks):
    def __init__(self):
        self.lines = []

    def on_log(self, line):
        self.lines.append(line)


def test_start_summary_and_the_unsplit_note(tmp_path, bert_dir, make_rankings, jsonl):
    rows = make_rankings(12, k=3, seed=3)
    for r in rows[:2]:
        r["split"] = "validation"
    train_file = jsonl(tmp_path / "train.jsonl", rows)
    base = dict(
        model_name_or_path=str(bert_dir),
        train_file=str(train_file),
        output_dir=str(tmp_path / "out"),
        batch_size=4,
        max_length=32,
        num_threads=1,
        save_model=False,
    )
    cb = Lines()
    result = train_reward(RewardConfig(**base, eval_fraction=0.2), cb)
    text = "\n".join(cb.lines)
    assert "data: 12 examples, 24 comparisons" in text
    assert "note: 10 examples had no 'split'; 2 of them were held out" in text
    assert "start: 8 examples, 16 comparisons" in text and " tokens in 24 sequences" in text
    assert result["data"]["splits"]["unsplit_held_out"] == 2

    cb = Lines()
    result = train_reward(RewardConfig(**base, eval_fraction=0.0), cb)
    assert "0 of them were held out" in "\n".join(cb.lines)
    assert result["data"]["splits"]["train"] == 10


def test_drop_overlong_keeps_a_rankings_other_pairs_and_remaps_them(bert_dir):
    tok = AutoTokenizer.from_pretrained(bert_dir)
    long = " ".join(["w12"] * 60)
    ranking = Example("a", "q", ["w10", long, "w11"], [Pair(0, 1), Pair(0, 2), Pair(1, 2)])
    ranking.pair_probs = [0.9, 0.8, 0.7]
    pair = Example("b", "q", [long, "w10"], [Pair(0, 1)])
    fits = _ex("hh", 2, "c")
    examples = [ranking, pair, fits]
    encs, _ = encode_examples(tok, examples, 32, "text", 0.25)
    kept, kept_enc, stats = drop_overlong(examples, encs)
    assert stats == {"pairs_dropped": 3, "examples_dropped": 1}
    assert [e.prompt_id for e in kept] == ["a", "c"]
    # Only (w10 > w11) survives, as completions 0 and 1 of the shortened ranking.
    assert kept[0].completions == ["w10", "w11"]
    assert [(p.better, p.worse) for p in kept[0].pairs] == [(0, 1)]
    assert kept[0].pair_probs == [0.8]
    assert kept_enc[0] == [encs[0][0], encs[0][2]]
    assert kept[1] is fits and kept_enc[1] is encs[2]
    assert ranking.completions[1] == long  # the input example is left alone


def test_overlong_drop_is_counted_in_the_start_summary(tmp_path, bert_dir, jsonl):
    long = " ".join(["w12"] * 60)
    rows = [
        {"prompt": "q", "chosen": "w10", "rejected": long if i % 4 == 0 else "w11",
         "prompt_id": f"p{i}", "split": "validation" if i < 2 else "train"}
        for i in range(12)
    ]  # fmt: skip
    config = RewardConfig(
        model_name_or_path=str(bert_dir),
        train_file=str(jsonl(tmp_path / "train.jsonl", rows)),
        output_dir=str(tmp_path / "out"),
        batch_size=4,
        max_length=32,
        num_threads=1,
        save_model=False,
        overlong="drop",
    )
    cb = Lines()
    result = train_reward(config, cb)
    text = "\n".join(cb.lines)
    # Train lines 2..11: those at 4 and 8 are over-long; validation keeps its long pair (0).
    assert "overlong: drop: 2 comparisons and 2 examples longer than 32 tokens" in text
    assert "start: 8 examples, 8 comparisons" in text
    assert result["truncation"]["train"]["sequences"] == 16
    assert result["metrics"]["validation"]["n_pairs"] == 2


def test_batches_by_comparisons_give_rankings_the_steps_of_their_pairs():
    per = [6, 1, 1, 3, 1, 1, 1, 1, 36, 1]
    assert cut_by_comparisons(list(range(10)), None, 4) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    batches = cut_by_comparisons(list(range(10)), per, 4)
    assert batches == [[0], [1, 2, 3], [4, 5, 6, 7], [8], [9]]
    assert sorted(i for b in batches for i in b) == list(range(10))


def test_a_ranking_and_its_pairs_give_the_same_gradient(bert_dir):
    """Per comparison and without dropout, K-wise training of a ranking follows the same
    gradient as its pairs in one batch: K-wise saves forward passes, it cannot add signal."""
    tok = AutoTokenizer.from_pretrained(bert_dir)
    model = AutoModelForSequenceClassification.from_pretrained(bert_dir, num_labels=1)
    model.eval()  # no dropout, as disable_dropout trains
    ranking = _ex("oasst", 4, "a")
    pairs = [
        Example(
            "a", "q", [ranking.completions[p.better], ranking.completions[p.worse]], [Pair(0, 1)]
        )
        for p in ranking.pairs
    ]

    def grad(examples):
        model.zero_grad()
        encs, _ = encode_examples(tok, examples, 32, "text", 0.25)
        batch = make_batch(examples, encs, tok.pad_token_id)
        loss, _ = preference_loss(batch_rewards(RewardModule(model), batch), batch, "comparison")
        loss.backward()
        return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])

    kwise, pairwise = grad([ranking]), grad(pairs)
    assert torch.allclose(kwise, pairwise, atol=1e-6)
    assert kwise.abs().sum() > 0


def test_batch_unit_comparisons_sets_the_steps_per_epoch(tmp_path, bert_dir, jsonl):
    rows = [  # strict rankings of 3: 3 comparisons per prompt
        {"id": f"p{i}", "prompt": "q", "split": "train",
         "completions": [{"id": c, "text": f"w{10 + k}"} for k, c in enumerate("abc")],
         "annotations": [{"annotator": "x", "ranking": [["a"], ["b"], ["c"]]}]}
        for i in range(10)
    ]  # fmt: skip
    base = dict(
        model_name_or_path=str(bert_dir),
        train_file=str(jsonl(tmp_path / "train.jsonl", rows)),
        output_dir=str(tmp_path / "out"),
        batch_size=6,
        max_length=32,
        num_threads=1,
        save_model=False,
    )
    steps = {
        unit: train_reward(RewardConfig(**base, batch_unit=unit))["training"]["steps"]
        for unit in ("prompts", "comparisons")
    }
    assert steps == {"prompts": 2, "comparisons": 5}  # 6 prompts a batch, or 2 (6 pairs)


@pytest.mark.parametrize("arch", ["bert", "llama"])
def test_head_learning_rate_puts_the_head_and_pooler_in_their_own_group(request, arch):
    from rlhf.reward_setup import param_groups

    model_dir = request.getfixturevalue(f"{arch}_dir")
    module = RewardModule(
        AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=1)
    )
    names = {id(p): n for n, p in module.named_parameters()}
    trunk, head = param_groups(module, 5e-5, 1e-3)
    assert (trunk["lr"], head["lr"]) == (5e-5, 1e-3)
    head_names = sorted(names[id(p)] for p in head["params"])
    expected = {"bert": ["classifier", "pooler"], "llama": ["score"]}[arch]
    assert (
        sorted({n.split(".")[2 if arch == "bert" and "pooler" in n else 1] for n in head_names})
        == expected
    )
    assert len(trunk["params"]) + len(head["params"]) == len(names)
    # without a head rate: one group, every parameter
    (only,) = param_groups(module, 5e-5, 0.0)
    assert only["lr"] == 5e-5 and len(only["params"]) == len(names)


def test_head_learning_rate_moves_the_head_faster_in_training(tmp_path, bert_dir, make_rankings):
    """Same data, seed and trunk rate: a higher head rate moves the classifier further."""
    import dataclasses

    train_file = tmp_path / "train.jsonl"
    train_file.write_text("".join(json.dumps(r) + "\n" for r in make_rankings(12, k=3)))
    base = RewardConfig(model_name_or_path=str(bert_dir), train_file=str(train_file),
                        output_dir=str(tmp_path / "a"), batch_size=4, max_length=32,
                        num_threads=1, learning_rate=1e-5, seed=0)  # fmt: skip
    start = AutoModelForSequenceClassification.from_pretrained(bert_dir, num_labels=1)
    torch.manual_seed(0)
    moved = {}
    for head_lr in (0.0, 1e-2):
        config = dataclasses.replace(base, head_learning_rate=head_lr,
                                     output_dir=str(tmp_path / f"rm-{head_lr}"))  # fmt: skip
        result = train_reward(config)
        trained = AutoModelForSequenceClassification.from_pretrained(result["model_dir"])
        moved[head_lr] = {
            part: (trained.get_parameter(f"{part}.weight") - start.get_parameter(f"{part}.weight"))
            .norm()
            .item()
            for part in ("bert.pooler.dense", "bert.encoder.layer.0.attention.self.query")
        }
    assert moved[1e-2]["bert.pooler.dense"] > 10 * moved[0.0]["bert.pooler.dense"]
    # the trunk's rate is the same in both runs: the same order of movement
    ratio = (
        moved[1e-2]["bert.encoder.layer.0.attention.self.query"]
        / moved[0.0]["bert.encoder.layer.0.attention.self.query"]
    )
    assert 0.2 < ratio < 5
