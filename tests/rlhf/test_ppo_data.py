"""Prompt files, chat templates, batch order and the end-of-response mask."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from rlhf.ppo.data import (  # noqa: E402
    PromptOrder,
    encode_prompts,
    format_prompt,
    left_pad,
    load_prompts,
    position_ids_from_mask,
    split_eval_prompts,
)
from rlhf.ppo.rollout import mask_after_eos  # noqa: E402
from rlhf.ppo.tiny import build_tiny_tokenizer  # noqa: E402


def write_lines(path, lines):
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return path


def test_load_prompts_accepts_every_documented_shape(tmp_path):
    conversation = [{"role": "system", "content": "be kind"}, {"role": "user", "content": "hi"}]
    path = write_lines(
        tmp_path / "p.jsonl",
        [
            {"prompt": "plain"},
            {"messages": conversation},
            {"id": "r1", "prompt": "ranked", "completions": [{"id": "A", "text": "x"}]},
            "a bare JSON string (the OASST prompt lottery files)",
        ],
    )
    assert load_prompts(path) == [
        "plain",
        conversation,
        "ranked",
        "a bare JSON string (the OASST prompt lottery files)",
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ({"text": "x"}, "'prompt' or 'messages'"),
        ({"prompt": 3}, "'prompt' must be a string"),
        ({"prompt": "  "}, "empty prompt"),
        ({"messages": []}, "non-empty list"),
        ({"messages": [{"role": "user"}]}, "string 'role' and 'content'"),
        ({"messages": [{"role": "assistant", "content": "x"}]}, "ends with an assistant turn"),
    ],
)
def test_bad_prompt_lines_name_the_line(tmp_path, line, message):
    path = write_lines(tmp_path / "p.jsonl", [{"prompt": "fine"}, line])
    with pytest.raises(ValueError, match=message) as info:
        load_prompts(path)
    assert "p.jsonl:2" in str(info.value)


def test_invalid_json_and_missing_file(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"prompt": "ok"}\n{oops\n')
    with pytest.raises(ValueError, match=r"p\.jsonl:2: not valid JSON"):
        load_prompts(path)
    with pytest.raises(FileNotFoundError):
        load_prompts(tmp_path / "nope.jsonl")


def test_chat_template_used_when_the_tokenizer_has_one():
    plain, chat = build_tiny_tokenizer(), build_tiny_tokenizer(chat_template=True)
    assert format_prompt(plain, "the cat") == "the cat"
    assert format_prompt(chat, "the cat") == "<s><|user|> the cat </s> <|assistant|> "
    messages = [{"role": "user", "content": "the dog"}]
    assert format_prompt(chat, messages).endswith("<|user|> the dog </s> <|assistant|> ")
    assert format_prompt(plain, messages) == "User: the dog"
    # A templated prompt gets exactly one BOS: the template's.
    (ids,) = encode_prompts(chat, ["the cat"], max_length=64)[1]
    assert ids.count(chat.bos_token_id) == 1


def test_too_long_prompts_are_dropped():
    tok = build_tiny_tokenizer()
    kept, ids = encode_prompts(tok, ["the cat", "the cat sat on the mat"], max_length=4)
    assert kept == ["the cat"] and len(ids) == 1


def test_left_pad_and_positions():
    ids, mask = left_pad([[5, 6, 7], [8]], pad_id=0)
    assert ids.tolist() == [[5, 6, 7], [0, 0, 8]]
    assert mask.tolist() == [[1, 1, 1], [0, 0, 1]]
    assert position_ids_from_mask(mask).tolist() == [[0, 1, 2], [0, 0, 0]]


def test_prompt_order_is_a_pure_function_of_the_step():
    order = PromptOrder(10, batch_size=4, seed=3)
    first_epoch = order.indices(1) + order.indices(2) + order.indices(3)[:2]
    assert sorted(first_epoch) == list(range(10))  # every prompt once per pass
    assert PromptOrder(10, 4, seed=3).indices(7) == order.indices(7)  # what resume relies on
    # Two processes split a global batch without overlap.
    a, b = PromptOrder(10, 2, 3, rank=0, world=2), PromptOrder(10, 2, 3, rank=1, world=2)
    assert not set(a.indices(1)) & set(b.indices(1))


def test_eval_split_is_seeded_and_disjoint():
    prompts = [f"p{i}" for i in range(20)]
    train, evals = split_eval_prompts(prompts, 5, seed=1)
    assert len(evals) == 5 and len(train) == 15 and not set(train) & set(evals)
    assert split_eval_prompts(prompts, 5, seed=1) == (train, evals)
    with pytest.raises(ValueError, match="leaves no training prompts"):
        split_eval_prompts(prompts[:3], 3, seed=1)


def test_mask_after_eos_keeps_the_first_eos_only():
    eos = 2
    responses = torch.tensor([[5, 6, 2, 2, 2], [5, 2, 7, 2, 0], [5, 6, 7, 8, 9]])
    mask, has_eos = mask_after_eos(responses, [eos])
    assert mask.tolist() == [[1, 1, 1, 0, 0], [1, 1, 0, 0, 0], [1, 1, 1, 1, 1]]
    assert has_eos.tolist() == [True, True, False]
