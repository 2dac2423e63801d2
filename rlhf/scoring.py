"""Turning (prompt, completion) into model inputs, and scoring with a trained reward model.

Training and scoring share :func:`encode_example`, so a reward model sees at scoring time
exactly the token layout it was trained on. The layout depends on the tokenizer:

* a message-list prompt and a tokenizer with a chat template: the template renders the
  conversation with the completion as the final assistant turn;
* otherwise, in the ``text`` layout (the default since the layout is recorded in the card):
  one text, :data:`TEXT_TEMPLATE` (``{prompt}\\n\\nAssistant: {completion}``), in one segment
  with the tokenizer's own special tokens, decoders closed with EOS. A tokenizer alone
  reproduces it: ``tokenizer(TEXT_TEMPLATE.format(...))`` gives the same ids whenever
  nothing is truncated;
* in the older ``pair`` layout: BERT-like tokenizers get the pair ``(prompt, completion)``
  (the completion in its own segment), anything else ``User: ...\\n\\nAssistant: ...``.

Over-long inputs lose prompt tokens from the left (the oldest turns go first) and
completion tokens from the right. In the ``text`` layout the prompt keeps at least
``prompt_min_fraction`` of the room (its end: the question being answered); in ``pair`` the
completion is only cut when it alone does not fit.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Any

import torch

from rlhf.card import read_card

Prompt = str | list[dict[str, Any]]

_ROLE_NAMES = {"user": "User", "assistant": "Assistant", "system": "System"}


@dataclass
class Encoded:
    input_ids: list[int]
    token_type_ids: list[int] | None
    prompt_truncated: bool
    completion_truncated: bool

    @property
    def truncated(self) -> bool:
        return self.prompt_truncated or self.completion_truncated


@dataclass(frozen=True)
class _Layout:
    """Special tokens a tokenizer adds around one text (single) or two texts (pair)."""

    single_prefix: tuple[int, ...]
    single_suffix: tuple[int, ...]
    pair_prefix: tuple[int, ...]
    pair_middle: tuple[int, ...]
    pair_suffix: tuple[int, ...]
    uses_pairs: bool
    token_types: bool


def _find(haystack: list[int], needle: list[int], start: int = 0) -> int:
    for i in range(start, len(haystack) - len(needle) + 1):
        if haystack[i : i + len(needle)] == needle:
            return i
    raise ValueError("probe text not found in its own encoding")


def _layout(tokenizer) -> _Layout:
    # transformers 5 dropped build_inputs_with_special_tokens, so learn where the
    # tokenizer puts its special tokens by encoding two probe words once.
    cached = getattr(tokenizer, "_rankwise_layout", None)
    if cached is not None:
        return cached
    a = tokenizer("alpha", add_special_tokens=False)["input_ids"]
    b = tokenizer("omega", add_special_tokens=False)["input_ids"]
    single = tokenizer("alpha")["input_ids"]
    ia = _find(single, a)
    single_prefix, single_suffix = tuple(single[:ia]), tuple(single[ia + len(a) :])
    uses_pairs = tokenizer.cls_token_id is not None and tokenizer.sep_token_id is not None
    pair_prefix = pair_middle = pair_suffix = ()
    if uses_pairs:
        pair = tokenizer("alpha", "omega")["input_ids"]
        ia = _find(pair, a)
        ib = _find(pair, b, ia + len(a))
        pair_prefix = tuple(pair[:ia])
        pair_middle = tuple(pair[ia + len(a) : ib])
        pair_suffix = tuple(pair[ib + len(b) :])
    layout = _Layout(
        single_prefix,
        single_suffix,
        pair_prefix,
        pair_middle,
        pair_suffix,
        uses_pairs,
        token_types="token_type_ids" in tokenizer.model_input_names,
    )
    # Some tokenizers forbid new attributes; recomputing the layout is cheap then.
    with contextlib.suppress(AttributeError):
        tokenizer._rankwise_layout = layout
    return layout


def render_plain(prompt: Prompt) -> str:
    """A conversation as text for tokenizers without a chat template."""
    if isinstance(prompt, str):
        return prompt
    return "\n\n".join(
        f"{_ROLE_NAMES.get(m['role'], m['role'].title())}: {m['content']}" for m in prompt
    )


def uses_chat_template(tokenizer, prompt: Prompt) -> bool:
    return isinstance(prompt, list) and bool(getattr(tokenizer, "chat_template", None))


def _chat_texts(tokenizer, messages: list[dict], completion: str) -> tuple[str, str]:
    """Split the templated conversation into (everything before the reply, the reply)."""
    full = tokenizer.apply_chat_template(
        [*messages, {"role": "assistant", "content": completion}], tokenize=False
    )
    head = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    if full.startswith(head):
        return head, full[len(head) :]
    # Templates that rewrite earlier turns once a reply exists (e.g. dropping reasoning)
    # break the prefix property; fall back to cutting at the reply text itself.
    at = full.rfind(completion) if completion else -1
    if at >= 0:
        return full[:at], full[at:]
    return full, ""


INPUT_LAYOUTS = ("text", "pair")
TEXT_TEMPLATE = "{prompt}\n\nAssistant: {completion}"
"""How the ``text`` layout writes one (prompt, completion) for a tokenizer without a chat
template. ``{prompt}`` is the prompt string, or a message list as ``Role: content`` turns
joined by blank lines; decoders get ``User: `` before a string prompt and EOS at the end."""


def encode_example(
    tokenizer,
    prompt: Prompt,
    completion: str,
    max_length: int,
    layout_name: str = "pair",
    prompt_min_fraction: float = 0.0,
) -> Encoded:
    """Token ids for one (prompt, completion), at most ``max_length`` long.

    ``layout_name`` ``text`` writes prompt and completion as one text
    (:data:`TEXT_TEMPLATE`, one segment even for BERT-like tokenizers), so the tokenizer
    alone reproduces it; ``pair`` is the older layout (BERT-like tokenizers get the pair
    ``(prompt, completion)`` in two segments). When the input is too long, the prompt keeps
    its last ``min(its length, prompt_min_fraction * room)`` tokens, the completion keeps
    its first tokens in what is left, and any room still left goes back to the prompt.
    """
    layout = _layout(tokenizer)
    keep: list[int] = []  # tokens that survive left truncation (BOS of a chat template)
    text = layout_name == "text"
    if uses_chat_template(tokenizer, prompt):
        prompt_text, completion_text = _chat_texts(tokenizer, prompt, completion)
        prefix, middle, suffix = (), (), ()
    elif layout.uses_pairs and not text:
        prompt_text, completion_text = render_plain(prompt), completion
        prefix, middle, suffix = layout.pair_prefix, layout.pair_middle, layout.pair_suffix
    else:
        if layout.uses_pairs:  # BERT-like, one segment: [CLS] prompt + reply [SEP]
            prompt_text = render_plain(prompt)
        else:
            messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
            prompt_text = render_plain(messages)
        if text:
            # The space belongs to the reply's first word, as a joint tokenisation of the
            # whole template puts it: byte-level BPE then gives the same ids either way.
            prompt_text += "\n\nAssistant:"
            completion_text = " " + completion
        else:
            prompt_text += "\n\nAssistant: "
            completion_text = completion
        prefix, middle, suffix = layout.single_prefix, (), layout.single_suffix
        eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
        # A closing EOS gives last-token pooling a fixed place to read from; skipped when
        # EOS doubles as padding because the pooling would then read the token before it.
        if not layout.uses_pairs and eos is not None and eos != pad and eos not in suffix:
            suffix = (*suffix, eos)

    # verbose=False: over-long texts are expected here, they are truncated just below.
    p = tokenizer(prompt_text, add_special_tokens=False, verbose=False)["input_ids"]
    c = (
        tokenizer(completion_text, add_special_tokens=False, verbose=False)["input_ids"]
        if completion_text
        else []
    )
    bos = tokenizer.bos_token_id
    if not prefix and p and bos is not None and p[0] == bos:
        keep, p = [p[0]], p[1:]

    budget = max_length - len(prefix) - len(middle) - len(suffix) - len(keep)
    if budget <= 0:
        raise ValueError(f"max_length {max_length} leaves no room after special tokens")
    reserve = min(len(p), int(prompt_min_fraction * budget)) if text else 0
    completion_truncated = len(c) > budget - reserve
    if completion_truncated:
        c = c[: budget - reserve]
    room = budget - len(c)
    prompt_truncated = len(p) > room
    if prompt_truncated:
        p = p[len(p) - room :] if room > 0 else []

    first = [*prefix, *keep, *p, *middle]
    second = [*c, *suffix]
    if not layout.token_types:
        types = None
    elif text:
        types = [0] * (len(first) + len(second))
    else:
        types = [0] * len(first) + [1] * len(second)
    return Encoded(first + second, types, prompt_truncated, completion_truncated)


def format_example(
    tokenizer, prompt: Prompt, completion: str, max_length: int
) -> tuple[list[int], list[int], bool]:
    """``(input_ids, attention_mask, truncated)`` for one example, as training builds it."""
    enc = encode_example(tokenizer, prompt, completion, max_length)
    return enc.input_ids, [1] * len(enc.input_ids), enc.truncated


def collate(encodings: list[Encoded], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad a list of encodings into model inputs."""
    width = max(len(e.input_ids) for e in encodings)
    n = len(encodings)
    ids = torch.full((n, width), pad_id, dtype=torch.long)
    mask = torch.zeros((n, width), dtype=torch.long)
    with_types = encodings[0].token_type_ids is not None
    types = torch.zeros((n, width), dtype=torch.long) if with_types else None
    for i, e in enumerate(encodings):
        k = len(e.input_ids)
        ids[i, :k] = torch.tensor(e.input_ids)
        mask[i, :k] = 1
        if types is not None:
            types[i, :k] = torch.tensor(e.token_type_ids)
    batch = {"input_ids": ids, "attention_mask": mask}
    if types is not None:
        batch["token_type_ids"] = types
    return batch


