"""PPO against a reward model with several heads: a weighted, conservative combination."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from rlhf.card import write_card  # noqa: E402
from rlhf.config_base import ConfigError  # noqa: E402
from rlhf.heads import HeadLayout  # noqa: E402
from rlhf.ppo import train_ppo  # noqa: E402
from rlhf.ppo.config import PPOConfig  # noqa: E402
from rlhf.ppo.tiny import (  # noqa: E402
    _tiny_llama_config,
    build_tiny_policy,
    build_tiny_tokenizer,
    write_tiny_prompts,
)


def build_multi_head_rm(path, members: int = 2) -> str:
    """A random tiny decoder RM with overall + helpfulness heads, ``members`` each."""
    from transformers import LlamaForSequenceClassification

    layout = HeadLayout(["overall", "helpfulness"], members, [0.0] * (2 * members))
    tok = build_tiny_tokenizer()
    torch.manual_seed(0)
    cfg = _tiny_llama_config(len(tok), 64, 2, num_labels=layout.n_outputs)
    LlamaForSequenceClassification(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    write_card(path, {"kind": "reward_model", "max_length": 64, "heads": layout.to_card(),
                      "input": {"layout": "text", "prompt_min_fraction": 0.25}})  # fmt: skip
    return str(path)


def test_ppo_optimises_the_weighted_conservative_score(tmp_path):
    torch.set_num_threads(1)
    rm = build_multi_head_rm(tmp_path / "rm")
    config = PPOConfig.from_dict({
        "policy": str(build_tiny_policy(tmp_path / "policy")),
        "prompts_path": str(write_tiny_prompts(tmp_path / "p.jsonl", 16)),
        "output_dir": str(tmp_path / "run"), "reward_model": rm, "total_steps": 1,
        "batch_size": 4, "mini_batch_size": 4, "micro_batch_size": 4, "ppo_epochs": 1,
        "max_new_tokens": 4, "temperature": 1.0, "num_eval_prompts": 0,
        "reward_weights": {"overall": 1.0, "helpfulness": 0.5}, "reward_conservative_k": 1.0,
    })  # fmt: skip
    result = train_ppo(config)
    # Several heads are no value head: the critic comes from the policy instead.
    assert result["value_model_init"] == "policy"
    assert math.isfinite(result["metrics"]["score"])
    bad = PPOConfig.from_dict({**config.to_dict(), "reward_weights": {"harmlessness": 1.0},
                               "output_dir": str(tmp_path / "bad")})  # fmt: skip
    with pytest.raises(ValueError, match="reward_weights names"):
        train_ppo(bad)


def test_reward_options_are_checked_by_name(tmp_path):
    base = {"policy": "p", "prompts_path": "x", "output_dir": "o"}
    for key, value in (("reward_weights", {"overall": "high"}), ("reward_conservative_k", -1)):
        with pytest.raises(ConfigError) as err:
            PPOConfig.from_dict({**base, key: value})
        assert err.value.field == key
