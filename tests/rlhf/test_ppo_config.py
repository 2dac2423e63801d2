"""PPOConfig: JSON round trip and clear errors for bad run files."""

from __future__ import annotations

import json

import pytest

from rlhf.config import ConfigError, RewardConfig
from rlhf.ppo_config import PPOConfig

REQUIRED = {"policy": "/m/sft", "prompts_path": "/d/p.jsonl", "output_dir": "/runs/x"}


def test_json_round_trip(tmp_path):
    config = PPOConfig.from_dict({**REQUIRED, "kl_coef": 0.05, "lora": True, "lineage": {"a": 1}})
    path = tmp_path / "run.json"
    config.to_json(path)
    again = PPOConfig.from_json(path)
    assert again == config
    assert again.kl_coef == 0.05 and again.lora is True and again.lineage == {"a": 1}


def test_unknown_key_is_named():
    with pytest.raises(ConfigError, match="'kl_coeff'"):
        PPOConfig.from_dict({**REQUIRED, "kl_coeff": 0.1})


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("batch_size", "16", "'batch_size' must be int"),
        ("lora", 1, "'lora' must be bool"),
        ("missing_eos_penalty", "x", "'missing_eos_penalty' must be float or null"),
        ("lora_target_modules", ["q_proj", 3], "'lora_target_modules'"),
        ("batch_size", 6, "'mini_batch_size' must divide 'batch_size'"),
        ("temperature", 0, "'temperature' must be > 0"),
        ("kl_estimator", "k9", "'kl_estimator' must be one of"),
        ("ptx_coef", 0.5, "'ptx_coef' > 0 needs 'ptx_path'"),
        ("top_p", 1.5, "'top_p'"),
        ("total_steps", 0, "'total_steps' must be > 0"),
        ("samples_per_prompt", 3, "'samples_per_prompt' must divide 'batch_size'"),
        ("score_baseline", "leave_one_out", "needs 'samples_per_prompt' >= 2"),
        ("score_baseline", "group", "'score_baseline' must be one of"),
        ("value_model_init", "none", "value_model_init='none' needs 'lam' = 1"),
    ],
)
def test_bad_values_raise_clear_errors(key, value, message):
    with pytest.raises(ConfigError, match=message):
        PPOConfig.from_dict({**REQUIRED, key: value})


def test_required_fields_and_ints_for_floats(tmp_path):
    with pytest.raises(ConfigError, match="'policy' is required"):
        PPOConfig.from_dict({"prompts_path": "p", "output_dir": "o"})
    assert PPOConfig.from_dict({**REQUIRED, "kl_coef": 1}).kl_coef == 1  # JSON writes 1.0 as 1
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        PPOConfig.from_json(bad)
    bad.write_text(json.dumps([1, 2]))
    with pytest.raises(ConfigError, match="JSON object"):
        PPOConfig.from_json(bad)


@pytest.mark.parametrize(
    ("config_cls", "data", "field"),
    [
        (PPOConfig, {**REQUIRED, "batch_size": 6}, "mini_batch_size"),
        (PPOConfig, {**REQUIRED, "kl_coef": "high"}, "kl_coef"),
        (PPOConfig, {"prompts_path": "p", "output_dir": "o"}, "policy"),
        (RewardConfig, {"batch_size": 0}, "batch_size"),
        (RewardConfig, {"labels": 3}, "labels"),
        (RewardConfig, {"nope": 1}, "nope"),
    ],
)
def test_errors_carry_their_field(config_cls, data, field):
    with pytest.raises(ConfigError) as exc:
        config_cls.from_dict(data)
    assert exc.value.field == field
