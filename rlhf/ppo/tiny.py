"""A tiny random policy and a task with a known answer, for PPO tests and the CPU benchmark.

Everything is built offline from a config: a word-level tokenizer over a few dozen words and a
2-layer Llama with random weights. The scripted reward pays for one word (``TARGET_WORD``), so
"did PPO learn?" has an exact answer: the share of that word in the responses must go up.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

TARGET_WORD = "good"
WORDS = [
    TARGET_WORD,
    "bad",
    "the",
    "a",
    "cat",
    "dog",
    "sat",
    "ran",
    "on",
    "mat",
    "and",
    "big",
    "small",
    "red",
    "blue",
    "tree",
    "sun",
    "moon",
    "day",
    "night",
    "is",
    "was",
    "very",
    "not",
    "it",
    "we",
    "they",
    "see",
    "go",
    "up",
]
SPECIALS = ["<pad>", "<s>", "</s>", "<unk>", "<|user|>", "<|assistant|>", "<|system|>"]
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} </s> "
    "{% endfor %}{% if add_generation_prompt %}<|assistant|> {% endif %}"
)


def build_tiny_tokenizer(chat_template: bool = False):
    from tokenizers import Tokenizer, pre_tokenizers, processors
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate([*SPECIALS, *WORDS])}
    core = Tokenizer(WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    core.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", 1)]
    )
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        additional_special_tokens=SPECIALS[4:],
    )
    if chat_template:
        tok.chat_template = CHAT_TEMPLATE
    return tok


def _tiny_llama_config(vocab_size: int, hidden: int, layers: int, **extra):
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=256,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        tie_word_embeddings=False,
        **extra,
    )


def build_tiny_policy(
    path: str | os.PathLike,
    seed: int = 0,
    hidden: int = 64,
    layers: int = 2,
    chat_template: bool = False,
) -> Path:
    """Save a random 2-layer Llama causal LM and its tokenizer to ``path``."""
    from transformers import LlamaForCausalLM

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tok = build_tiny_tokenizer(chat_template)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(_tiny_llama_config(len(tok), hidden, layers))
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


def build_tiny_reward_model(
    path: str | os.PathLike, seed: int = 0, hidden: int = 64, chat_template: bool = False
) -> Path:
    """A random decoder reward model sharing the tiny policy's vocabulary (so it may seed the
    value model)."""
    from transformers import LlamaForSequenceClassification

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tok = build_tiny_tokenizer(chat_template)
    torch.manual_seed(seed)
    model = LlamaForSequenceClassification(_tiny_llama_config(len(tok), hidden, 2, num_labels=1))
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


def target_word_reward(prompts: list, responses: list[str]) -> list[float]:
    """Share of the response's words that are TARGET_WORD (0 for an empty response)."""
    out = []
    for text in responses:
        words = text.split()
        out.append(sum(w == TARGET_WORD for w in words) / len(words) if words else 0.0)
    return out


def write_tiny_prompts(
    path: str | os.PathLike, n: int, seed: int = 0, messages: bool = False
) -> Path:
    """``n`` prompts of 3-6 random words (never the target word) as JSONL."""
    gen = torch.Generator().manual_seed(seed)
    others = WORDS[1:]
    lines = []
    for _ in range(n):
        k = int(torch.randint(3, 7, (1,), generator=gen))
        text = " ".join(others[int(i)] for i in torch.randint(len(others), (k,), generator=gen))
        row = {"messages": [{"role": "user", "content": text}]} if messages else {"prompt": text}
        lines.append(json.dumps(row))
    path = Path(path)
    path.write_text("\n".join(lines) + "\n")
    return path
