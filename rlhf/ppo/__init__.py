"""PPO against a Rankwise reward model, one module per part of a step.

Read :mod:`rlhf.ppo.trainer` first: it drives a run top to bottom and names each stage. The
rest, in the order a step uses them: :mod:`~rlhf.ppo.config` (every option),
:mod:`~rlhf.ppo.data` (prompts), :mod:`~rlhf.ppo.models` (policy, reference, critic),
:mod:`~rlhf.ppo.rollout` (sample and score), :mod:`~rlhf.ppo.core` (KL, GAE, losses),
:mod:`~rlhf.ppo.update` (the clipped-surrogate epochs), :mod:`~rlhf.ppo.checkpoint`, and
:mod:`~rlhf.ppo.tiny` (random tiny models for tests and the CPU demo).

``train_ppo`` is loaded on first use: the web process reads :mod:`rlhf.ppo.config` to
validate run files and must not pay for importing torch to do so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rlhf.ppo.trainer import train_ppo

__all__ = ["train_ppo"]


def __getattr__(name: str) -> Any:
    if name == "train_ppo":
        from rlhf.ppo.trainer import train_ppo

        return train_ppo
    raise AttributeError(f"module 'rlhf.ppo' has no attribute {name!r}")
