"""Trainer configs from what a user submits: validation at request time, the full config at run
time.

Users choose hyper-parameters; the server owns every key that names a file, a model or a
lineage field, so a request can neither point a trainer at an arbitrary path nor fake a
model's history. Validation builds the very dataclass the trainer will get (with placeholders
for the server's keys), so a request that passes here cannot fail later on a config error.
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Any

from django.core.exceptions import ValidationError

REWARD_MODEL = "reward_model"
PPO = "ppo"

SERVER_KEYS = {
    REWARD_MODEL: {
        "model_name_or_path", "train_file", "output_dir", "snapshot_id", "snapshot_sha256",
        "resume_from", "eval_files",
    },
    PPO: {
        "policy", "reward_model", "prompts_path", "eval_prompts_path", "ptx_path", "output_dir",
        "resume", "snapshot_id", "snapshot_sha256", "reward_model_run_id", "lineage",
    },
}  # fmt: skip

# Checkpoints on by default: without them a lost worker or a cancel means starting over.
DEFAULTS = {
    REWARD_MODEL: {"checkpoint_every": 100, "keep_checkpoints": 2},
    PPO: {"save_every": 25, "keep_checkpoints": 2},
}

_PLACEHOLDERS = {
    REWARD_MODEL: {"model_name_or_path": "-", "train_file": "-", "output_dir": "-"},
    PPO: {"policy": "-", "prompts_path": "-", "output_dir": "-", "reward_model": "-"},
}


def config_class(kind: str):
    if kind == REWARD_MODEL:
        from rlhf.config import RewardConfig

        return RewardConfig
    from rlhf.ppo.config import PPOConfig

    return PPOConfig


def config_build(kind: str, options: dict[str, Any], server: dict[str, Any]):
    """The trainer dataclass for ``options`` (user keys) plus ``server`` (server keys).

    Raises ValidationError keyed ``config.<key>`` (or ``config``) for anything the trainer
    would refuse.
    """
    from rlhf.config import ConfigError

    if not isinstance(options, dict):
        raise ValidationError({"config": ["must be a JSON object"]})
    cls = config_class(kind)
    names = {f.name for f in dataclasses.fields(cls)}
    errors: dict[str, list[str]] = {}
    for key in options:
        if key not in names:
            errors[f"config.{key}"] = [f"unknown {kind} config key {key!r}"]
        elif key in SERVER_KEYS[kind]:
            errors[f"config.{key}"] = [f"{key!r} is set by the server, not by the request"]
    if errors:
        raise ValidationError(errors)
    data = {**DEFAULTS[kind], **options, **server}
    try:
        config = cls.from_dict(data)
        if kind == REWARD_MODEL:
            config.validate_required()
    except ConfigError as exc:
        key = exc.field if exc.field in names else None
        raise ValidationError({f"config.{key}" if key else "config": [str(exc)]}) from exc
    return config


def config_validate(kind: str, options: dict[str, Any]) -> None:
    config_build(kind, options, _PLACEHOLDERS[kind])


_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


NOT_A_MODEL = (
    "not an allowed model: give a model directory on the server that holds a config.json, or a "
    "hub model id where this server may download (HF_HUB_OFFLINE unset)"
)


def _allowed_model(value: str) -> bool:
    if os.path.isdir(value):
        return os.path.isfile(os.path.join(value, "config.json"))
    if os.path.isabs(value) or value.startswith(".") or not _HUB_ID.match(value):
        return False
    return os.environ.get("HF_HUB_OFFLINE", "").lower() not in ("1", "true", "yes")


def base_model_check(value: str, field: str = "base_model") -> None:
    """A local model directory, or a hub id when this machine may download.

    Every refusal reads the same, so a request cannot probe which directories exist on the
    server (a missing one and one without config.json used to get different answers).
    """
    if not value or not value.strip():
        raise ValidationError({field: ["is required"]})
    if not _allowed_model(value):
        raise ValidationError({field: [NOT_A_MODEL]})
