"""End-to-end runs of the reward trainer on tiny models (a few seconds each on CPU)."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForSequenceClassification

from rlhf.callbacks import RunCallbacks, StopRequested
from rlhf.config import RewardConfig
from rlhf.data import load_preferences
from rlhf.score import main as score_main
from rlhf.scoring import RewardScorer
from rlhf.train_reward import latest_checkpoint, train_reward
from rlhf.train_reward import main as train_main


def _config(model_dir, train_file, out_dir, **over) -> RewardConfig:
    base = dict(
        model_name_or_path=str(model_dir),
        train_file=str(train_file),
        output_dir=str(out_dir),
        batch_size=4,
        learning_rate=2e-3,
        num_epochs=3,
        max_length=48,
        eval_fraction=0.25,
        warmup_ratio=0.0,
        seed=0,
        num_threads=1,
        log_every=5,
    )
    base.update(over)
    return RewardConfig(**base)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, bert_dir, make_rankings, jsonl):
    tmp = tmp_path_factory.mktemp("trained")
    train_file = jsonl(tmp / "train.jsonl", make_rankings(80, k=3, seed=1))
    cfg = _config(bert_dir, train_file, tmp / "out", forward_chunk_size=6)
    return cfg, train_reward(cfg)


def test_learns_a_separable_preference(trained):
    _, result = trained
    val = result["metrics"]["validation"]
    assert val["n_pairs"] == 40  # 20 held-out prompts x 2 pairs (the two losers tie)
    assert val["accuracy"] >= 0.9
    assert val["length_baseline_accuracy"] < 0.8  # length alone cannot solve this data
    assert 0 < result["training"]["padding_fraction"] < 0.5
    assert result["training"]["steps"] == 45  # ceil(60 / 4) x 3 epochs
    assert result["truncation"]["train"]["sequences"] == 180


def test_saved_model_loads_and_scorer_applies_offset(trained):
    cfg, result = trained
    out = cfg.output_dir
    with open(f"{out}/rankwise_card.json") as fh:
        card = json.load(fh)
    for key in (
        "base_model",
        "snapshot_id",
        "snapshot_sha256",
        "config",
        "metrics",
        "reward_offset",
        "code_version",
        "truncation",
    ):
        assert key in card
    assert card["reward_offset"] == pytest.approx(result["reward_offset"])
    assert card["config"]["learning_rate"] == cfg.learning_rate

    model = AutoModelForSequenceClassification.from_pretrained(out, num_labels=1)
    assert model.config.num_labels == 1
    scorer = RewardScorer.from_pretrained(out)
    assert scorer.max_length == cfg.max_length

    examples, _ = load_preferences(cfg.train_file)
    from rlhf.data import assign_splits

    assign_splits(examples, cfg.eval_fraction, cfg.seed)
    train = [e for e in examples if e.split == "train"]
    prompts = [e.prompt for e in train for _ in e.completions]
    texts = [t for e in train for t in e.completions]
    scores = scorer.score(prompts, texts, batch_size=7)
    assert abs(sum(scores) / len(scores)) < 1e-3 * max(1.0, abs(card["reward_offset"]))
    raw = scorer.raw_scores(prompts[:3], texts[:3])
    assert [r - card["reward_offset"] for r in raw] == pytest.approx(scores[:3], abs=1e-5)
    # The scorer's reward for the marked completion beats the others.
    ex = train[0]
    best = ex.pairs[0].better
    s = scorer.score([ex.prompt] * 3, ex.completions)
    assert s[best] == max(s)


def test_score_cli_prints_accuracy_and_writes_scores(
    trained, tmp_path, capsys, make_rankings, jsonl
):
    cfg, _ = trained
    rows = []
    for r in make_rankings(10, k=2, seed=5):
        best = r["annotations"][0]["ranking"][0][0]
        texts = {c["id"]: c["text"] for c in r["completions"]}
        worst = next(i for i in texts if i != best)
        rows.append({"prompt": r["prompt"], "chosen": texts[best], "rejected": texts[worst]})
    pairs = jsonl(tmp_path / "pairs.jsonl", rows)
    out = tmp_path / "scores.jsonl"
    assert score_main(["--model", cfg.output_dir, "--input", str(pairs), "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "pairwise accuracy" in printed
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(lines) == 10 and all("chosen_score" in x and "rejected_score" in x for x in lines)
    assert sum(x["chosen_score"] > x["rejected_score"] for x in lines) >= 9


def _weights(path):
    return load_file(f"{path}/model.safetensors")


def test_same_seed_same_weights_other_seed_differs(tmp_path, bert_dir, make_rankings, jsonl):
    train_file = jsonl(tmp_path / "t.jsonl", make_rankings(24, k=3, seed=2))
    runs = {}
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        cfg = _config(
            bert_dir, train_file, tmp_path / name, seed=seed, max_steps=4, disable_dropout=False
        )
        train_reward(cfg)
        runs[name] = _weights(cfg.output_dir)
    assert runs["a"].keys() == runs["b"].keys()
    for k in runs["a"]:
        assert torch.equal(runs["a"][k], runs["b"][k]), k
    assert any(not torch.equal(runs["a"][k], runs["c"][k]) for k in runs["a"])


class StopAfterCheckpoint(RunCallbacks):
    def __init__(self):
        self.stop = False

    def on_checkpoint(self, step, path):
        self.stop = True

    def should_stop(self):
        return self.stop


def test_checkpoint_then_resume_matches_an_uninterrupted_run(
    tmp_path, bert_dir, make_rankings, jsonl
):
    # Dropout on, so the restored RNG state matters as well as weights and optimiser.
    train_file = jsonl(tmp_path / "t.jsonl", make_rankings(32, k=3, seed=3))
    common = dict(num_epochs=2, checkpoint_every=5, disable_dropout=False, warmup_ratio=0.2)
    full = _config(bert_dir, train_file, tmp_path / "full", **common)
    full_result = train_reward(full)
    assert full_result["training"]["steps"] == 12  # 6 batches per epoch, 2 epochs

    part = _config(bert_dir, train_file, tmp_path / "part", **common)
    with pytest.raises(StopRequested):
        train_reward(part, StopAfterCheckpoint())
    assert latest_checkpoint(part.output_dir).endswith("step-5")
    assert not (tmp_path / "part" / "model.safetensors").exists()

    resumed = _config(bert_dir, train_file, tmp_path / "part", resume_from="latest", **common)
    result = train_reward(resumed)
    assert result["training"]["steps"] == 12
    a, b = _weights(full.output_dir), _weights(resumed.output_dir)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6, msg=k)
    assert result["reward_offset"] == pytest.approx(full_result["reward_offset"], abs=1e-5)


class StopAt(RunCallbacks):
    def __init__(self, step):
        self.step, self.seen, self.asked = step, 0, 0

    def on_progress(self, step, total, metrics):
        self.seen = step

    def should_stop(self):
        self.asked += 1
        return self.seen >= self.step


def test_should_stop_is_honoured_within_one_step(tmp_path, bert_dir, make_rankings, jsonl):
    train_file = jsonl(tmp_path / "t.jsonl", make_rankings(40, k=3, seed=4))
    cb = StopAt(2)
    cfg = _config(bert_dir, train_file, tmp_path / "o", log_every=1)
    with pytest.raises(StopRequested):
        train_reward(cfg, cb)
    assert cb.seen == 2  # step 2 finished, step 3 never ran
    assert cb.asked == 3  # asked before steps 1, 2 and 3


def test_llama_with_chat_template_on_message_prompts(tmp_path, llama_dir, make_rankings, jsonl):
    train_file = jsonl(tmp_path / "t.jsonl", make_rankings(48, k=3, seed=6, messages=True))
    cfg = _config(llama_dir, train_file, tmp_path / "o", learning_rate=3e-3, num_epochs=2)
    result = train_reward(cfg)
    assert result["metrics"]["validation"]["accuracy"] >= 0.9
    scorer = RewardScorer.from_pretrained(cfg.output_dir)
    msgs = [{"role": "user", "content": "question w10"}]
    good, bad = scorer.score([msgs, msgs], ["w11 yes w12", "w11 w13 w12"])
    assert good > bad


def test_lora_run_saves_a_merged_plain_model(tmp_path, bert_dir, make_rankings, jsonl):
    train_file = jsonl(tmp_path / "t.jsonl", make_rankings(16, k=2, seed=7))
    cfg = _config(
        bert_dir,
        train_file,
        tmp_path / "o",
        lora_r=4,
        max_steps=2,
        lora_target_modules=["query", "value"],
    )
    train_reward(cfg)
    saved = _weights(cfg.output_dir)
    assert not any("lora" in k for k in saved)
    base = _weights(bert_dir)
    assert not torch.equal(
        saved["bert.encoder.layer.0.attention.self.query.weight"],
        base["bert.encoder.layer.0.attention.self.query.weight"],
    )
    AutoModelForSequenceClassification.from_pretrained(cfg.output_dir, num_labels=1)


def test_cli_reports_bad_config_key_and_bad_data_line(
    tmp_path, bert_dir, capsys, make_rankings, jsonl
):
    cfg_path = tmp_path / "run.json"
    cfg_path.write_text(json.dumps({"model_name_or_path": str(bert_dir), "lerning_rate": 1e-4}))
    assert train_main(["--config", str(cfg_path)]) == 2
    assert "unknown config key(s): 'lerning_rate'" in capsys.readouterr().err

    rows = make_rankings(3, seed=8)
    rows[1]["annotations"][0]["ranking"] = [["A"], ["Z"]]
    train_file = jsonl(tmp_path / "t.jsonl", rows)
    cfg_path.write_text(
        json.dumps({"model_name_or_path": str(bert_dir), "train_file": str(train_file)})
    )
    assert train_main(["--config", str(cfg_path), "--output-dir", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert f"{train_file}:2:" in err and "annotations[0].ranking" in err and "'Z'" in err

    cfg_path.write_text(
        json.dumps(
            {"model_name_or_path": str(bert_dir), "train_file": str(train_file), "output_dir": "x"}
        )
    )
    assert (
        train_main(["--config", str(cfg_path), "--resume", "--output-dir", str(tmp_path / "none")])
        == 2
    )
    assert "no checkpoint" in capsys.readouterr().err


def test_gradient_accumulation_matches_a_larger_batch(tmp_path, bert_dir, make_rankings, jsonl):
    train_file = jsonl(tmp_path / "t.jsonl", make_rankings(24, k=3, seed=9))
    # Without bucketing, batches are consecutive runs of one seeded shuffle, so two
    # micro-batches of 2 hold exactly the prompts of one batch of 4.
    # A larger Adam epsilon keeps gradients that are zero up to rounding (the reward head's
    # bias cancels in every pair) from being blown up to full-size steps of random sign.
    common = dict(max_steps=3, length_bucketing=False, max_grad_norm=0.0, adam_epsilon=1e-4)
    big = _config(bert_dir, train_file, tmp_path / "big", batch_size=4, **common)
    acc = _config(
        bert_dir,
        train_file,
        tmp_path / "acc",
        batch_size=2,
        gradient_accumulation_steps=2,
        **common,
    )
    assert train_reward(big)["training"]["steps"] == train_reward(acc)["training"]["steps"] == 3
    a, b, start = _weights(big.output_dir), _weights(acc.output_dir), _weights(bert_dir)
    moved = (
        (
            a["bert.embeddings.word_embeddings.weight"]
            - start["bert.embeddings.word_embeddings.weight"]
        )
        .abs()
        .max()
    )
    assert moved > 1e-4
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6, msg=k)


def test_bf16_autocast_with_gradient_checkpointing(tmp_path, bert_dir, make_rankings, jsonl):
    train_file = jsonl(tmp_path / "t.jsonl", make_rankings(16, k=3, seed=10))
    cfg = _config(
        bert_dir,
        train_file,
        tmp_path / "o",
        mixed_precision="bf16",
        gradient_checkpointing=True,
        max_steps=2,
        log_every=1,
        save_model=False,
    )
    losses = []

    class Record(RunCallbacks):
        def on_progress(self, step, total, metrics):
            losses.append(metrics["loss"])

    result = train_reward(cfg, Record())
    assert result["training"]["steps"] == 2 and len(losses) == 2
    assert all(0 < loss < 10 for loss in losses)
    assert result["metrics"]["validation"]["n_pairs"] == 8
