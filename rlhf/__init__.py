"""Rankwise's training half: reward models and PPO, with no Django in sight.

Everything here runs alone (``python -m rlhf.train_reward --config run.json``) or under
``accelerate launch``; the Django worker calls the same entry points and passes a
:class:`rlhf.callbacks.RunCallbacks` to hear about progress and to ask for a stop.
"""
