"""The annotator's flow through the client, against the live server: claim, rank in the
letters shown, submit with the next task in the same round trip, prefetch, extend, skip."""

from __future__ import annotations

import pytest

from annotate.models import Annotation, Claim
from core.roles import Roles
from tests.client.conftest import token_for
from tests.factories import PromptFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def annotator_rw(live_server, project):
    from rankwise_client import Client

    project.overlap = 2
    project.save()
    for i in range(3):
        PromptFactory(project=project, k=4, text=f"prompt {i}")
    token = token_for(Roles.ANNOTATOR, username="ann", project=project)
    with Client(live_server.url, token, backoff=0.01) as client:
        yield client


def test_claim_rank_in_letters_and_get_the_next_task_in_one_call(annotator_rw, project):
    from rankwise_client import Submitted, Task

    task = annotator_rw.tasks.next("parrots")
    assert isinstance(task, Task) and not task.is_preview and task.project == "parrots"
    assert [c.label for c in task.completions] == ["A", "B", "C", "D"]
    assert task.letters == {cid: "ABCD"[i] for i, cid in enumerate(task.shown_order)}
    assert annotator_rw.tasks.next("parrots").prompt_id == task.prompt_id  # the one held

    preview = annotator_rw.tasks.peek("parrots")
    assert preview.is_preview and preview.prompt_id != task.prompt_id

    done = task.submit("B > A = C > D", ratings={"A": 6}, comment="B is best", next=True,
                       prefer=preview)  # fmt: skip
    assert isinstance(done, Submitted) and isinstance(done.next, Task)
    stored = Annotation.objects.get(pk=done.id)
    b, a, c, d = (task.completion(x).id for x in "BACD")
    assert stored.ranking == [[b], [a, c], [d]]
    assert stored.ratings == {a: 6} and stored.shown_order == task.shown_order
    assert done.ranking_in_letters() == "B > A = C > D" and done.letters == task.letters
    # The preview was claimed, with the letters it showed.
    assert done.next.prompt_id == preview.prompt_id
    assert done.next.shown_order == preview.shown_order and not done.next.is_preview
    assert done.next.project == "parrots"


def test_submit_by_prompt_id_in_completion_ids_without_next(annotator_rw, project):
    task = annotator_rw.tasks.next("parrots")
    first = task.completions[0].id
    done = annotator_rw.tasks.submit(task.prompt_id, [[c] for c in task.shown_order],
                                     project="parrots", ratings={first: 2})  # fmt: skip
    assert done.next is None and "next" not in done.raw
    assert Annotation.objects.get(pk=done.id).ratings == {first: 2}
    assert not Claim.objects.exists()


def test_extend_and_skip_with_next(annotator_rw, project):
    task = annotator_rw.tasks.next("parrots")
    before = task.expires_at
    assert task.extend() is task and task.expires_at >= before
    skipped = task.skip("unclear prompt", next=True)
    assert skipped.skipped and skipped.skip_reason == "unclear prompt"
    assert skipped.next is not None and skipped.next.prompt_id != task.prompt_id
    third = skipped.next.submit("A > B > C > D", next=True).next
    assert third is not None
    assert third.submit([[c] for c in third.shown_order], next=True).next is None  # all done


def test_refusals_are_typed_errors(annotator_rw, project):
    from rankwise_client import BadRequest, Conflict

    task = annotator_rw.tasks.next("parrots")
    with pytest.raises(BadRequest) as bad:
        task.submit([[task.shown_order[0]]])  # not every output placed
    assert "ranking" in bad.value.fields
    with pytest.raises(ValueError, match="letter 'Z'"):
        task.submit("A > Z")
    task.submit("A > B > C > D")
    with pytest.raises(Conflict) as twice:
        task.submit("A > B > C > D")
    assert twice.value.code == "already_annotated"
