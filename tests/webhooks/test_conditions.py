"""queue.empty and agreement.below_threshold: sent when the condition starts to hold, once,
and again only after it stopped holding; checked on the worker (after a consensus flush, after
a full agreement recompute), never in an annotator's request."""

from __future__ import annotations

import io
import json

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError

from agreement.services import project_agreement_recompute, project_consensus_flush
from annotate.services.annotations import ranking_submit
from annotate.services.imports import prompts_import
from tests.api.conftest import assert_error_shape
from tests.factories import ProjectFactory, PromptFactory, annotator
from tests.training.helpers import client_for, engineer
from webhooks import conditions, services
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db

FORWARD, BACKWARD = [["A"], ["B"]], [["B"], ["A"]]


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def project():
    return ProjectFactory(overlap=2, max_overlap=None)


def hook(project, receiver, *events, threshold=None, metric="pairwise_agreement"):
    return services.webhook_endpoint_create(
        project=project, url=receiver.url(), events=list(events),
        agreement_threshold=threshold, agreement_metric=metric,
    )  # fmt: skip


def sent(event_type):
    return list(WebhookDelivery.objects.filter(event_type=event_type).order_by("id"))


def judge(project, prompt, name, ranking, capture):
    with capture(execute=False):  # the flush is run by the test, as the worker would
        ranking_submit(
            project=project, prompt=prompt, user=annotator(name, project), data={"ranking": ranking}
        )


def test_queue_empty_once_when_the_last_prompt_is_judged_and_again_after_new_prompts(
    project, receiver, django_capture_on_commit_callbacks
):
    other = hook(project, receiver, "snapshot.ready")  # not subscribed: hears nothing
    hook(project, receiver, "queue.empty")
    prompts = [PromptFactory(project=project, k=2) for _ in range(2)]
    for prompt in prompts:
        judge(project, prompt, "a1", FORWARD, django_capture_on_commit_callbacks)
    project_consensus_flush(project_id=project.pk)
    assert sent("queue.empty") == []  # every prompt still wants a second judgement
    judge(project, prompts[0], "a2", FORWARD, django_capture_on_commit_callbacks)
    project_consensus_flush(project_id=project.pk)
    assert sent("queue.empty") == []
    judge(project, prompts[1], "a2", FORWARD, django_capture_on_commit_callbacks)
    project_consensus_flush(project_id=project.pk)
    (first,) = sent("queue.empty")
    assert first.payload["data"]["queue"] == {"open_prompts": 0, "prompts": 2, "overlap": 2}
    assert first.endpoint_id != other.pk
    assert conditions.webhook_queue_check(project_id=project.pk) == 0  # still empty: no repeat

    line = {"id": "new-1", "prompt": "A new prompt", "completions": [
        {"id": "A", "text": "one"}, {"id": "B", "text": "two"}]}  # fmt: skip
    prompts_import(project=project, source=io.BytesIO(json.dumps(line).encode() + b"\n"))
    new = project.prompts.get(external_id="new-1")
    for name in ("a1", "a2"):
        judge(project, new, name, BACKWARD, django_capture_on_commit_callbacks)
    project_consensus_flush(project_id=project.pk)
    assert len(sent("queue.empty")) == 2  # drained again after the import reopened it


def test_agreement_below_threshold_fires_on_each_downward_crossing_only(project, receiver):
    endpoint = hook(project, receiver, "agreement.below_threshold", threshold=0.6)
    figures = [0.5, 0.4, None, 0.8, 0.55, 0.59]
    fired = [
        conditions.webhook_agreement_check(project_id=project.pk, report={"pairwise_agreement": f})
        for f in figures
    ]
    assert fired == [1, 0, 0, 0, 1, 0]
    payloads = [d.payload["data"]["agreement"] for d in sent("agreement.below_threshold")]
    assert [(p["value"], p["threshold"], p["metric"]) for p in payloads] == [
        (0.5, 0.6, "pairwise_agreement"), (0.55, 0.6, "pairwise_agreement")
    ]  # fmt: skip
    assert {d.endpoint_id for d in sent("agreement.below_threshold")} == {endpoint.pk}


def test_a_recompute_of_disagreeing_annotators_announces_low_agreement(
    project, receiver, django_capture_on_commit_callbacks
):
    hook(project, receiver, "agreement.below_threshold", threshold=0.2,
         metric="krippendorff_alpha_ranking")  # fmt: skip
    for i in range(6):
        prompt = PromptFactory(project=project, k=2)
        judge(project, prompt, "a1", FORWARD, django_capture_on_commit_callbacks)
        judge(project, prompt, "a2", BACKWARD if i % 3 else FORWARD,
              django_capture_on_commit_callbacks)  # fmt: skip
    stored = project_agreement_recompute(project=project, bootstrap=0)
    alpha = stored.report["krippendorff_alpha"]["ranking"]
    assert alpha is not None and alpha < 0.2
    (delivery,) = sent("agreement.below_threshold")
    assert delivery.payload["data"]["agreement"]["value"] == pytest.approx(alpha)


def test_the_threshold_is_required_and_bounded(project, receiver):
    with pytest.raises(ValidationError) as caught:
        hook(project, receiver, "agreement.below_threshold")
    assert "agreement_threshold" in caught.value.message_dict
    api = client_for(engineer(project))
    url = f"/api/v1/projects/{project.slug}/webhooks/"
    for body, field in [
        ({"url": receiver.url(), "events": ["agreement.below_threshold"]}, "agreement_threshold"),
        ({"url": receiver.url(), "events": ["queue.empty"], "agreement_threshold": 2},
         "agreement_threshold"),
        ({"url": receiver.url(), "events": ["queue.empty"], "agreement_metric": "kappa"},
         "agreement_metric"),
    ]:  # fmt: skip
        response = api.post(url, body, format="json")
        assert field in assert_error_shape(response, 400)["fields"], response.content
    created = api.post(url, {"url": receiver.url(), "events": ["agreement.below_threshold"],
                             "agreement_threshold": 0.5}, format="json")  # fmt: skip
    assert created.status_code == 201, created.content
    assert created.json()["agreement_threshold"] == 0.5
