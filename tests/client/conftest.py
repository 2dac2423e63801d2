"""The client against the real server: pytest-django's live server (a threaded WSGI server on
loopback), token authentication, Celery as the rest of the suite runs it (eager here, a real
worker on Redis in test_worker.py)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from django.core.cache import cache

from annotate.models import Membership
from annotate.services.accounts import token_issue
from core.roles import Roles
from tests.factories import ProjectFactory, UserFactory
from tests.training.conftest import tiny_policy, tiny_rm_base  # noqa: F401 - shared fixtures
from tests.training.helpers import WORDS


@pytest.fixture(autouse=True)
def _isolated(settings, tmp_path, monkeypatch):
    # Throttle counters live in the cache, snapshots and runs in ARTIFACTS_DIR: per test. The
    # client must find no credentials or cache of the person running the suite.
    cache.clear()
    settings.ARTIFACTS_DIR = tmp_path / "artifacts"
    settings.ARTIFACTS_DIR.mkdir()
    settings.TRAINING_CANCEL_POLL_SECONDS = 0
    for name in ("RANKWISE_URL", "RANKWISE_TOKEN", "RANKWISE_ARTIFACTS_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RANKWISE_CONFIG", str(tmp_path / "home" / "rankwise.json"))
    monkeypatch.setenv("RANKWISE_CACHE_DIR", str(tmp_path / "cache"))
    yield
    cache.clear()


@pytest.fixture
def _fresh_scorers():
    from rewardmodel.scorers import scorer_cache_clear

    scorer_cache_clear()
    yield
    scorer_cache_clear()


def token_for(*roles: str, username: str | None = None, project=None) -> str:
    user = UserFactory(roles=list(roles), **({"username": username} if username else {}))
    if project is not None:
        Membership.objects.get_or_create(project=project, user=user)
    return token_issue(user=user).key


@pytest.fixture
def admin_token(transactional_db) -> str:
    return token_for(Roles.ADMIN, username="root")


@pytest.fixture
def rw(live_server, admin_token):
    """An admin's client; retries back off for milliseconds, not seconds."""
    from rankwise_client import Client

    with Client(live_server.url, admin_token, backoff=0.01) as client:
        yield client


@pytest.fixture
def project(transactional_db):
    return ProjectFactory(slug="parrots", name="Parrots")


def ranking_lines(n: int, *, k: int = 3, annotators=("a1", "a2"), seed: int = 0) -> list[dict]:
    """``rankwise`` import lines in the tiny models' vocabulary: the completion holding "good"
    wins for most annotators, so agreement is high but not perfect."""
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        ids = [chr(ord("A") + j) for j in range(k)]
        texts = [" ".join(rng.choice(WORDS) for _ in range(4)) for _ in range(k)]
        best = rng.randrange(k)
        texts[best] += " good"
        annotations = []
        for a, name in enumerate(annotators):
            top = best if (i + a) % 5 else (best + 1) % k
            annotations.append({"annotator": name,
                                "ranking": [[ids[top]], [c for c in ids if c != ids[top]]]})  # fmt: skip
        lines.append({
            "id": f"p{i}",
            "prompt": " ".join(rng.choice(WORDS) for _ in range(3)),
            "completions": [{"id": c, "text": t} for c, t in zip(ids, texts, strict=True)],
            "annotations": annotations,
        })  # fmt: skip
    return lines


def write_jsonl(path: Path, lines: list[dict]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


@pytest.fixture
def rankings_file(tmp_path) -> Path:
    return write_jsonl(tmp_path / "rankings.jsonl", ranking_lines(12))
