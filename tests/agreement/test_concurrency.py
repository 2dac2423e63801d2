"""Submissions (each recomputing its prompt after commit) racing full recomputes on PostgreSQL:
no deadlock, no failed recompute, and every prompt's stored consensus counts every judgement."""

import logging
import random
import threading

import pytest
from django.db import connection

from agreement.models import PromptConsensus
from agreement.services import project_agreement_recompute
from annotate.services.annotations import ranking_submit
from tests.factories import ProjectFactory, PromptFactory, annotator

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ANNOTATORS = 6
PROMPTS = 8


def test_submissions_racing_full_recomputes(caplog):
    project = ProjectFactory(overlap=ANNOTATORS, max_overlap=None)
    prompts = [PromptFactory(project=project, k=4) for _ in range(PROMPTS)]
    users = [annotator(f"c{i}", project) for i in range(ANNOTATORS)]
    project_agreement_recompute(project=project, bootstrap=0)
    start = threading.Barrier(ANNOTATORS + 1)
    errors = []

    def annotate(user, seed):
        rng = random.Random(seed)
        try:
            start.wait()
            for prompt in rng.sample(prompts, len(prompts)):
                ids = ["A", "B", "C", "D"]
                rng.shuffle(ids)
                ranking_submit(
                    project=project, prompt=prompt, user=user, data={"ranking": [[c] for c in ids]}
                )
        except Exception as exc:  # reported below
            errors.append(repr(exc))
        finally:
            connection.close()

    def recompute():
        try:
            start.wait()
            for _ in range(3):
                project_agreement_recompute(project=project, bootstrap=0)
        except Exception as exc:
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=annotate, args=(u, i)) for i, u in enumerate(users)]
    threads.append(threading.Thread(target=recompute))
    with caplog.at_level(logging.ERROR, logger="agreement.services"):
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=180)
    assert not any(t.is_alive() for t in threads), "a thread hung (deadlock?)"
    assert errors == []
    assert [r.getMessage() for r in caplog.records] == []
    counts = dict(
        PromptConsensus.objects.filter(project=project).values_list("prompt_id", "n_judgements")
    )
    assert counts == {p.pk: ANNOTATORS for p in prompts}
