"""The model card: ``rankwise_card.json`` beside the weights every trainer saves.

It says where the model came from (base model, snapshot and its hash, code version), how it
was trained (the whole config) and how it did (metrics). The reward model's card also says how
to turn (prompt, completion) into the model's input and which offset to subtract, which is
what :class:`rlhf.scoring.RewardScorer` reads back; the web app stores the card with the run.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

from rlhf.utils import code_version, write_json

CARD_NAME = "rankwise_card.json"


def card_stamp() -> dict[str, str]:
    """What every card carries about the code that wrote it and when."""
    return {
        "code_version": code_version(),
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def card_path(model_dir: str | os.PathLike) -> Path:
    return Path(model_dir) / CARD_NAME


def write_card(model_dir: str | os.PathLike, card: dict[str, Any]) -> Path:
    path = card_path(model_dir)
    write_json(str(path), card)
    return path


def read_card(model_dir: str | os.PathLike) -> dict[str, Any]:
    """The card of a model directory; ``{}`` when it has none (a plain Hugging Face model)."""
    path = card_path(model_dir)
    if not path.is_file():
        return {}
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)
