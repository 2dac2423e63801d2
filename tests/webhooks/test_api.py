"""The webhooks API through the DRF client: register, read, change, log, replay, ping."""

from __future__ import annotations

import pytest

from tests.api.conftest import assert_error_shape
from tests.factories import ProjectFactory
from tests.training.helpers import client_for, engineer
from webhooks import services
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db


@pytest.fixture
def project():
    return ProjectFactory()


@pytest.fixture
def api(project):
    return client_for(engineer(project))


def base(project) -> str:
    return f"/api/v1/projects/{project.slug}/webhooks/"


def test_register_shows_the_secret_once(api, project, receiver):
    response = api.post(base(project), {"url": receiver.url(), "events": ["snapshot.ready"]})
    assert response.status_code == 201, response.content
    created = response.json()
    assert len(created["secret"]) >= 32 and created["secret_hint"] == "…" + created["secret"][-4:]
    assert created["project"] == project.slug and created["events"] == ["snapshot.ready"]
    listed = api.get(base(project)).json()
    assert [h["id"] for h in listed] == [created["id"]] and "secret" not in listed[0]
    assert "secret" not in api.get(f"{base(project)}{created['id']}/").json()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://x/y", "events": ["snapshot.ready"]}, "url"),
        ({"url": "http://127.0.0.1:9/", "events": ["snapshot.done"]}, "events"),
        ({"url": "http://127.0.0.1:9/", "events": []}, "events"),
        ({"url": "http://127.0.0.1:9/", "events": ["snapshot.ready"], "secret": "short"},
         "secret"),
        ({"url": "http://127.0.0.1:9/", "events": ["snapshot.ready"], "colour": "red"},
         "colour"),
    ],
)  # fmt: skip
def test_bad_input_is_400_naming_the_field(api, project, body, field):
    response = api.post(base(project), body)
    assert response.status_code == 400
    assert_error_shape(response)
    assert field in response.json()["fields"]


def test_private_targets_are_refused_unless_allowed(api, project, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    response = api.post(base(project), {"url": "http://127.0.0.1:9/", "events": ["ping"]})
    assert response.status_code == 400
    assert "url" in response.json()["fields"]


def test_change_rotate_and_delete(api, project, receiver):
    hook = services.webhook_endpoint_create(project=project, url=receiver.url(),
                                            events=["snapshot.ready"])  # fmt: skip
    url = f"{base(project)}{hook.pk}/"
    response = api.patch(url, {"events": ["training_run.failed", "training_run.succeeded"],
                               "secret": "n" * 20, "active": False})  # fmt: skip
    assert response.status_code == 200, response.content
    hook.refresh_from_db()
    assert hook.events == ["training_run.failed", "training_run.succeeded"]
    assert hook.secret == "n" * 20 and hook.active is False
    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 404


def test_delivery_log_and_replay(api, project, receiver, django_capture_on_commit_callbacks):
    hook = services.webhook_endpoint_create(project=project, url=receiver.url(),
                                            events=["snapshot.ready"])  # fmt: skip
    receiver.secret = hook.secret
    receiver.statuses = [500]
    with django_capture_on_commit_callbacks(execute=True):
        (delivery,) = services.webhook_event_emit(project=project, event_type="snapshot.ready",
                                                  data={"snapshot": {"id": 1}})  # fmt: skip
    log = api.get(f"{base(project)}{hook.pk}/deliveries/").json()["results"]
    assert [(d["id"], d["status"], d["response_code"], d["attempts"]) for d in log] == [
        (delivery.pk, "retrying", 500, 1)
    ]
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"{base(project)}{hook.pk}/deliveries/{delivery.pk}/replay/")
    assert response.status_code == 202, response.content
    replay = WebhookDelivery.objects.get(pk=response.json()["id"])
    assert replay.status == "succeeded" and replay.replay_of_id == delivery.pk
    assert len(receiver.requests) == 2 and all(r["signed"] for r in receiver.requests)
    failed = api.get(f"{base(project)}{hook.pk}/deliveries/?status=retrying").json()["results"]
    assert [d["id"] for d in failed] == [delivery.pk]


def test_ping_reaches_the_receiver(api, project, receiver, django_capture_on_commit_callbacks):
    hook = services.webhook_endpoint_create(project=project, url=receiver.url(),
                                            events=["snapshot.ready"])  # fmt: skip
    receiver.secret = hook.secret
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"{base(project)}{hook.pk}/ping/")
    assert response.status_code == 202
    (request,) = receiver.requests
    assert request["signed"] and request["headers"]["x-rankwise-event"] == "ping"


def test_another_projects_webhook_is_404(api, project, receiver):
    other = services.webhook_endpoint_create(project=ProjectFactory(), url=receiver.url(),
                                             events=["snapshot.ready"])  # fmt: skip
    assert api.get(f"{base(project)}{other.pk}/").status_code == 404
    assert api.get(f"{base(project)}{other.pk}/deliveries/").status_code == 404
