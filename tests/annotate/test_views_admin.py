import pytest
from django.urls import reverse

from annotate.models import Claim, Prompt
from annotate.services.queue import prompt_next_for_annotator
from tests.factories import PromptFactory, UserFactory, annotator

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    admin.set_password("pw")
    admin.save()
    client.force_login(admin)
    return client


def test_claims_are_listed_in_the_admin(admin_client):
    prompt = PromptFactory(k=2)
    alice = annotator("alice", prompt.project)
    prompt_next_for_annotator(project=prompt.project, user=alice)
    page = admin_client.get(reverse("admin:annotate_claim_changelist")).content.decode()
    assert "alice" in page and Claim.objects.count() == 1


def prompt_form(prompt, **changes):
    data = {
        "project": prompt.project_id, "external_id": prompt.external_id, "text": prompt.text,
        "messages": "null", "metadata": "{}", "gold_ranking": "null", "target_overlap": "",
        "completions-TOTAL_FORMS": "0", "completions-INITIAL_FORMS": "0",
    }  # fmt: skip
    data.update(changes)
    return data


def test_gold_ranking_is_validated_in_the_admin(admin_client):
    prompt = PromptFactory(k=3)
    url = reverse("admin:annotate_prompt_change", args=[prompt.pk])
    bad = admin_client.post(url, prompt_form(prompt, is_gold="on", gold_ranking='[["A"], ["Z"]]'))
    assert bad.status_code == 200 and "unknown completion" in bad.content.decode()
    assert not Prompt.objects.get(pk=prompt.pk).is_gold
    good = admin_client.post(
        url,
        prompt_form(prompt, is_gold="on", gold_ranking='[["B"], ["A", "C"]]', target_overlap="5"),
    )
    assert good.status_code == 302, good.content.decode()[:2000]
    prompt.refresh_from_db()
    assert prompt.is_gold and prompt.gold_ranking == [["B"], ["A", "C"]]
    assert prompt.target_overlap == 5
