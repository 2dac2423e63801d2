import pytest
from django.db import IntegrityError, transaction

from annotate.models import Annotation, Completion, Prompt
from tests.factories import AnnotationFactory, ProjectFactory, PromptFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_prompt_external_id_unique_per_project():
    project = ProjectFactory()
    PromptFactory(project=project, external_id="p-1")
    PromptFactory(external_id="p-1")  # another project may reuse it
    with pytest.raises(IntegrityError), transaction.atomic():
        Prompt.objects.create(project=project, external_id="p-1", text="again")


def test_prompt_needs_text_or_messages():
    project = ProjectFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Prompt.objects.create(project=project, external_id="empty", text="")
    Prompt.objects.create(
        project=project, external_id="chat", messages=[{"role": "user", "content": "hi"}]
    )


def test_completion_ids_unique_within_prompt():
    prompt = PromptFactory(k=2)
    with pytest.raises(IntegrityError), transaction.atomic():
        Completion.objects.create(prompt=prompt, external_id="A", position=5, text="dup")


def test_one_annotation_per_prompt_and_annotator():
    annotation = AnnotationFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Annotation.objects.create(
            prompt=annotation.prompt, annotator=annotation.annotator, ranking=[["A"], ["B"]]
        )


def test_annotation_is_ranked_or_skipped():
    prompt = PromptFactory(k=2)
    user = UserFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Annotation.objects.create(prompt=prompt, annotator=user, ranking=[])
    Annotation.objects.create(prompt=prompt, annotator=user, skipped=True, skip_reason="unclear")


def test_project_defaults_follow_instructgpt():
    project = ProjectFactory()
    assert project.overlap == 3
    assert project.rating_scale == {"min": 1, "max": 7, "label": "Overall quality"}
    assert "hallucination" in project.flag_keys and len(project.flag_keys) == 9
    assert project.ties_allowed and project.require_all_placed