def ensure_pad_token(tokenizer, model=None) -> None:
    """Reward models pad batches; decoder tokenizers often ship without a pad token."""
    if tokenizer.pad_token_id is None:
        if tokenizer.eos_token is None:
            raise ValueError("tokenizer has neither a pad nor an eos token to pad with")
        tokenizer.pad_token = tokenizer.eos_token
    if model is not None and getattr(model.config, "pad_token_id", None) is None:
        # Sequence-classification heads of decoders find the last real token via pad_token_id.
        model.config.pad_token_id = tokenizer.pad_token_id


def _as_dtype(dtype) -> torch.dtype | None:
    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    named = {
        "float32": torch.float32,
        "fp32": torch.float32,
        "bfloat16": torch.bfloat16,
        "bf16": torch.bfloat16,
        "float16": torch.float16,
        "fp16": torch.float16,
    }
    if dtype not in named:
        raise ValueError(f"unknown dtype {dtype!r}; use one of {sorted(named)}")
    return named[dtype]


@torch.no_grad()
def reward_forward(model, batch: dict[str, torch.Tensor], all_heads: bool = False) -> torch.Tensor:
    """One scalar per row, in float32 (``all_heads``: every output column, ``(rows, heads)``)."""
    logits = model(**batch).logits
    return (logits if all_heads else logits[:, 0]).float()


