import pytest
from django.urls import reverse

from exports.models import DatasetSnapshot
from tests.exports.conftest import import_lines
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def project():
    project = ProjectFactory()
    import_lines(
        project,
        [
            {
                "id": "q",
                "prompt": "p",
                "completions": ["a", "b"],
                "annotations": [{"annotator": "u", "ranking": [["0"], ["1"]]}],
            }
        ],
    )
    return project


def test_admin_export_form_queues_and_builds(
    admin_client, project, django_capture_on_commit_callbacks
):
    url = reverse("admin:exports_new")
    assert admin_client.get(url).status_code == 200
    form = {
        "project": project.pk,
        "format": "pairwise",
        "mode": "all",
        "ties": "drop",
        "seed": 0,
        "train": 0.8,
        "validation": 0.1,
        "test": 0.1,
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, form)
    assert response.status_code == 302
    snapshot = DatasetSnapshot.objects.get()
    assert snapshot.status == "ready" and snapshot.settings["split"]["train"] == 0.8

    bad = admin_client.post(url, {**form, "train": 0.5})
    assert bad.status_code == 200 and b"add up to 1" in bad.content
    assert DatasetSnapshot.objects.count() == 1

    changelist = reverse("admin:exports_datasetsnapshot_changelist")
    assert b"New export" in admin_client.get(changelist).content
    response = admin_client.post(
        changelist, {"action": "verify", "_selected_action": [snapshot.pk]}, follow=True
    )
    assert b"intact" in response.content
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(changelist, {"action": "export_again", "_selected_action": [snapshot.pk]})
    again = DatasetSnapshot.objects.exclude(pk=snapshot.pk).get()
    assert again.sha256 == snapshot.sha256
    assert (
        admin_client.get(
            reverse("admin:exports_datasetsnapshot_change", args=[snapshot.pk])
        ).status_code
        == 200
    )

    folder = snapshot.folder
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse("admin:exports_datasetsnapshot_delete", args=[snapshot.pk]), {"post": "yes"}
        )
    assert not DatasetSnapshot.objects.filter(pk=snapshot.pk).exists()
    assert not folder.exists()
