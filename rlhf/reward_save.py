"""The reward model as it leaves the trainer: Hugging Face weights, tokenizer and card.

The card (:mod:`rlhf.card`) records, besides lineage, config and metrics, the reward offset and
how (prompt, completion) becomes the model's input (:func:`input_card`), so that
``python -m rlhf.score`` and :class:`rlhf.scoring.RewardScorer` score exactly as training did.
"""

from __future__ import annotations

import os

from rlhf.card import CARD_NAME, card_stamp, write_card
from rlhf.config import RewardConfig
from rlhf.reward_setup import Run


def save_reward_model(run: Run, module, tokenizer, result: dict) -> dict:
    """Weights, tokenizer and card into ``output_dir``; returns ``model_dir`` and ``card_path``."""
    config, accelerator = run.config, run.accelerator
    save_model(accelerator, module, tokenizer, config.output_dir, config.lora_r > 0)
    card = {
        "kind": "reward_model",
        "base_model": config.model_name_or_path,
        "snapshot_id": config.snapshot_id,
        "snapshot_sha256": config.snapshot_sha256,
        "reward_offset": result["reward_offset"],
        "max_length": config.max_length,
        "input": input_card(tokenizer, config),
        "config": config.to_dict(),
        **{
            k: result[k]
            for k in ("metrics", "training", "truncation", "data", "heads")
            if k in result
        },
        **card_stamp(),
    }
    if accelerator.is_main_process:
        write_card(config.output_dir, card)
    accelerator.wait_for_everyone()
    return {"model_dir": config.output_dir, "card_path": os.path.join(config.output_dir, CARD_NAME)}


def save_model(accelerator, module, tokenizer, out_dir: str, lora: bool) -> None:
    state = accelerator.get_state_dict(module)  # full weights even when sharded (FSDP)
    if not accelerator.is_main_process:
        return
    inner = accelerator.unwrap_model(module).model
    prefix = "model."
    state = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    if lora:
        inner.load_state_dict(state)
        inner.merge_and_unload().save_pretrained(out_dir, safe_serialization=True)
    else:
        inner.save_pretrained(out_dir, state_dict=state, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)


def input_card(tokenizer, config: RewardConfig) -> dict:
    """How to turn (prompt, completion) into this model's input, for the model card."""
    from rlhf.scoring import TEXT_TEMPLATE, _layout

    card = {
        "layout": config.input_layout,
        "max_length": config.max_length,
        "prompt_min_fraction": config.prompt_min_fraction,
    }
    if config.input_layout != "text":
        card["how"] = "rlhf.scoring.encode_example(layout='pair'); see rlhf/scoring.py"
        return card
    layout = _layout(tokenizer)
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    decoder = not layout.uses_pairs
    # The same rule as encode_example: decoders end on EOS unless it doubles as padding.
    closing = decoder and eos is not None and eos != pad and eos not in layout.single_suffix
    card["template"] = (
        ("User: " if decoder else "") + TEXT_TEMPLATE + (tokenizer.eos_token if closing else "")
    )
    card["how"] = (
        "reward = model(**tokenizer(template.format(prompt=PROMPT, completion=COMPLETION), "
        "return_tensors='pt')).logits[0, 0] - reward_offset. PROMPT is the prompt string, or "
        "a message list as 'Role: content' turns joined by blank lines (a message list and a "
        "tokenizer with a chat template: the chat template, the completion as the last "
        "assistant turn). When the tokens exceed max_length the prompt keeps its last tokens "
        "(at least prompt_min_fraction of the room), the completion its first; "
        "python -m rlhf.score applies exactly this."
    )
    return card
