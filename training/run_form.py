"""What the "New run" page offers, derived from the trainers' own config dataclasses.

The options, their defaults and their help text come from ``rlhf.config.RewardConfig`` and
``rlhf.ppo.config.PPOConfig`` (an attribute's docstring, or its trailing comment), so the form
cannot drift from what the trainer accepts; ``IMPORTANT`` only picks which ones the form
shows. Base models are listed from ``RANKWISE_MODEL_ROOTS`` (directories on the server): the
form offers a list, never a free path, and each entry passes ``base_model_check`` as the API's
value must.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import json
import textwrap
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

from training.configs import DEFAULTS, PPO, REWARD_MODEL, base_model_check, config_class

# The options the form shows, in order; the rest stay at their defaults (or go in by API).
IMPORTANT = {
    REWARD_MODEL: [
        "num_epochs", "max_steps", "batch_size", "learning_rate", "max_length", "labels",
        "eval_fraction", "lora_r", "seed", "checkpoint_every",
    ],
    PPO: [
        "total_steps", "batch_size", "max_new_tokens", "learning_rate", "kl_coef",
        "temperature", "ppo_epochs", "mini_batch_size", "lora", "seed", "save_every",
    ],
}  # fmt: skip

CHOICES = {
    "labels": ("annotations", "consensus"),
}


@dataclasses.dataclass(frozen=True)
class Option:
    name: str
    type: str  # "int", "float", "bool", "str"
    default: Any
    help: str
    choices: tuple = ()


@functools.cache
def _field_docs(cls) -> dict[str, str]:
    """Attribute docstrings (a string right after the field) or trailing comments."""
    source = textwrap.dedent(inspect.getsource(cls))
    lines = source.splitlines()
    body = ast.parse(source).body[0].body
    docs: dict[str, str] = {}
    for i, node in enumerate(body):
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        name = node.target.id
        following = body[i + 1] if i + 1 < len(body) else None
        if (
            isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):  # fmt: skip
            docs[name] = " ".join(following.value.value.replace("``", "").split())
            continue
        line = lines[node.lineno - 1]
        if "#" in line:
            docs[name] = line.split("#", 1)[1].strip()
    return docs


def _type_name(annotation) -> str:
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    for name in ("bool", "int", "float"):
        if text.startswith(name):
            return name
    return "str"


def run_form_options(kind: str) -> list[Option]:
    """The form's options for ``kind``, with the default a run gets (the server's, then the
    trainer's) and the trainer's help text."""
    cls = config_class(kind)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    docs = _field_docs(cls)
    options = []
    for name in IMPORTANT[kind]:
        f = fields[name]
        default = DEFAULTS[kind].get(name, f.default)
        options.append(Option(
            name=name, type=_type_name(f.type), default=default,
            help=docs.get(name, ""), choices=CHOICES.get(name, ()),
        ))  # fmt: skip
    return options


def _coerce(value: str, type_name: str) -> Any:
    """A form string as the JSON value the API would get; a value that does not convert is
    passed on as typed, so the trainer's validation words the error as it does for the API."""
    value = value.strip()
    try:
        if type_name == "int":
            return int(value)
        if type_name == "float":
            return float(value)
    except ValueError:
        return value
    if type_name == "bool":
        return value.lower() in ("1", "true", "on", "yes")
    return value


def run_form_config(kind: str, data) -> dict[str, Any]:
    """The ``config`` object of the API request from the form's fields: every shown option,
    explicit, so the JSON on the page is the whole request and can be pasted as is."""
    config: dict[str, Any] = {}
    for option in run_form_options(kind):
        key = f"{kind}.{option.name}"
        if option.type == "bool":
            config[option.name] = key in data and _coerce(data.get(key, ""), "bool")
        elif data.get(key, "").strip() != "":
            config[option.name] = _coerce(data[key], option.type)
    return config


def model_roots() -> list[Path]:
    return [Path(p).expanduser() for p in getattr(settings, "RANKWISE_MODEL_ROOTS", [])]


def base_model_choices() -> list[str]:
    """Model directories (with a config.json) in the configured roots: each root itself, its
    children and grandchildren (``org/name`` layouts), sorted; only those the API accepts."""
    found: list[str] = []
    for root in model_roots():
        if not root.is_dir():
            continue
        candidates = [root, *sorted(root.glob("*")), *sorted(root.glob("*/*"))]
        for path in candidates:
            if path.is_dir() and (path / "config.json").is_file():
                try:
                    base_model_check(str(path))
                except ValidationError:
                    continue
                found.append(str(path))
    return sorted(dict.fromkeys(found))


def base_model_pick(value: str) -> str:
    """``value`` if it is one of the listed models; the form never takes another path."""
    if not value:
        raise ValidationError({"base_model": ["is required"]})
    if value not in base_model_choices():
        raise ValidationError({"base_model": ["not one of the models in the configured "
                                              "model roots (RANKWISE_MODEL_ROOTS)"]})  # fmt: skip
    return value


def run_form_request(*, kind: str, name: str, base_model: str, config: dict,
                     snapshot: int | None, reward_model: int | None,
                     prompt_project: int | None) -> str:  # fmt: skip
    """The API request body the form sends, as pretty JSON (shown for copy-paste)."""
    body: dict[str, Any] = {"kind": kind, "name": name, "base_model": base_model}
    for key, value in (("snapshot", snapshot), ("reward_model", reward_model),
                       ("prompt_project", prompt_project)):  # fmt: skip
        if value is not None:
            body[key] = value
    body["config"] = config
    return json.dumps(body, indent=2)