class RewardScorer:
    """A trained reward model ready to score (prompt, completion) pairs."""

    def __init__(
        self,
        model,
        tokenizer,
        reward_offset: float = 0.0,
        max_length: int = 512,
        device: str | torch.device = "cpu",
        input_layout: str = "pair",
        prompt_min_fraction: float = 0.0,
    ) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.reward_offset = float(reward_offset)
        self.max_length = int(max_length)
        self.input_layout = input_layout
        self.prompt_min_fraction = float(prompt_min_fraction)
        self.device = torch.device(device)
        self.heads = None  # rlhf.heads.HeadLayout of a model with several outputs
        ensure_pad_token(tokenizer, model)

    @classmethod
    def from_pretrained(
        cls, path: str | os.PathLike, device: str = "cpu", dtype=None
    ) -> RewardScorer:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        from rlhf.heads import HeadLayout

        path = os.fspath(path)
        card = read_card(path)
        heads = HeadLayout.from_card(card)
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForSequenceClassification.from_pretrained(
            path, num_labels=heads.n_outputs if heads else 1, dtype=_as_dtype(dtype)
        ).to(device)
        max_length = card.get("max_length") or card.get("config", {}).get("max_length") or 512
        # Cards written before the input layout was recorded were all trained on "pair".
        inputs = card.get("input", {})
        scorer = cls(
            model,
            tokenizer,
            card.get("reward_offset", 0.0),
            max_length,
            device,
            inputs.get("layout", "pair"),
            inputs.get("prompt_min_fraction", 0.0),
        )
        scorer.heads = heads
        return scorer

    def score(
        self, prompts: list[Prompt], completions: list[str], batch_size: int = 16
    ) -> list[float]:
        """Offset-corrected rewards, one per (prompt, completion); with several heads, the
        mean of the overall head's members."""
        if self.heads is not None:
            return self.score_matrix(prompts, completions, batch_size=batch_size).mean(0).tolist()
        return [r - self.reward_offset for r in self.raw_scores(prompts, completions, batch_size)]

    def score_heads(self, prompts: list[Prompt], completions: list[str], batch_size: int = 16):
        """``{head: (members, n) array}``, offset-corrected: ``{"overall": (1, n)}`` for a
        one-output model."""
        import numpy as np

        if self.heads is None:
            return {"overall": np.asarray([self.score(prompts, completions, batch_size)])}
        return self.heads.split(self.raw_scores(prompts, completions, batch_size, all_heads=True))

    def score_matrix(self, prompts: list[Prompt], completions: list[str], head: str = "overall",
                     batch_size: int = 16):  # fmt: skip
        """The ``(E, n)`` score matrix of one head's E members (``E = 1`` without an ensemble)."""
        heads = self.score_heads(prompts, completions, batch_size)
        if head not in heads:
            raise ValueError(f"no head {head!r}; this model has {sorted(heads)}")
        return heads[head]

    def raw_scores(
        self, prompts: list[Prompt], completions: list[str], batch_size: int = 16,
        all_heads: bool = False,
    ) -> list:  # fmt: skip
        if len(prompts) != len(completions):
            raise ValueError(f"{len(prompts)} prompts but {len(completions)} completions")
        encs = [
            encode_example(
                self.tokenizer,
                p,
                c,
                self.max_length,
                self.input_layout,
                self.prompt_min_fraction,
            )
            for p, c in zip(prompts, completions, strict=True)
        ]
        # Length-sorted batches waste little compute on padding.
        order = sorted(range(len(encs)), key=lambda i: len(encs[i].input_ids))
        out = [0.0] * len(encs)
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            batch = collate([encs[i] for i in idx], self.tokenizer.pad_token_id)
            batch = {k: v.to(self.device) for k, v in batch.items()}
            rows = reward_forward(self.model, batch, all_heads).tolist()
            for i, r in zip(idx, rows, strict=True):
                out[i] = r
        return out
