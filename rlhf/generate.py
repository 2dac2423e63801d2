"""Sample K completions per prompt from a policy: the next round of data to rank.

    python -m rlhf.generate --model runs/ppo-1 --prompts prompts.jsonl --k 4 --out round2.jsonl

writes one Rankwise import line per prompt (``id``, ``prompt`` or ``messages``,
``completions``), ready to upload as a ranking project. From Python:
:func:`generate_completions`.
"""

from __future__ import annotations

import argparse
import json
import os
import string
import sys
from pathlib import Path

import torch

from rlhf.ppo.data import Prompt, encode_prompt, left_pad, parse_prompt_line
from rlhf.ppo.rollout import eos_token_ids, mask_after_eos

RANKWISE_MIN_K, RANKWISE_MAX_K = 2, 9


def generate_completions(
    model_path: str | os.PathLike,
    prompts: list[Prompt],
    k: int = 4,
    max_new_tokens: int = 256,
    temperature: float = 0.7,
    top_p: float = 1.0,
    seed: int = 0,
    *,
    batch_size: int = 8,
    device: str | None = None,
    dtype: torch.dtype | None = None,
) -> list[list[str]]:
    """``k`` sampled completions for each prompt, in prompt order.

    Prompts are plain strings or ``[{"role", "content"}, ...]`` conversations; the policy's
    chat template is applied when its tokenizer has one. ``temperature=0`` is greedy decoding
    (then only ``k=1`` makes sense). Seeded: the same arguments give the same completions on
    the same machine. ``batch_size`` counts prompts per forward pass (each expands to ``k``).
    """
    from transformers import AutoModelForCausalLM, GenerationConfig

    from rlhf.ppo.models import load_tokenizer

    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if temperature == 0 and k > 1:
        raise ValueError("temperature=0 is greedy decoding: k > 1 would give k identical copies")
    if not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {top_p}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if not prompts:
        return []

    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    tokenizer = load_tokenizer(os.fspath(model_path))
    model = AutoModelForCausalLM.from_pretrained(os.fspath(model_path), dtype=dtype).to(device)
    model.eval()
    eos_ids = eos_token_ids(tokenizer, model)
    # A fresh config: the checkpoint's may carry top_k or repetition penalties nobody asked for.
    sampling = {"do_sample": True, "temperature": temperature, "top_p": top_p, "top_k": 0}
    gen_config = GenerationConfig(
        **(sampling if temperature > 0 else {"do_sample": False}),
        max_new_tokens=max_new_tokens,
        num_return_sequences=k,
        eos_token_id=eos_ids,
        pad_token_id=tokenizer.pad_token_id,
    )
    encoded = [encode_prompt(tokenizer, p) for p in prompts]
    out: list[list[str]] = []
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        for start in range(0, len(encoded), batch_size):
            input_ids, attention_mask = left_pad(
                encoded[start : start + batch_size], tokenizer.pad_token_id
            )
            with torch.no_grad():
                seqs = model.generate(
                    input_ids=input_ids.to(device),
                    attention_mask=attention_mask.to(device),
                    generation_config=gen_config,
                )
            responses = seqs[:, input_ids.shape[1] :]
            mask, _ = mask_after_eos(responses, eos_ids)
            texts = [
                tokenizer.decode(row[: int(n)].tolist(), skip_special_tokens=True).strip()
                for row, n in zip(responses, mask.sum(dim=1), strict=True)
            ]
            # generate returns the k samples of a prompt next to each other.
            out.extend(texts[i : i + k] for i in range(0, len(texts), k))
    return out


def _read_prompt_file(path: Path) -> list[tuple[dict, Prompt]]:
    rows = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            prompt = parse_prompt_line(line, f"{path}:{lineno}")
            obj = json.loads(line)
            rows.append((obj if isinstance(obj, dict) else {}, prompt))
    if not rows:
        raise ValueError(f"{path}: no prompts")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="K completions per prompt, as a Rankwise import")
    parser.add_argument("--model", required=True, help="HF causal LM directory (e.g. a PPO run)")
    parser.add_argument("--prompts", required=True, type=Path, help="JSONL prompts")
    parser.add_argument("--out", required=True, type=Path, help="JSONL to write")
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--top-p", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--model-name", default=None, help="'model' field of each completion")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    # Same bounds as annotate.constants (rlhf may not import the Django side).
    if not RANKWISE_MIN_K <= args.k <= RANKWISE_MAX_K:
        parser.error(
            f"--k must be {RANKWISE_MIN_K}-{RANKWISE_MAX_K}: a Rankwise prompt holds "
            f"that many completions"
        )

    rows = _read_prompt_file(args.prompts)
    completions = generate_completions(
        args.model,
        [p for _, p in rows],
        k=args.k,
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        top_p=args.top_p,
        seed=args.seed,
        batch_size=args.batch_size,
    )
    model_name = args.model_name or Path(args.model).resolve().name
    with open(args.out, "w", encoding="utf-8") as f:
        for n, ((obj, prompt), texts) in enumerate(zip(rows, completions, strict=True)):
            line = {"id": str(obj.get("id", f"gen-{n}"))}
            line["prompt" if isinstance(prompt, str) else "messages"] = prompt
            line["completions"] = [
                {"id": string.ascii_uppercase[j], "text": t, "model": model_name}
                for j, t in enumerate(texts)
            ]
            line["metadata"] = {
                "generator": model_name,
                "temperature": args.temperature,
                "top_p": args.top_p,
                "seed": args.seed,
            }
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} prompts x {args.k} completions to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
