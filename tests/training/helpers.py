"""Builders shared by the training and reward-model tests: snapshots, tiny models, clients."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

from django.conf import settings
from rest_framework.test import APIClient

from annotate.models import Membership
from core.roles import Roles
from exports.models import DatasetSnapshot
from tests.factories import ProjectFactory, UserFactory

# The tiny tokenizer of rlhf.ppo.tiny knows these words; "good" marks the better completion.
WORDS = ["the", "a", "cat", "dog", "sat", "ran", "on", "mat", "big", "small", "red", "blue"]


def user_with(role: str, **kwargs):
    user = UserFactory(roles=[role], **kwargs)
    # UserFactory skips the save after set_password; a session login checks the stored hash.
    user.save(update_fields=["password"])
    return user


def engineer(project=None, **kwargs):
    user = user_with(Roles.ML_ENGINEER, **kwargs)
    if project is not None:
        Membership.objects.get_or_create(project=project, user=user)
    return user


def client_for(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def ranking_rows(n: int, k: int = 3, seed: int = 0) -> list[dict]:
    """Rankings where the completion holding "good" wins and the others tie."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        texts = [" ".join(rng.choice(WORDS) for _ in range(4)) for _ in range(k)]
        best = rng.randrange(k)
        texts[best] += " good"
        ids = [chr(ord("A") + j) for j in range(k)]
        rows.append(
            {
                "id": f"p{i}",
                "prompt": " ".join(rng.choice(WORDS) for _ in range(3)),
                "completions": [{"id": c, "text": t} for c, t in zip(ids, texts, strict=True)],
                "annotations": [
                    {
                        "annotator": "a1",
                        "ranking": [[ids[best]], [c for c in ids if c != ids[best]]],
                    }
                ],
            }
        )
    return rows


def snapshot_make(project=None, rows=None, fmt="rankings", status="ready") -> DatasetSnapshot:
    """A ready snapshot row with its file under ARTIFACTS_DIR, as the exports task leaves it."""
    project = project or ProjectFactory()
    rows = ranking_rows(16) if rows is None else rows
    data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    snapshot = DatasetSnapshot.objects.create(project=project, format=fmt, settings={})
    rel = f"snapshots/{snapshot.pk}/{fmt}.jsonl"
    path = Path(settings.ARTIFACTS_DIR) / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    snapshot.status = status
    snapshot.file_path = rel
    snapshot.sha256 = hashlib.sha256(data).hexdigest()
    snapshot.row_counts = {"train": len(rows)}
    snapshot.save(update_fields=["status", "file_path", "sha256", "row_counts"])
    return snapshot


# Small enough that a whole run takes well under a second on one CPU core.
RM_CONFIG = {
    "max_steps": 6,
    "batch_size": 4,
    "log_every": 1,
    "checkpoint_every": 2,
    "max_length": 32,
    "eval_fraction": 0.25,
    "learning_rate": 1e-3,
    "num_threads": 1,
}
PPO_CONFIG = {
    "total_steps": 2,
    "batch_size": 4,
    "mini_batch_size": 4,
    "micro_batch_size": 4,
    "ppo_epochs": 1,
    "max_new_tokens": 6,
    "num_eval_prompts": 2,
    "save_every": 1,
    "num_samples_logged": 2,
}
