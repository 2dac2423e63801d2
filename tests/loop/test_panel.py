"""The model-in-the-loop panel: queue order and who chose it, retraining, machines with their
agreement, calibration, hybrid threshold and expected error."""

import pytest
from django.test import Client

from core.roles import Roles
from loop.services.hybrid import hybrid_calibrate
from loop.services.settings import loop_settings_update
from rewardmodel.models import RewardModel
from tests.factories import ProjectFactory, PromptFactory, UserFactory
from tests.loop.test_hybrid import machine, sample  # noqa: F401  (machine: a fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def hybrid_project():
    return ProjectFactory(overlap=1)


def page_for(project):
    engineer = UserFactory(roles=[Roles.ML_ENGINEER])
    project.memberships.create(user=engineer)
    browser = Client()
    browser.force_login(engineer)
    response = browser.get(f"/projects/{project.slug}/loop/")
    assert response.status_code == 200
    return response.content.decode()


def test_the_panel_shows_the_queue_order_and_the_model_that_chose_it(fake_scores, run_on_commit):
    project = ProjectFactory()
    for text, scores in (("sure", [[4.0, -4.0]]), ("unsure", [[0.0, 0.0]])):
        PromptFactory(project=project, k=2, text=text, external_id=f"ext-{text}")
        fake_scores[text] = scores
    rm = RewardModel.objects.create(name="rm-panel", path="x")
    with run_on_commit():
        loop_settings_update(project=project, priority="uncertainty", reward_model=rm.pk,
                             retrain_every=50)  # fmt: skip
    html = page_for(project)
    assert '<strong id="priority">uncertainty</strong>' in html and "rm-panel" in html
    assert html.index("ext-unsure") < html.index("ext-sure")  # most uncertain first
    assert "Every 50 new human judgements" in html


@pytest.fixture
def project(hybrid_project):
    return hybrid_project


def test_the_panel_shows_the_hybrid_threshold_and_expected_error(hybrid_project, machine):  # noqa: F811
    project = hybrid_project
    sample(project, machine)
    hybrid_calibrate(machine=machine, max_error=0.2, min_prompts=10)
    html = page_for(project)
    assert '<td class="hybrid-threshold">0.95</td>' in html
    assert '<td class="expected-error">0.000 (' in html
    assert 'class="machine-agreement">0.667 [' in html  # 20 of the 30 sample pairs agree
