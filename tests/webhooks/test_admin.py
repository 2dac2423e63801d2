"""Webhooks in the Django admin go through the services: the add form's URL is checked, the
replay action makes a new delivery."""

from __future__ import annotations

import pytest

from core.models import AuditEvent
from core.roles import Roles
from tests.factories import ProjectFactory
from tests.training.helpers import user_with
from webhooks import services
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(user_with(Roles.ADMIN, is_staff=True, is_superuser=True))
    return client


def test_add_form_uses_the_service(admin_client, settings):
    project = ProjectFactory()
    form = {"project": project.pk, "url": "http://127.0.0.1:9/hook",
            "events": '["snapshot.ready"]', "secret": "x" * 20, "description": "", "active": "on"}  # fmt: skip
    response = admin_client.post("/admin/webhooks/webhookendpoint/add/", form)
    assert response.status_code == 302, response.content[:2000]
    hook = WebhookEndpoint.objects.get()
    assert hook.events == ["snapshot.ready"] and hook.created_by is not None
    event = AuditEvent.objects.get(action="webhook.create", project_id=project.pk)
    assert "secret" not in event.after  # the key never reaches the audit log


def test_replay_action(admin_client, receiver):
    hook = services.webhook_endpoint_create(project=ProjectFactory(), url=receiver.url(),
                                            events=["snapshot.ready"])  # fmt: skip
    (delivery,) = services.webhook_event_emit(project=hook.project, event_type="snapshot.ready",
                                              data={})  # fmt: skip
    response = admin_client.post("/admin/webhooks/webhookdelivery/",
                                 {"action": "replay", "_selected_action": [delivery.pk]})  # fmt: skip
    assert response.status_code == 302
    replay = WebhookDelivery.objects.exclude(pk=delivery.pk).get()
    assert replay.replay_of_id == delivery.pk
    assert (
        admin_client.get(f"/admin/webhooks/webhookdelivery/{delivery.pk}/change/").status_code
        == 200
    )


def test_add_form_shows_the_services_errors_in_place(admin_client):
    project = ProjectFactory()
    form = {"project": project.pk, "url": "http://127.0.0.1:9/hook",
            "events": '["agreement.below_threshold"]', "secret": "x" * 20, "active": "on"}  # fmt: skip
    response = admin_client.post("/admin/webhooks/webhookendpoint/add/", form)
    assert response.status_code == 200  # the form again, not a 500
    assert "agreement_threshold" in response.context["adminform"].form.errors
    assert not WebhookEndpoint.objects.exists()
