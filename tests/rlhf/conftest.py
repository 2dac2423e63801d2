"""Tiny offline models and tokenizers for the reward-model tests.

Nothing here touches the network: vocabularies are written by hand, models are built from
configs with random weights and saved to a temporary directory, which the trainer then
loads like any Hugging Face checkpoint.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

WORDS = [f"w{i}" for i in range(10, 70)]
MARKER = "yes"  # as many characters as every other word: length carries no signal
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} </s> "
    "{% endfor %}{% if add_generation_prompt %}<|assistant|> {% endif %}"
)


def _vocab_words() -> list[str]:
    return [*WORDS, MARKER, "user", "assistant", "system", ":", "question", "answer"]


def build_bert(path: Path, seed: int = 0, hidden: int = 32, layers: int = 2) -> Path:
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    path.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *_vocab_words()]
    vocab_file = path / "vocab.txt"
    vocab_file.write_text("\n".join(vocab) + "\n")
    tok = BertTokenizerFast(vocab=str(vocab_file), do_lower_case=True)
    torch.manual_seed(seed)
    cfg = BertConfig(
        vocab_size=len(vocab),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=2 * hidden,
        max_position_embeddings=256,
        num_labels=1,
        pad_token_id=0,
    )
    BertForSequenceClassification(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return path


def build_llama(path: Path, seed: int = 0) -> Path:
    from tokenizers import Tokenizer, pre_tokenizers, processors
    from tokenizers.models import WordLevel
    from transformers import LlamaConfig, LlamaForSequenceClassification, PreTrainedTokenizerFast

    path.mkdir(parents=True, exist_ok=True)
    specials = ["<pad>", "<s>", "</s>", "<unk>"]
    words = [
        *specials,
        "<|user|>",
        "<|assistant|>",
        "<|system|>",
        *_vocab_words(),
        "User:",
        "Assistant:",
    ]
    vocab = {w: i for i, w in enumerate(words)}
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
    )
    tok.chat_template = CHAT_TEMPLATE
    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=len(words),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=256,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        num_labels=1,
    )
    LlamaForSequenceClassification(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return path


def synthetic_rankings(
    n_prompts: int, k: int = 3, seed: int = 0, messages: bool = False, length: int = 8
) -> list[dict]:
    """Rankings where the one completion holding MARKER is best and the others tie.

    Lengths are random, so only the marker separates good from bad.
    """
    rng = random.Random(seed)
    rows = []
    for i in range(n_prompts):
        texts = []
        for _ in range(k):
            texts.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, length))))
        best = rng.randrange(k)
        words = texts[best].split()
        words[rng.randrange(len(words))] = MARKER
        texts[best] = " ".join(words)
        ids = [chr(ord("A") + j) for j in range(k)]
        rest = [ids[j] for j in range(k) if j != best]
        prompt_text = "question " + " ".join(rng.choice(WORDS) for _ in range(4))
        row = {
            "id": f"p{i}",
            "completions": [{"id": ids[j], "text": texts[j], "model": "m"} for j in range(k)],
            "metadata": {"agreement": rng.choice([0.5, 1.0])},
            "annotations": [{"annotator": "a1", "ranking": [[ids[best]], rest]}],
        }
        if messages:
            row["messages"] = [{"role": "user", "content": prompt_text}]
        else:
            row["prompt"] = prompt_text
        rows.append(row)
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="session")
def bert_dir(tmp_path_factory) -> Path:
    return build_bert(tmp_path_factory.mktemp("tiny_bert"))


@pytest.fixture(scope="session")
def llama_dir(tmp_path_factory) -> Path:
    return build_llama(tmp_path_factory.mktemp("tiny_llama"))


@pytest.fixture(scope="session")
def make_rankings():
    """The synthetic_rankings helper, as a fixture (test modules here are not a package)."""
    return synthetic_rankings


@pytest.fixture(scope="session")
def jsonl():
    return write_jsonl
