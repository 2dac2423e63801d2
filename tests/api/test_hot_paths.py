"""The ranking page's hot requests: how many queries each costs, and that the plain-dict
answers (annotate.api.task_json) are exactly what the documented serializers give.

The query ceilings are the counts after issue 15's speed pass (bench/profile_requests.py
--show-queries lists them); a change that adds a query per request fails here, and one that
removes some should lower the ceiling.
"""

import json

import pytest
from django.db import connection
from django.urls import reverse

from annotate.api.serializers import AnnotationSerializer
from annotate.api.task_json import annotation_json, task_json
from annotate.api.views.tasks import TaskSerializer
from annotate.models import Annotation, Claim
from annotate.services.queue import prompt_next_for_annotator
from annotate.services.reservations import prompt_peek_for_annotator
from tests.factories import ProjectFactory, PromptFactory, annotator

pytestmark = pytest.mark.django_db

# Per request, as the page sends it (session cookie + CSRF header). SQLite pays one more
# query per lock (core.db.writer_lock_take). The test settings read the session from the
# database (one query; production reads it from Redis).
CEILINGS = {
    "postgresql": {"next": 13, "extend": 14, "peek": 14, "submit": 17, "submit_next": 25},
    "sqlite": {"next": 16, "extend": 16, "peek": 17, "submit": 19, "submit_next": 29},
}


@pytest.fixture
def project():
    project = ProjectFactory(slug="hot", overlap=2)
    for i in range(4):
        PromptFactory(project=project, k=4, text=f"prompt {i} with **markdown**")
    PromptFactory(
        project=project, k=3, text="",
        messages=[{"role": "user", "content": "hello"}, {"role": "assistant", "content": "hi"},
                  {"role": "user", "content": "and *then*?"}],
    )  # fmt: skip
    return project


@pytest.fixture
def alice(project):
    user = annotator("alice", project)
    user.refresh_from_db()
    return user


@pytest.fixture
def page(client, alice):
    client.force_login(alice)
    client.get(reverse("annotate:annotate", args=["hot"]))  # the page sets the CSRF cookie
    client.defaults["HTTP_X_CSRFTOKEN"] = client.cookies["csrftoken"].value
    return client


def _url(name, *args):
    return reverse(f"api:{name}", args=["hot", *args])


def _post(client, url, body=None):
    return client.post(url, json.dumps(body or {}), content_type="application/json")


def _ranking(task):
    return {"ranking": [[c["id"]] for c in task["completions"]]}


def test_the_hot_requests_stay_within_their_query_counts(page, django_assert_max_num_queries):
    ceiling = CEILINGS[connection.vendor]
    with django_assert_max_num_queries(ceiling["next"]):
        task = _post(page, _url("task-next")).json()
    with django_assert_max_num_queries(ceiling["extend"]):
        assert _post(page, _url("task-extend", task["prompt_id"])).status_code == 200
    with django_assert_max_num_queries(ceiling["peek"]):
        peeked = page.get(_url("task-peek")).json()
    url = _url("task-submit", task["prompt_id"]) + f"?next=1&prefer={peeked['prompt_id']}"
    with django_assert_max_num_queries(ceiling["submit_next"]):
        response = _post(page, url, _ranking(task))
    assert response.status_code == 201, response.content
    task = response.json()["next"]
    assert task["prompt_id"] == peeked["prompt_id"]
    with django_assert_max_num_queries(ceiling["submit"]):
        assert (
            _post(page, _url("task-submit", task["prompt_id"]), _ranking(task)).status_code == 201
        )


def test_plain_task_answers_equal_the_serializers(project, alice):
    claim = prompt_next_for_annotator(project=project, user=alice)
    context = {"project": project}
    assert task_json(claim, project) == TaskSerializer(claim, context=context).data
    preview = prompt_peek_for_annotator(project=project, user=alice)
    assert preview.claimed_at is None
    assert task_json(preview, project) == TaskSerializer(preview, context=context).data
    assert json.dumps(task_json(claim, project))  # plain JSON types only


def test_a_conversation_task_equals_the_serializer(project, alice):
    conversation = project.prompts.get(text="")
    for prompt in project.prompts.exclude(pk=conversation.pk):
        Annotation.objects.create(prompt=prompt, annotator=alice, skipped=True, skip_reason="x")
    claim = prompt_next_for_annotator(project=project, user=alice)
    assert claim.prompt.pk == conversation.pk
    data = task_json(claim, project)
    assert data["messages_html"] and len(data["messages_html"]) == 3
    assert data == TaskSerializer(claim, context={"project": project}).data


def test_plain_annotation_answers_equal_the_serializer(page, project, alice):
    task = _post(page, _url("task-next")).json()
    body = {**_ranking(task), "comment": "B is long", "time_ms": 1234,
            "ratings": {task["completions"][0]["id"]: 5}}  # fmt: skip
    submitted = _post(page, _url("task-submit", task["prompt_id"]) + "?next=1", body).json()
    nxt = submitted.pop("next")
    annotation = Annotation.objects.select_related("prompt", "annotator").get(pk=submitted["id"])
    assert submitted == AnnotationSerializer(annotation).data
    skipped = _post(page, _url("task-skip", nxt["prompt_id"]), {"reason": "unclear"}).json()
    annotation = Annotation.objects.select_related("prompt", "annotator").get(pk=skipped["id"])
    assert annotation.time_ms is None
    assert skipped == AnnotationSerializer(annotation).data == annotation_json(annotation)
    assert not Claim.objects.filter(prompt_id=nxt["prompt_id"]).exists()
