"""Generate-for-ranking requests: validated before anything is queued."""

import pytest

from tests.factories import ProjectFactory, PromptFactory
from tests.training.helpers import client_for, engineer, snapshot_make
from training.models import GenerationJob, Policy, TrainingRun
from training.services.generation import generation_import_lines

pytestmark = pytest.mark.django_db

URL = "/api/v1/generations/"


@pytest.fixture
def project():
    return ProjectFactory()


@pytest.fixture
def mle(project):
    return engineer(project)


@pytest.fixture
def policy(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    return Policy.objects.create(name="pol-1", path=str(tmp_path))


def post(client, body, capture):
    with capture(execute=False) as sent:
        response = client.post(URL, body, format="json")
    return response, sent


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"k": 1}, "k"),
        ({"k": 10}, "k"),
        ({"prompts": []}, "prompts"),
        ({"prompts": [""]}, "prompts[0].prompt"),
        ({"prompts": [{"text": "x"}]}, "prompts[0]"),
        ({"prompts": [{"prompt": "x", "lang": "en"}]}, "prompts[0].lang"),
        ({"prompts": [{"messages": [{"role": "assistant", "content": "hi"}]}]},
         "prompts[0].messages"),
        ({"prompts": [{"id": "a", "prompt": "x"}, {"id": "a", "prompt": "y"}]}, "prompts"),
        ({"policy": 999999}, "policy"),
        ({"policy": None}, "policy"),
        ({"temperature": 0}, "temperature"),
        ({"project": 999999}, "project"),
        ({"model_path": "/nonexistent"}, "policy"),
    ],
)  # fmt: skip
def test_bad_requests_are_400_naming_the_field(
    mle, project, policy, change, field, django_capture_on_commit_callbacks
):
    body = {"project": project.pk, "policy": policy.pk, "prompts": ["the cat"], "k": 3, **change}
    response, sent = post(client_for(mle), body, django_capture_on_commit_callbacks)
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"], response.json()
    assert not sent and not GenerationJob.objects.exists()


def test_prompt_ids_already_in_the_project_are_refused(
    mle, project, policy, django_capture_on_commit_callbacks
):
    PromptFactory(project=project, external_id="taken")
    body = {"project": project.pk, "policy": policy.pk,
            "prompts": [{"id": "taken", "prompt": "x"}]}  # fmt: skip
    response, _ = post(client_for(mle), body, django_capture_on_commit_callbacks)
    assert response.status_code == 400 and "taken" in response.json()["fields"]["prompts"]


def test_a_run_without_a_registered_policy_is_refused(
    mle, project, django_capture_on_commit_callbacks
):
    run = TrainingRun.objects.create(
        kind="reward_model", snapshot=snapshot_make(project), base_model="/m"
    )
    body = {"project": project.pk, "training_run": run.pk, "prompts": ["x"]}
    response, _ = post(client_for(mle), body, django_capture_on_commit_callbacks)
    assert response.status_code == 400 and "training_run" in response.json()["fields"]


def test_valid_request_queues_a_job_named_after_the_policy(
    mle, project, policy, django_capture_on_commit_callbacks
):
    body = {"project": project.pk, "policy": policy.pk, "k": 2,
            "prompts": ["the cat", {"id": "own", "prompt": "a dog"}]}  # fmt: skip
    response, sent = post(client_for(mle), body, django_capture_on_commit_callbacks)
    assert response.status_code == 202, response.content
    job = GenerationJob.objects.get()
    assert (job.status, job.model_name, job.k, job.policy) == ("queued", "pol-1", 2, policy)
    assert job.prompts == [{"prompt": "the cat"}, {"id": "own", "prompt": "a dog"}]
    assert len(sent) == 1


def test_import_lines_are_rankwise_with_the_model_name(project, policy):
    job = GenerationJob.objects.create(
        project=project, policy=policy, model_path=policy.path, model_name="pol-1",
        prompts=[{"prompt": "p"}, {"id": "x", "messages": [{"role": "user", "content": "m"}]}],
        k=2,
    )  # fmt: skip
    import json

    lines = [
        json.loads(line)
        for line in generation_import_lines(
            job=job, completions=[["a", "b"], ["c", "d"]]
        ).splitlines()
    ]
    assert lines[0]["id"] == f"gen{job.pk}-0" and lines[0]["prompt"] == "p"
    assert lines[1]["id"] == "x" and lines[1]["messages"][0]["content"] == "m"
    assert lines[1]["completions"] == [
        {"id": "A", "text": "c", "model": "pol-1"},
        {"id": "B", "text": "d", "model": "pol-1"},
    ]
