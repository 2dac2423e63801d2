"""Trainer configs are validated by building the rlhf dataclass, naming the bad key."""

import pytest
from django.core.exceptions import ValidationError

from training.configs import PPO, REWARD_MODEL, base_model_check, config_build, config_validate


def fields_of(excinfo) -> dict:
    return excinfo.value.message_dict


@pytest.mark.parametrize("kind", [REWARD_MODEL, PPO])
def test_unknown_key_is_named(kind):
    with pytest.raises(ValidationError) as exc:
        config_validate(kind, {"learning_rate": 1e-4, "lerning_rate": 1e-4})
    assert list(fields_of(exc)) == ["config.lerning_rate"]


@pytest.mark.parametrize(
    ("kind", "key"),
    [(REWARD_MODEL, "train_file"), (REWARD_MODEL, "output_dir"), (PPO, "reward_model"),
     (PPO, "lineage"), (PPO, "ptx_path")],
)  # fmt: skip
def test_server_owned_keys_are_refused(kind, key):
    with pytest.raises(ValidationError) as exc:
        config_validate(kind, {key: "/etc"})
    assert "set by the server" in fields_of(exc)[f"config.{key}"][0]


@pytest.mark.parametrize(
    ("kind", "options", "field"),
    [
        (REWARD_MODEL, {"batch_size": 0}, "config.batch_size"),
        (REWARD_MODEL, {"batch_size": "8"}, "config.batch_size"),
        (REWARD_MODEL, {"labels": "votes"}, "config.labels"),
        (PPO, {"batch_size": 6, "mini_batch_size": 4}, "config.mini_batch_size"),
        (PPO, {"temperature": 0}, "config.temperature"),
        (PPO, {"kl_coef": "high"}, "config.kl_coef"),
        # the field the error carries, where the message names another word first
        (
            REWARD_MODEL,
            {"length_debias": "balanced_pairs", "length_debias_coef": 2},
            "config.length_debias_coef",
        ),
        (REWARD_MODEL, {"num_epochs": 0, "max_steps": 0}, "config.num_epochs"),
        (
            PPO,
            {"score_baseline": "leave_one_out", "samples_per_prompt": 1},
            "config.samples_per_prompt",
        ),
        (PPO, {"value_model_init": "none", "lam": 0.9}, "config.lam"),
    ],
)
def test_bad_values_name_their_key(kind, options, field):
    with pytest.raises(ValidationError) as exc:
        config_validate(kind, options)
    assert field in fields_of(exc), fields_of(exc)


def test_not_an_object():
    with pytest.raises(ValidationError) as exc:
        config_validate(REWARD_MODEL, ["max_steps", 3])
    assert "config" in fields_of(exc)


def test_build_applies_checkpoint_defaults_and_user_options():
    config = config_build(
        REWARD_MODEL,
        {"max_steps": 7},
        {"model_name_or_path": "m", "train_file": "t", "output_dir": "o"},
    )
    assert config.max_steps == 7
    assert config.checkpoint_every == 100  # on by default so runs can resume
    overridden = config_build(
        REWARD_MODEL,
        {"checkpoint_every": 0},
        {"model_name_or_path": "m", "train_file": "t", "output_dir": "o"},
    )
    assert overridden.checkpoint_every == 0


def test_base_model_local_dir_and_hub_offline(tmp_path, monkeypatch):
    (tmp_path / "config.json").write_text("{}")
    base_model_check(str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    base_model_check("org/model")  # a hub id is fine where the hub is reachable


def test_base_model_errors_do_not_tell_which_server_directories_exist(tmp_path, monkeypatch):
    """An existing directory without config.json, a missing one, a file, a system folder and
    an unreachable hub id all get one message, so a request cannot map the server's disk."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    (tmp_path / "file").write_text("x")
    messages = set()
    for value in (str(tmp_path), str(tmp_path / "missing"), str(tmp_path / "file"), "/etc",
                  "/root/.ssh", "../..", "org/model", "not a name!"):  # fmt: skip
        with pytest.raises(ValidationError) as raised:
            base_model_check(value, "model_path")
        message = raised.value.message_dict["model_path"][0]
        assert value not in message
        messages.add(message)
    assert len(messages) == 1, messages
