"""A submission whose prompt is already pending, racing the flush that clears it.

bench/bench_load_faults.py at 200 annotators left one prompt with a consensus of 2 judgements
out of 3 and no pending row: the submission's ``INSERT ... ON CONFLICT DO NOTHING`` found the
prompt's pending row and took no lock on it, the flush deleted that row and read the
judgements before the submission committed, and nothing was left to flush the third one.
"""

import threading

import pytest
from django.db import connection

from agreement.models import PendingConsensus, PromptConsensus
from agreement.services import pending_consensus_sweep, project_consensus_flush
from annotate.services import annotations
from tests.factories import ProjectFactory, PromptFactory, annotator

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

FORWARD = [["A"], ["B"], ["C"], ["D"]]


def test_a_judgement_committed_during_a_flush_of_its_pending_prompt_is_not_lost(monkeypatch):
    project = ProjectFactory(overlap=3)
    prompt = PromptFactory(project=project, k=4)
    first, second = annotator("r1", project), annotator("r2", project)
    # The flush message is "in flight": nothing runs it on commit, the test does.
    monkeypatch.setattr(
        "agreement.services.incremental.project_consensus_flush_enqueue", lambda **kw: None
    )
    annotations.ranking_submit(
        project=project, prompt=prompt, user=first, data={"ranking": FORWARD}
    )
    assert PendingConsensus.objects.filter(prompt=prompt).exists()  # not flushed yet

    marked, commit = threading.Event(), threading.Event()
    real_pending = annotations._consensus_pending

    def pending_then_wait(locked):
        real_pending(locked)
        if threading.current_thread().name == "submitter":
            marked.set()  # the pending row is written; the commit waits for the flush
            commit.wait(10)

    monkeypatch.setattr(annotations, "_consensus_pending", pending_then_wait)
    errors = []

    def run(fn):
        try:
            fn()
        except Exception as exc:  # reported below
            errors.append(repr(exc))
        finally:
            connection.close()

    submitter = threading.Thread(name="submitter", target=run, args=(lambda: annotations.ranking_submit(
        project=project, prompt=prompt, user=second, data={"ranking": FORWARD}),))  # fmt: skip
    flusher = threading.Thread(
        target=run, args=(lambda: project_consensus_flush(project_id=project.pk),)
    )
    submitter.start()
    assert marked.wait(10)
    flusher.start()
    flusher.join(1.0)  # with the fix it waits here for the submission's row lock
    commit.set()
    submitter.join(10)
    flusher.join(10)
    assert errors == []

    pending_consensus_sweep()  # the periodic safety net: whatever is still pending
    assert PromptConsensus.objects.get(prompt=prompt).n_judgements == 2
