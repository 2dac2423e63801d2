"""How much room does a reward model give PPO? Sample K responses per prompt from the policy and
see how far the RM's scores spread within a prompt, against the spread between prompts.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/ppo_reward_spread.py \\
        --policy /tmp/ppo_bench/smollm2-135m-instruct --reward-model /tmp/ppo_bench/rm-minilm-oasst

(the two directories ``bench/bench_ppo.py --work /tmp/ppo_bench`` leaves behind). It uses the
training prompts of that bench: the prompt lottery without its held-out ones.

PPO can only climb what the RM separates among the policy's own samples for one prompt: the
within-prompt spread, and how much best-of-K beats the prompt's mean, bound what a short run
can gain. The correlation of score with length (within prompt) shows whether that room is
mostly "write more".
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

DATA = Path(os.environ.get("RANKWISE_SHARED_DATA", "/work/shared/data"))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--policy", required=True)
    parser.add_argument("--reward-model", required=True)
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--k", type=int, default=8, help="samples per prompt")
    parser.add_argument("--max-new-tokens", type=int, default=40)
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--held-out", type=int, default=32, help="as bench_ppo --eval-prompts")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import numpy as np
    import torch

    from rlhf.ppo.data import encode_prompts, load_prompts, split_eval_prompts
    from rlhf.ppo.models import load_causal_lm, load_tokenizer
    from rlhf.ppo.rollout import (
        decode_responses,
        eos_token_ids,
        generate_responses,
        mask_after_eos,
        sampling_config,
    )
    from rlhf.scoring import RewardScorer

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    tokenizer = load_tokenizer(args.policy)
    policy = load_causal_lm(args.policy, trainable=False)
    prompts = load_prompts(str(DATA / "oasst" / "prompt_lottery_en_250_text.jsonl"))
    prompts, _ = split_eval_prompts(prompts, args.held_out, 42)
    prompts, ids = encode_prompts(tokenizer, prompts, 128)
    gen = sampling_config(
        tokenizer, eos_token_ids(tokenizer, policy), args.max_new_tokens, args.temperature, 1.0
    )
    scorer = RewardScorer.from_pretrained(args.reward_model, "cpu", None)

    n, k = args.prompts, args.k
    scores, lengths, ended = np.zeros((n, k)), np.zeros((n, k)), np.zeros((n, k), dtype=bool)
    t0 = time.perf_counter()
    for i in range(n):
        qr, _, ctx = generate_responses(policy, tokenizer, [ids[i]] * k, gen, "cpu")
        mask, has_eos = mask_after_eos(qr[:, ctx:], gen.eos_token_id)
        texts = decode_responses(tokenizer, qr, mask, ctx)
        scores[i] = [float(s) for s in scorer.score([prompts[i]] * k, texts)]
        lengths[i], ended[i] = mask.sum(dim=1).numpy(), has_eos.numpy()
    wall = time.perf_counter() - t0

    centred = scores - scores.mean(axis=1, keepdims=True)
    length_centred = lengths - lengths.mean(axis=1, keepdims=True)
    rows = [
        ("within-prompt std (mean over prompts)", scores.std(axis=1, ddof=1).mean()),
        ("between-prompt std of prompt means", scores.mean(axis=1).std()),
        (f"best-of-{k} minus prompt mean", (scores.max(axis=1) - scores.mean(axis=1)).mean()),
        ("within-prompt corr(score, length)", np.corrcoef(centred.ravel(), length_centred.ravel())[0, 1]),
        ("share of responses ending with EOS", ended.mean()),
    ]  # fmt: skip
    print(f"\n{n} prompts x {k} samples, {args.max_new_tokens} new tokens, {wall:.0f} s")
    for name, value in rows:
        print(f"{name:<40}{value:>8.3f}")


if __name__ == "__main__":
    main()
