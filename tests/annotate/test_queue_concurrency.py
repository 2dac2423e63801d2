"""Many annotators claiming and submitting at once against PostgreSQL.

Time runs 60x faster through a shared clock (the queue's ``now`` and the submit path's
``timezone.now``), so 30-minute claims expire within the test and late submissions, abandoned
claims and claim-less (API-style) submissions all race the regular flow.
"""

import random
import threading
import time
from collections import Counter, defaultdict
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.utils import timezone

from agreement.models import PromptConsensus
from agreement.services import incremental
from annotate.models import Annotation, Claim, Prompt
from annotate.services import annotations as annotation_services
from annotate.services.annotations import SubmissionRefused, annotation_skip, ranking_submit
from annotate.services.queue import prompt_next_for_annotator
from tests.factories import ProjectFactory, PromptFactory, annotator

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 16
API_THREADS = 2
PROMPTS = 16
OVERLAP = 3
SPEEDUP = 60  # one real second is a minute of queue time; claims last one minute
RANKING = {"ranking": [["A"], ["B", "C"]]}


class Clock:
    def __init__(self):
        self.start = timezone.now()
        self.t0 = time.monotonic()

    def now(self):
        return self.start + timedelta(seconds=(time.monotonic() - self.t0) * SPEEDUP)


class Log:
    def __init__(self):
        self.lock = threading.Lock()
        self.saved = []  # (annotation id, prompt id, user id, skipped)
        self.refused = Counter()
        self.offered_again = []  # a prompt offered to someone who had already done it
        self.errors = []

    def add(self, attr, value):
        with self.lock:
            getattr(self, attr).append(value)


def annotate_loop(project, user, clock, log, seed):
    rng = random.Random(seed)
    done = set()
    try:
        for _ in range(200):
            claim = prompt_next_for_annotator(project=project, user=user, now=clock.now())
            if claim is None:
                return
            prompt = claim.prompt
            if prompt.pk in done:
                log.add("offered_again", (user.pk, prompt.pk))
            roll = rng.random()
            try:
                if roll < 0.1:
                    saved = annotation_skip(project=project, prompt=prompt, user=user, reason="x")
                else:
                    if roll < 0.25:
                        time.sleep(1.2)  # abandon the claim past its expiry, then submit late
                    saved = ranking_submit(project=project, prompt=prompt, user=user, data=RANKING)
                log.add("saved", (saved.pk, prompt.pk, user.pk, saved.skipped))
                done.add(prompt.pk)
            except SubmissionRefused as exc:
                # refused (overlap full): the prompt may come back once a slot frees up
                with log.lock:
                    log.refused[exc.code] += 1
    except Exception as exc:  # pragma: no cover - reported by the assertion below
        log.add("errors", repr(exc))
    finally:
        connection.close()


def api_loop(project, user, prompt_ids, log, seed):
    """Submits straight to prompts without claiming, as an API client may."""
    rng = random.Random(seed)
    try:
        for pid in rng.sample(prompt_ids, len(prompt_ids)):
            prompt = Prompt.objects.get(pk=pid)
            try:
                saved = ranking_submit(
                    project=project, prompt=prompt, user=user, data=RANKING, source="api"
                )
                log.add("saved", (saved.pk, pid, user.pk, False))
            except SubmissionRefused as exc:
                with log.lock:
                    log.refused[exc.code] += 1
    except Exception as exc:  # pragma: no cover
        log.add("errors", repr(exc))
    finally:
        connection.close()


def test_concurrent_claims_and_submissions_keep_every_invariant():
    project = ProjectFactory(overlap=OVERLAP, claim_timeout_minutes=1)
    prompt_ids = [PromptFactory(project=project, k=3).pk for _ in range(PROMPTS)]
    users = [annotator(f"t{i}", project) for i in range(THREADS)]
    api_users = [annotator(f"api{i}", project) for i in range(API_THREADS)]
    clock, log = Clock(), Log()
    fake_timezone = mock.Mock(wraps=timezone, now=clock.now)

    # The consensus flush runs after commit, outside the queue's locks; it is held back so the
    # race stays dense (and the test fast), and run once at the end. The pending rows, written
    # inside each submission's transaction, race along.
    with (
        mock.patch.object(annotation_services, "timezone", fake_timezone),
        mock.patch.object(incremental, "project_consensus_flush_enqueue", lambda project_id: None),
    ):
        threads = [
            threading.Thread(target=annotate_loop, args=(project, u, clock, log, i))
            for i, u in enumerate(users)
        ] + [
            threading.Thread(target=api_loop, args=(project, u, prompt_ids, log, 100 + i))
            for i, u in enumerate(api_users)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in threads), "a worker hung (deadlock?)"

    assert log.errors == []
    assert log.offered_again == [], "an annotator was offered a prompt they had already done"

    # No submission lost, none invented: what the services returned is exactly what is stored.
    stored = {
        a.pk: (a.pk, a.prompt_id, a.annotator_id, a.skipped) for a in Annotation.objects.all()
    }
    assert sorted(stored.values()) == sorted(log.saved)
    assert len(log.saved) > PROMPTS * OVERLAP // 2, "the workers did little work"

    # No prompt over its overlap, no annotator twice on a prompt, counters match the table.
    judged = Counter(a[1] for a in log.saved if not a[3])
    assert max(judged.values()) <= OVERLAP
    pairs = Counter((a[1], a[2]) for a in log.saved)
    assert max(pairs.values()) == 1
    counters = dict(Prompt.objects.values_list("pk", "submitted_count"))
    assert all(counters[pid] == judged.get(pid, 0) for pid in prompt_ids)
    assert log.refused.keys() <= {"overlap_full", "already_annotated"}

    # Every judgement left its prompt pending: one flush brings every consensus up to date.
    incremental.project_consensus_flush(project_id=project.pk)
    consensus = dict(
        PromptConsensus.objects.filter(project=project).values_list("prompt_id", "n_judgements")
    )
    assert consensus == {pid: n for pid, n in judged.items() if n}

    # Nothing leaked: once every claim has expired, fresh annotators fill every prompt exactly.
    later = clock.now() + timedelta(hours=1)
    with mock.patch.object(annotation_services.timezone, "now", lambda: later):
        per_prompt = defaultdict(int, judged)
        for i in range(OVERLAP):
            fresh = annotator(f"fresh{i}", project)
            while claim := prompt_next_for_annotator(project=project, user=fresh, now=later):
                ranking_submit(project=project, prompt=claim.prompt, user=fresh, data=RANKING)
                per_prompt[claim.prompt_id] += 1
    assert all(per_prompt[pid] == OVERLAP for pid in prompt_ids)
    assert not Claim.objects.filter(expires_at__gt=later).exists()
