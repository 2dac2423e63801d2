"""PPOConfig: JSON round trip and clear errors for bad run files."""

from __future__ import annotations

import json

import pytest

from rlhf.config import ConfigError, RewardConfig
from rlhf.ppo.config import PPOConfig

REQUIRED = {"policy": "/m/sft", "prompts_path": "/d/p.jsonl", "output_dir": "/runs/x"}


def test_json_round_trip(tmp_path):
    config = PPOConfig.from_dict({**REQUIRED, "kl_coef": 0.05, "lora": True, "lineage": {"a": 1}})
    path = tmp_path / "run.json"
    config.to_json(path)
    again = PPOConfig.from_json(path)
    assert again == config
    assert again.kl_coef == 0.05 and again.lora is True and again.lineage == {"a": 1}


def test_unknown_key_is_named():
    with pytest.raises(ConfigError, match="'kl_coeff'") as caught:
        PPOConfig.from_dict({**REQUIRED, "kl_coeff": 0.1})
    assert caught.value.field == "kl_coeff"


@pytest.mark.parametrize(
    ("key", "value", "message", "field"),
    [
        ("batch_size", "16", "'batch_size' must be int", "batch_size"),
        ("lora", 1, "'lora' must be bool", "lora"),
        ("missing_eos_penalty", "x", "'missing_eos_penalty' must be float or null", None),
        ("lora_target_modules", ["q_proj", 3], "'lora_target_modules'", None),
        ("batch_size", 6, "'mini_batch_size' must divide 'batch_size'", "mini_batch_size"),
        ("temperature", 0, "'temperature' must be > 0", None),
        ("kl_estimator", "k9", "'kl_estimator' must be one of", None),
        ("ptx_coef", 0.5, "'ptx_coef' > 0 needs 'ptx_path'", "ptx_path"),
        ("top_p", 1.5, "'top_p'", None),
        ("total_steps", 0, "'total_steps' must be > 0", None),
        ("samples_per_prompt", 3, "'samples_per_prompt' must divide 'batch_size'", None),
        (
            "score_baseline",
            "leave_one_out",
            "needs 'samples_per_prompt' >= 2",
            "samples_per_prompt",
        ),
        ("score_baseline", "group", "'score_baseline' must be one of", None),
        ("value_model_init", "none", "value_model_init='none' needs 'lam' = 1", "lam"),
    ],
)
def test_bad_values_raise_clear_errors_naming_the_field(key, value, message, field):
    # The error's field is what the web form highlights: the key the rule is about, which
    # is the submitted key unless the rule says otherwise.
    with pytest.raises(ConfigError, match=message) as caught:
        PPOConfig.from_dict({**REQUIRED, key: value})
    assert caught.value.field == (field or key)
    assert str(caught.value).startswith("PPO config: ")


def test_required_fields_and_ints_for_floats(tmp_path):
    with pytest.raises(ConfigError, match="'policy' is required"):
        PPOConfig.from_dict({"prompts_path": "p", "output_dir": "o"})
    loaded = PPOConfig.from_dict({**REQUIRED, "kl_coef": 1})  # JSON writes 1.0 as 1
    assert loaded.kl_coef == 1.0 and isinstance(loaded.kl_coef, float)
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


def test_reading_the_config_does_not_import_torch():
    # The web process validates run files with these classes; importing torch there would
    # cost every web worker seconds and hundreds of MB.
    import subprocess
    import sys

    code = (
        "import sys, rlhf.ppo.config, rlhf.config, rlhf.ppo; "
        "sys.exit('torch' in sys.modules or 'transformers' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
