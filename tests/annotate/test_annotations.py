from datetime import timedelta

import pytest
from django.utils import timezone

from agreement.models import PendingConsensus, PromptConsensus
from annotate.judgements import JudgementError
from annotate.models import Annotation, AnnotationRevision, Claim, Prompt
from annotate.services.annotations import (
    SubmissionRefused,
    annotation_skip,
    annotation_update,
    ranking_submit,
)
from annotate.services.queue import prompt_next_for_annotator
from tests.factories import ProjectFactory, PromptFactory, UserFactory, annotator

pytestmark = pytest.mark.django_db

GOOD = {
    "ranking": [["B"], ["A", "C"]],
    "ratings": {"A": 3, "B": 6, "C": 3},
    "flags": {"A": ["hallucination"]},
    "comment": "B answers the question",
    "time_ms": 4200,
    "shown_order": ["C", "A", "B"],
}


@pytest.fixture
def project():
    return ProjectFactory(overlap=2, flags=[{"key": "hallucination", "label": "Made up"}])


@pytest.fixture
def prompt(project):
    return PromptFactory(project=project, k=3)


def test_submit_stores_the_cleaned_judgement_with_a_revision(project, prompt):
    alice = annotator("alice", project)
    claim = prompt_next_for_annotator(project=project, user=alice)
    annotation = ranking_submit(project=project, prompt=prompt, user=alice, data=GOOD)
    annotation.refresh_from_db()
    assert annotation.ranking == [["B"], ["A", "C"]]
    assert annotation.ratings == {"A": 3, "B": 6, "C": 3}
    assert annotation.flags == {"A": ["hallucination"]}
    assert (annotation.comment, annotation.time_ms) == ("B answers the question", 4200)
    assert annotation.shown_order == ["C", "A", "B"]
    assert annotation.source == "ui" and not annotation.skipped
    (revision,) = annotation.revisions.all()
    assert revision.action == "created" and revision.editor == alice
    assert (
        revision.state["ranking"] == [["B"], ["A", "C"]] and revision.state["annotator"] == "alice"
    )
    assert not Claim.objects.filter(pk=claim.pk).exists(), "the claim is spent"
    assert Prompt.objects.get(pk=prompt.pk).submitted_count == 1


def test_shown_order_defaults_to_the_claimed_order(project, prompt):
    alice = annotator("alice", project)
    claim = prompt_next_for_annotator(project=project, user=alice)
    data = {k: v for k, v in GOOD.items() if k != "shown_order"}
    annotation = ranking_submit(project=project, prompt=prompt, user=alice, data=data)
    assert annotation.shown_order == claim.shown_order


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"ranking": [["A"], ["Z"]]}, "ranking"),
        ({"ranking": [["A"], ["B"]]}, "ranking"),  # C not placed
        ({"ranking": [["A"], ["B"], ["C"]], "ratings": {"A": 9}}, "ratings"),
        ({"ranking": [["A"], ["B"], ["C"]], "flags": {"A": ["rude"]}}, "flags"),
        ({"ranking": [["A"], ["B"], ["C"]], "time_ms": -1}, "time_ms"),
        ({"ranking": [["A"], ["B"], ["C"]], "shown_order": ["A"]}, "shown_order"),
    ],
)
def test_bad_fields_are_named_and_nothing_is_written(project, prompt, data, field):
    alice = annotator("alice", project)
    with pytest.raises(JudgementError) as exc:
        ranking_submit(project=project, prompt=prompt, user=alice, data=data)
    assert exc.value.field == field
    assert not Annotation.objects.exists() and not AnnotationRevision.objects.exists()


def test_ties_refused_when_the_project_forbids_them(project, prompt):
    project.ties_allowed = False
    project.save()
    with pytest.raises(JudgementError, match="ties are not allowed"):
        ranking_submit(project=project, prompt=prompt, user=annotator("a", project), data=GOOD)


def test_skip_flag_in_data_cannot_turn_a_submit_into_a_skip(project, prompt):
    data = {**GOOD, "skipped": True, "skip_reason": "x"}
    annotation = ranking_submit(
        project=project, prompt=prompt, user=annotator("a", project), data=data
    )
    assert not annotation.skipped and annotation.ranking


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        ("outsider", "not_member"),
        ("twice", "already_annotated"),
        ("other_project", "wrong_project"),
    ],
)
def test_refusals_have_codes(project, prompt, setup, code):
    user = annotator("alice", project)
    target = prompt
    if setup == "outsider":
        user = annotator("outsider")
    elif setup == "twice":
        ranking_submit(project=project, prompt=prompt, user=user, data=GOOD)
    else:
        target = PromptFactory(k=3)
    before = Annotation.objects.count()
    with pytest.raises(SubmissionRefused) as exc:
        ranking_submit(project=project, prompt=target, user=user, data=GOOD)
    assert exc.value.code == code and exc.value.message
    assert Annotation.objects.count() == before


def test_late_submission_accepted_while_overlap_has_room(project, prompt):
    now = timezone.now()
    alice = annotator("alice", project)
    prompt_next_for_annotator(project=project, user=alice, now=now - timedelta(hours=2))
    annotation = ranking_submit(project=project, prompt=prompt, user=alice, data=GOOD)
    assert annotation.pk


