"""generate_completions: K completions per prompt, seeded, chat-aware; the import-file CLI."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from rlhf.generate import generate_completions, main  # noqa: E402
from rlhf.ppo.tiny import WORDS, build_tiny_policy  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model: more threads only spin on a shared machine
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def policy_dir(tmp_path_factory):
    return str(build_tiny_policy(tmp_path_factory.mktemp("gen") / "policy", chat_template=True))


def test_k_strings_per_prompt_in_order_and_seeded(policy_dir):
    prompts = ["the cat", [{"role": "user", "content": "the dog ran"}], "big red sun"]
    out = generate_completions(policy_dir, prompts, k=3, max_new_tokens=5, seed=1, batch_size=2)
    assert len(out) == 3 and all(len(group) == 3 for group in out)
    assert all(isinstance(text, str) for group in out for text in group)
    # Only vocabulary words, no special tokens, at most max_new_tokens words.
    for text in (t for group in out for t in group):
        assert set(text.split()) <= set(WORDS) and len(text.split()) <= 5
    assert generate_completions(policy_dir, prompts, k=3, max_new_tokens=5, seed=1,
                                batch_size=2) == out  # fmt: skip
    other_seed = generate_completions(policy_dir, prompts, k=3, max_new_tokens=5, seed=2)
    assert other_seed != out
    # Sampling at temperature 1 from a random model: completions of one prompt differ.
    assert any(len(set(group)) > 1 for group in out)


def test_greedy_and_bad_arguments(policy_dir):
    (greedy,) = generate_completions(policy_dir, ["the cat"], k=1, temperature=0, max_new_tokens=4)
    assert len(greedy) == 1
    assert generate_completions(policy_dir, [], k=2) == []
    with pytest.raises(ValueError, match="k must be >= 1"):
        generate_completions(policy_dir, ["x"], k=0)
    with pytest.raises(ValueError, match="identical"):
        generate_completions(policy_dir, ["x"], k=2, temperature=0)
    with pytest.raises(ValueError, match="top_p"):
        generate_completions(policy_dir, ["x"], k=2, top_p=0)


def test_cli_writes_a_rankwise_import_file(policy_dir, tmp_path):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(
        json.dumps({"id": "q1", "prompt": "the cat"})
        + "\n"
        + json.dumps({"messages": [{"role": "user", "content": "a dog"}]})
        + "\n"
    )
    out = tmp_path / "round2.jsonl"
    args = ["--model", policy_dir, "--prompts", str(prompts), "--out", str(out), "--k", "2"]
    assert main([*args, "--max-new-tokens", "4", "--model-name", "ppo-1"]) == 0
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["id"] for x in lines] == ["q1", "gen-1"]
    assert lines[0]["prompt"] == "the cat" and lines[1]["messages"][0]["content"] == "a dog"
    for line in lines:
        assert [c["id"] for c in line["completions"]] == ["A", "B"]
        assert all(
            c["model"] == "ppo-1" and isinstance(c["text"], str) for c in line["completions"]
        )
    with pytest.raises(SystemExit):
        main([*args[:-1], "12"])  # Rankwise prompts hold 2-9 completions
