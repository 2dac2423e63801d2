"""The four models of PPO: policy, frozen reference, value model, and (elsewhere) reward model.

Value model choice. The value model predicts, at every response token, the return still to
come, so it must (a) read the policy's own tokens and (b) be causal, i.e. not see the future.
Following the N+ reproduction we start it from the reward model (its backbone plus its scalar
head applied at every position) when that is possible: a decoder RM (a ``*ForSequenceClassification``
with a ``score`` head, like Llama/GPT-2) whose vocabulary equals the policy's. Otherwise, and
typically for Rankwise's small BERT-like reward models (bidirectional, other tokenizer), it is
the policy's SFT backbone with a fresh scalar head. ``PPOConfig.value_model_init`` chooses.
"""

from __future__ import annotations

import hashlib

import torch
from torch import nn

from rlhf.ppo.data import position_ids_from_mask


def disable_dropout(model: nn.Module) -> None:
    # Dropout makes the log-probs of the rollout and of the update disagree for the same
    # weights, so the PPO ratio would not start at 1 (N+ implementation details).
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0


def load_tokenizer(path: str):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token_id is None:
        if tokenizer.eos_token_id is None:
            raise ValueError(f"tokenizer at {path} has neither a pad nor an EOS token")
        tokenizer.pad_token = tokenizer.eos_token
    if tokenizer.eos_token_id is None:
        raise ValueError(f"tokenizer at {path} has no EOS token; PPO needs one to end responses")
    tokenizer.padding_side = "left"
    return tokenizer


def load_causal_lm(path: str, dtype: torch.dtype = torch.float32, trainable: bool = True):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
    disable_dropout(model)
    if not trainable:
        model.eval().requires_grad_(False)
    return model


class ValueModel(nn.Module):
    """A transformer backbone with a scalar head applied at every position."""

    def __init__(self, backbone: nn.Module, head: nn.Linear) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        position_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        hidden = self.backbone(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            use_cache=False,
        ).last_hidden_state
        return self.head(hidden.to(self.head.weight.dtype)).squeeze(-1).float()


def reward_model_value_issue(reward_model_path: str, policy_tokenizer) -> str | None:
    """Why the reward model cannot seed the value model (None when it can)."""
    from transformers import AutoConfig, AutoTokenizer

    config = AutoConfig.from_pretrained(reward_model_path)
    if getattr(config, "is_encoder_decoder", False):
        return "it is an encoder-decoder model"
    if getattr(config, "num_labels", 1) != 1:
        return f"it has {config.num_labels} reward heads (rlhf.heads), not one value head"
    if config.model_type in {
        "bert",
        "roberta",
        "distilbert",
        "deberta",
        "deberta-v2",
        "electra",
        "xlm-roberta",
        "mpnet",
        "albert",
        "modernbert",
    }:
        return f"it is a bidirectional encoder ({config.model_type}); values would see the future"
    rm_tokenizer = AutoTokenizer.from_pretrained(reward_model_path)
    if rm_tokenizer.get_vocab() != policy_tokenizer.get_vocab():
        return "its tokenizer differs from the policy's"
    return None


def value_model_from_reward_model(reward_model_path: str) -> ValueModel:
    from transformers import AutoModelForSequenceClassification

    rm = AutoModelForSequenceClassification.from_pretrained(reward_model_path, num_labels=1)
    head = getattr(rm, "score", None)
    if not isinstance(head, nn.Linear) or head.out_features != 1:
        raise ValueError(
            f"reward model at {reward_model_path} has no per-token linear 'score' head "
            "(expected a decoder *ForSequenceClassification); use value_model_init='policy'"
        )
    backbone = getattr(rm, rm.base_model_prefix)
    disable_dropout(backbone)
    return ValueModel(backbone, head)


def value_model_from_policy(policy_path: str) -> ValueModel:
    # Load the causal LM and keep its trunk: AutoModel would do the same but complains about
    # the unused LM head, and some architectures map AutoModel to a different class.
    lm = load_causal_lm(policy_path)
    backbone = getattr(lm, lm.base_model_prefix)
    hidden = backbone.config.get_text_config().hidden_size
    head = nn.Linear(hidden, 1)
    # A zero head: every value starts at 0, the mean of offset-centred RM scores. A random
    # head, even one scaled by 1/sqrt(d), reads an LM's final hidden states (norms in the tens)
    # as values of several units against scores of a few tenths: explained variance was -14
    # at SmolLM2's first step and the whitened advantages were mostly the critic's noise, so
    # 32 PPO steps moved the policy (KL 2 nats) without raising the reward.
    with torch.no_grad():
        head.weight.zero_()
        head.bias.zero_()
    return ValueModel(backbone, head)


def build_value_model(config, policy_tokenizer) -> tuple[ValueModel | None, str]:
    """``(value_model, source)`` where source is "reward_model", "policy" or "none" (no
    critic: the value model is None)."""
    choice = config.value_model_init
    if choice == "none":
        return None, "none"
    if choice in ("auto", "reward_model") and config.reward_model:
        issue = reward_model_value_issue(config.reward_model, policy_tokenizer)
        if issue is None:
            return value_model_from_reward_model(config.reward_model), "reward_model"
        if choice == "reward_model":
            raise ValueError(
                f"value_model_init='reward_model' but the reward model cannot seed a value "
                f"model: {issue}"
            )
    return value_model_from_policy(config.policy), "policy"


def apply_lora(policy, config):
    from peft import LoraConfig, get_peft_model

    lora_config = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=config.lora_target_modules or "all-linear",
        task_type="CAUSAL_LM",
    )
    return get_peft_model(policy, lora_config)


class PolicyAndValue(nn.Module):
    """Policy and value model under one module, so one optimiser, one DDP wrapper and one
    ``accelerator.save_state`` cover both; a single forward feeds both losses. Without a
    critic (``value_model`` None) the values come back as None."""

    def __init__(self, policy: nn.Module, value_model: ValueModel | None) -> None:
        super().__init__()
        self.policy = policy
        self.value_model = value_model

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        ptx_input_ids: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """``(logits, values, ptx_loss)``; the PPO-ptx LM loss rides in the same forward so
        DDP sees one forward per backward."""
        position_ids = position_ids_from_mask(attention_mask)
        logits = self.policy(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            use_cache=False,
        ).logits
        values = None
        if self.value_model is not None:
            values = self.value_model(input_ids, attention_mask, position_ids)
        ptx_loss = None
        if ptx_input_ids is not None:
            ptx_loss = self.policy(
                input_ids=ptx_input_ids, labels=ptx_input_ids, use_cache=False
            ).loss
        return logits, values, ptx_loss


def weights_fingerprint(model: nn.Module) -> str:
    """SHA-256 over a model's non-LoRA weights, with PEFT's name wrapping removed, so a
    LoRA-wrapped reference and the plain checkpoint it came from hash the same."""
    items = []
    for name, tensor in model.state_dict().items():
        if "lora_" in name:
            continue
        name = name.removeprefix("base_model.model.").replace(".base_layer", "")
        items.append((name, tensor))
    digest = hashlib.sha256()
    for name, tensor in sorted(items, key=lambda item: item[0]):
        digest.update(name.encode())
        digest.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()