def test_late_submission_refused_when_the_overlap_filled_meanwhile(project, prompt):
    past = timezone.now() - timedelta(hours=2)
    alice = annotator("alice", project)
    prompt_next_for_annotator(project=project, user=alice, now=past)
    # alice's claim expired: two others took the slots; one submitted, one is still working
    bob, carol = annotator("bob", project), annotator("carol", project)
    assert prompt_next_for_annotator(project=project, user=bob).prompt == prompt
    assert prompt_next_for_annotator(project=project, user=carol).prompt == prompt
    ranking_submit(project=project, prompt=prompt, user=bob, data=GOOD)
    with pytest.raises(SubmissionRefused) as exc:
        ranking_submit(project=project, prompt=prompt, user=alice, data=GOOD)
    assert exc.value.code == "overlap_full"
    assert "your claim expired" in exc.value.message and "2 annotations" in exc.value.message
    # carol's live claim keeps her slot
    ranking_submit(project=project, prompt=prompt, user=carol, data=GOOD)
    assert Annotation.objects.filter(prompt=prompt, skipped=False).count() == 2


def test_skip_needs_a_reason_and_keeps_the_shown_order(project, prompt):
    alice = annotator("alice", project)
    claim = prompt_next_for_annotator(project=project, user=alice)
    with pytest.raises(JudgementError) as exc:
        annotation_skip(project=project, prompt=prompt, user=alice, reason="  ")
    assert exc.value.field == "skip_reason"
    skip = annotation_skip(
        project=project, prompt=prompt, user=alice, reason=" off-topic ", time_ms=900
    )
    assert (skip.skipped, skip.skip_reason, skip.time_ms) == (True, "off-topic", 900)
    assert skip.shown_order == claim.shown_order and skip.ranking == []
    assert Prompt.objects.get(pk=prompt.pk).submitted_count == 0
    assert not Claim.objects.exists()


def test_update_keeps_history_and_unchanged_writes_nothing(project, prompt):
    alice = annotator("alice", project)
    annotation = ranking_submit(project=project, prompt=prompt, user=alice, data=GOOD)
    same = annotation_update(annotation=annotation, user=alice, data={"comment": GOOD["comment"]})
    assert same.revisions.count() == 1
    edited = annotation_update(
        annotation=annotation,
        user=alice,
        data={"ranking": [["A"], ["B"], ["C"]], "comment": "redo"},
    )
    assert edited.ranking == [["A"], ["B"], ["C"]] and edited.comment == "redo"
    assert edited.ratings == GOOD["ratings"], "fields not sent keep their value"
    states = [r.state for r in edited.revisions.order_by("id")]
    assert [s["ranking"] for s in states] == [[["B"], ["A", "C"]], [["A"], ["B"], ["C"]]]
    assert edited.revisions.last().action == "updated"


def test_update_validates_and_writes_nothing_on_error(project, prompt):
    alice = annotator("alice", project)
    annotation = ranking_submit(project=project, prompt=prompt, user=alice, data=GOOD)
    with pytest.raises(JudgementError) as exc:
        annotation_update(annotation=annotation, user=alice, data={"ratings": {"A": 0}})
    assert exc.value.field == "ratings"
    with pytest.raises(JudgementError) as exc:
        annotation_update(annotation=annotation, user=alice, data={"annotator": 3})
    assert exc.value.field == "annotator"
    annotation.refresh_from_db()
    assert annotation.ratings == GOOD["ratings"] and annotation.revisions.count() == 1


def test_only_the_author_or_a_reviewer_may_edit(project, prompt):
    alice, bob = annotator("alice", project), annotator("bob", project)
    annotation = ranking_submit(project=project, prompt=prompt, user=alice, data=GOOD)
    with pytest.raises(SubmissionRefused) as exc:
        annotation_update(annotation=annotation, user=bob, data={"comment": "mine now"})
    assert exc.value.code == "not_yours"
    reviewer = UserFactory(roles=["reviewer"])
    edited = annotation_update(annotation=annotation, user=reviewer, data={"comment": "checked"})
    assert edited.revisions.last().editor == reviewer


def test_skip_turned_into_a_judgement_takes_a_slot_and_respects_the_overlap(project, prompt):
    alice = annotator("alice", project)
    skip = annotation_skip(project=project, prompt=prompt, user=alice, reason="later")
    ranking_submit(project=project, prompt=prompt, user=annotator("b", project), data=GOOD)
    judged = annotation_update(annotation=skip, user=alice, data={"ranking": GOOD["ranking"]})
    assert not judged.skipped and judged.skip_reason == ""
    assert Prompt.objects.get(pk=prompt.pk).submitted_count == 2
    # now full: another annotator's skip cannot become a third judgement
    late = annotation_skip(project=project, prompt=prompt, user=annotator("c", project), reason="x")
    with pytest.raises(SubmissionRefused) as exc:
        annotation_update(annotation=late, user=late.annotator, data={"ranking": GOOD["ranking"]})
    assert exc.value.code == "overlap_full"
    late.refresh_from_db()
    assert late.skipped
    # withdrawing a judgement frees the slot
    annotation_update(
        annotation=judged, user=alice, data={"skipped": True, "skip_reason": "unsure"}
    )
    assert Prompt.objects.get(pk=prompt.pk).submitted_count == 1


def test_a_judgement_marks_its_prompt_pending_until_the_flush_after_commit(
    project, prompt, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        annotation = ranking_submit(
            project=project, prompt=prompt, user=annotator("a", project), data=GOOD
        )
    # Marked in the submission's transaction; nothing computed on the request path.
    assert list(PendingConsensus.objects.values_list("prompt_id", flat=True)) == [prompt.pk]
    assert not PromptConsensus.objects.filter(prompt=prompt).exists()
    for callback in callbacks:
        callback()  # the flush (run inline: tasks are eager in tests)
    assert not PendingConsensus.objects.exists()
    assert PromptConsensus.objects.get(prompt=prompt).n_judgements == 1

    with django_capture_on_commit_callbacks(execute=False):
        annotation_update(annotation=annotation, user=annotation.annotator, data={"comment": "x"})
    assert PendingConsensus.objects.filter(prompt=prompt).exists()
