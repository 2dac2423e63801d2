"""Prompts in, token ids out: reading prompt files, chat templates, padding, batch order."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch

# A prompt is plain text or a conversation ([{"role": ..., "content": ...}, ...]) ending with
# the user's turn; reward scorers receive prompts in this same form.
from rlhf.scoring import Prompt, render_plain


def parse_prompt_line(line: str, where: str) -> Prompt:
    """One JSONL line -> a prompt. Accepts ``{"prompt": str}``, ``{"messages": [...]}``, a
    Rankwise rankings line (the same keys plus ``completions``, which are ignored here) and a
    bare JSON string (the Open-Assistant prompt lottery files)."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        raise ValueError(f"{where}: not valid JSON: {e}") from e
    if isinstance(obj, str):
        prompt: Prompt = obj
    elif isinstance(obj, dict) and "messages" in obj:
        prompt = obj["messages"]
        if not isinstance(prompt, list) or not prompt:
            raise ValueError(f"{where}: 'messages' must be a non-empty list")
        for m in prompt:
            if not (
                isinstance(m, dict)
                and isinstance(m.get("role"), str)
                and isinstance(m.get("content"), str)
            ):
                raise ValueError(f"{where}: each message needs string 'role' and 'content'")
        if prompt[-1]["role"] == "assistant":
            raise ValueError(
                f"{where}: the conversation ends with an assistant turn; a prompt must end "
                "with the turn the policy answers"
            )
    elif isinstance(obj, dict) and "prompt" in obj:
        prompt = obj["prompt"]
        if not isinstance(prompt, str):
            raise ValueError(f"{where}: 'prompt' must be a string")
    else:
        raise ValueError(
            f"{where}: expected a JSON string or an object with 'prompt' or 'messages'"
        )
    if isinstance(prompt, str) and not prompt.strip():
        raise ValueError(f"{where}: empty prompt")
    return prompt


def load_prompts(path: str | os.PathLike) -> list[Prompt]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"prompt file not found: {path}")
    prompts = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if line.strip():
                prompts.append(parse_prompt_line(line, f"{path}:{lineno}"))
    if not prompts:
        raise ValueError(f"{path}: no prompts")
    return prompts


def format_prompt(tokenizer, prompt: Prompt) -> str:
    """The text the policy continues: its chat template with the generation prompt when it has
    one; otherwise the raw text (a conversation rendered as ``User: ...`` turns)."""
    if getattr(tokenizer, "chat_template", None):
        messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return render_plain(prompt)


def encode_prompt(tokenizer, prompt: Prompt) -> list[int]:
    text = format_prompt(tokenizer, prompt)
    # A chat template already writes its own BOS; adding special tokens again would double it.
    add_special = not getattr(tokenizer, "chat_template", None)
    return tokenizer(text, add_special_tokens=add_special)["input_ids"]


def encode_prompts(
    tokenizer, prompts: list[Prompt], max_length: int
) -> tuple[list[Prompt], list[list[int]]]:
    """Tokenise prompts, dropping the ones longer than ``max_length`` tokens (truncating a
    templated prompt would cut off the generation prompt, so they are skipped instead)."""
    kept, ids = [], []
    for prompt in prompts:
        tokens = encode_prompt(tokenizer, prompt)
        if 0 < len(tokens) <= max_length:
            kept.append(prompt)
            ids.append(tokens)
    return kept, ids


def left_pad(sequences: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-pad so every prompt ends at the same column and generation continues from there."""
    width = max(len(s) for s in sequences)
    input_ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for i, s in enumerate(sequences):
        input_ids[i, width - len(s) :] = torch.tensor(s, dtype=torch.long)
        attention_mask[i, width - len(s) :] = 1
    return input_ids, attention_mask


def position_ids_from_mask(attention_mask: torch.Tensor) -> torch.Tensor:
    # Left padding must not shift positions: the first real token is position 0, as in generate.
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)


class PromptOrder:
    """Which prompts go into step ``s``'s batch, as a pure function of (seed, step, rank).

    Prompts are consumed from an endless stream of seeded permutations, so a resumed run picks
    up exactly where the interrupted one stopped without saving any sampler state.
    """

    def __init__(self, n: int, batch_size: int, seed: int, rank: int = 0, world: int = 1):
        if n <= 0:
            raise ValueError("no prompts to train on")
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.rank, self.world = rank, world
        self._perms: dict[int, np.ndarray] = {}

    def _perm(self, epoch: int) -> np.ndarray:
        if epoch not in self._perms:
            self._perms = {epoch: np.random.default_rng(self.seed + epoch).permutation(self.n)}
        return self._perms[epoch]

    def indices(self, step: int) -> list[int]:
        """Prompt indices for 1-based ``step`` on this process."""
        start = (step - 1) * self.batch_size * self.world + self.rank * self.batch_size
        out = []
        for p in range(start, start + self.batch_size):
            out.append(int(self._perm(p // self.n)[p % self.n]))
        return out


def split_eval_prompts(
    prompts: list[Prompt], n_eval: int, seed: int
) -> tuple[list[Prompt], list[Prompt]]:
    """Hold ``n_eval`` prompts out of training (seeded, so the same ones every run/resume)."""
    if n_eval == 0:
        return prompts, []
    if n_eval >= len(prompts):
        raise ValueError(
            f"num_eval_prompts={n_eval} leaves no training prompts out of {len(prompts)}"
        )
    order = np.random.default_rng(seed).permutation(len(prompts))
    held = set(order[:n_eval].tolist())
    train = [p for i, p in enumerate(prompts) if i not in held]
    evals = [prompts[i] for i in sorted(held)]
    return train, evals


def load_ptx_blocks(tokenizer, path: str | os.PathLike, block_size: int) -> torch.Tensor:
    """Pretraining-mix text for PPO-ptx, tokenised and cut into ``(N, block_size)`` blocks."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ptx text file not found: {path}")
    ids = tokenizer(path.read_text(encoding="utf-8"), add_special_tokens=False)["input_ids"]
    n = len(ids) // block_size
    if n == 0:
        raise ValueError(f"{path}: fewer than ptx_block_size={block_size} tokens of text")
    return torch.tensor(ids[: n * block_size], dtype=torch.long).view(n, block_size)
