import pytest
from django.contrib.auth import authenticate

from annotate.models import Annotation, Project, Prompt
from annotate.services.demo import DEMO_PASSWORD, demo_load

pytestmark = pytest.mark.django_db


def test_demo_load_creates_projects_users_and_is_idempotent(client):
    summary = demo_load()
    assert {p.slug for p in Project.objects.all()} == {"parrots", "oasst", "parrot-pairs"}
    assert Project.objects.get(slug="parrot-pairs").is_pairwise
    parrots = Prompt.objects.get(project__slug="parrots", external_id="parrots-special")
    assert [c.external_id for c in parrots.completions.all()] == list("ABCDE")
    assert Prompt.objects.filter(project__slug="oasst").count() == 212
    assert summary["projects"]["oasst"]["annotations_created"] == 212
    assert authenticate(username="alice", password=DEMO_PASSWORD) is not None

    again = demo_load()
    assert again["projects"]["oasst"]["prompts_created"] == 0
    assert Annotation.objects.count() == 212

    client.login(username="alice", password=DEMO_PASSWORD)
    page = client.get("/")
    assert page.status_code == 200
    assert (
        b"Parrots (InstructGPT example)" in page.content
        and b"Open-Assistant sample" in page.content
    )


def test_home_requires_login(client):
    response = client.get("/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_navigation_shows_training_only_to_ml_engineers_and_admins(client):
    demo_load()
    client.login(username="mlengineer", password=DEMO_PASSWORD)
    assert client.get("/").content.count(b">Training</a>") == 1
    # One entry, on the training pages too (it used to be "Training" and "Training runs").
    assert client.get("/training/runs/").content.count(b">Training</a>") == 1
    client.login(username="alice", password=DEMO_PASSWORD)
    assert b">Training</a>" not in client.get("/").content
