import random
from datetime import timedelta

import pytest
from django.utils import timezone

from annotate.models import Annotation, Claim, Prompt
from annotate.services.annotations import annotation_skip, ranking_submit
from annotate.services.queue import (
    SubmissionRefused,
    prompt_counters_refresh,
    prompt_next_for_annotator,
)
from tests.factories import AnnotationFactory, ProjectFactory, PromptFactory, annotator

pytestmark = pytest.mark.django_db

RANK = {"ranking": [["A"], ["B"]]}


@pytest.fixture
def project():
    return ProjectFactory(overlap=2, claim_timeout_minutes=30)


def prompts(project, n, k=2, **kwargs):
    return [PromptFactory(project=project, k=k, **kwargs) for _ in range(n)]


def take(project, user, now=None):
    claim = prompt_next_for_annotator(project=project, user=user, now=now)
    return claim and claim.prompt


def test_claim_has_prompt_expiry_and_stored_shuffled_order(project):
    (prompt,) = prompts(project, 1, k=5)
    alice = annotator("alice", project)
    now = timezone.now()
    claim = prompt_next_for_annotator(project=project, user=alice, now=now)
    assert claim.prompt == prompt
    assert claim.expires_at == now + timedelta(minutes=30)
    assert sorted(claim.shown_order) == ["A", "B", "C", "D", "E"]
    assert Claim.objects.get(user=alice).shown_order == claim.shown_order


def test_shown_order_is_shuffled_per_annotator(project):
    prompts(project, 1, k=9)
    orders = {
        tuple(prompt_next_for_annotator(project=project, user=annotator(f"u{i}", project),
                                        rng=random.Random(i)).shown_order)
        for i in range(2)
    }  # fmt: skip
    assert len(orders) == 2


def test_asking_again_returns_the_task_already_held(project):
    prompts(project, 3)
    alice = annotator("alice", project)
    first = prompt_next_for_annotator(project=project, user=alice)
    again = prompt_next_for_annotator(project=project, user=alice)
    assert again.pk == first.pk and again.prompt == first.prompt
    assert again.shown_order == first.shown_order
    assert Claim.objects.filter(user=alice).count() == 1


def test_prefers_prompts_closest_to_completion_then_oldest(project):
    project.overlap = 3
    project.save()
    old, half, _fresh = prompts(project, 3)
    AnnotationFactory(prompt=half, annotator=annotator("x", project))
    prompt_counters_refresh(prompt_ids=[half.pk])
    assert take(project, annotator("alice", project)) == half
    # with the same number missing, the oldest comes first
    assert take(project, annotator("bob", project)) == half
    assert take(project, annotator("carol", project)) == old


def test_raised_target_overlap_is_honoured_and_ordered_by_missing(project):
    # overlap 2; `raised` got 2 of 4, `plain` has 1 of 2: plain misses 1, raised misses 2
    raised, plain = prompts(project, 2)
    raised.target_overlap = 4
    raised.save()
    for name in ("r1", "r2"):
        AnnotationFactory(prompt=raised, annotator=annotator(name, project))
    AnnotationFactory(prompt=plain, annotator=annotator("p1", project))
    prompt_counters_refresh(project=project)
    assert take(project, annotator("alice", project)) == plain
    # plain is now full (1 submitted + alice's claim); raised still wants two more
    assert take(project, annotator("bob", project)) == raised
    assert take(project, annotator("carol", project)) == raised
    assert take(project, annotator("dave", project)) is None


def test_live_claims_fill_the_overlap_and_expired_ones_free_it(project):
    (prompt,) = prompts(project, 1)
    now = timezone.now()
    assert take(project, annotator("a", project), now) == prompt
    assert take(project, annotator("b", project), now) == prompt
    assert take(project, annotator("c", project), now) is None
    later = now + timedelta(minutes=31)
    assert take(project, annotator("c", project), later) == prompt


def test_never_the_same_prompt_twice_even_after_a_skip(project):
    first, second = prompts(project, 2)
    alice = annotator("alice", project)
    got = take(project, alice)
    annotation_skip(project=project, prompt=got, user=alice, reason="unclear")
    other = take(project, alice)
    assert other != got
    ranking_submit(project=project, prompt=other, user=alice, data=RANK)
    assert take(project, alice) is None
    assert set(Annotation.objects.filter(annotator=alice).values_list("prompt", flat=True)) == {
        first.pk, second.pk,
    }  # fmt: skip


def test_full_prompts_are_not_handed_out(project):
    (full,) = prompts(project, 1)
    for name in ("x", "y"):
        ranking_submit(project=project, prompt=full, user=annotator(name, project), data=RANK)
    assert take(project, annotator("alice", project)) is None


def test_skips_do_not_use_an_overlap_slot(project):
    (prompt,) = prompts(project, 1)
    annotation_skip(project=project, prompt=prompt, user=annotator("x", project), reason="nsfw")
    ranking_submit(project=project, prompt=prompt, user=annotator("y", project), data=RANK)
    assert take(project, annotator("alice", project)) == prompt


def test_stale_counter_is_repaired_under_the_lock(project):
    # A bulk writer added annotations without refreshing the counter: the queue must not
    # trust it (and fixes it on the way).
    (prompt,) = prompts(project, 1)
    for name in ("x", "y"):
        AnnotationFactory(prompt=prompt, annotator=annotator(name, project))
    assert Prompt.objects.get(pk=prompt.pk).submitted_count == 0
    assert take(project, annotator("alice", project)) is None
    assert Prompt.objects.get(pk=prompt.pk).submitted_count == 2


def test_prompt_counters_refresh_counts_judgements_not_skips(project):
    a, b = prompts(project, 2)
    AnnotationFactory(prompt=a, annotator=annotator("x", project))
    AnnotationFactory(prompt=a, annotator=annotator("y", project), skipped=True, ranking=[],
                      skip_reason="r")  # fmt: skip
    assert prompt_counters_refresh(prompt_ids=[a.pk, b.pk]) == 2
    assert dict(Prompt.objects.values_list("pk", "submitted_count")) == {a.pk: 1, b.pk: 0}
    with pytest.raises(ValueError):
        prompt_counters_refresh()


def test_non_member_is_refused(project):
    prompts(project, 1)
    outsider = annotator("outsider")
    with pytest.raises(SubmissionRefused) as exc:
        prompt_next_for_annotator(project=project, user=outsider)
    assert exc.value.code == "not_member"
    assert not Claim.objects.exists()


def test_gold_prompts_are_mixed_in_and_exempt_from_overlap(project):
    project.gold_rate = 1.0
    project.save()
    regular = prompts(project, 1)[0]
    gold = prompts(project, 1, is_gold=True, gold_ranking=[["A"], ["B"]])[0]
    users = [annotator(f"u{i}", project) for i in range(4)]
    # every annotator gets the gold prompt first, beyond the overlap of 2
    for user in users:
        assert take(project, user) == gold
        ranking_submit(project=project, prompt=gold, user=user, data=RANK)
    # then regular work; a gold prompt is never shown twice to one person
    assert take(project, users[0]) == regular


def test_gold_rate_zero_never_serves_gold(project):
    prompts(project, 1, is_gold=True)
    assert take(project, annotator("alice", project)) is None


def test_gold_share_follows_gold_rate(project):
    project.gold_rate = 0.25
    project.save()
    prompts(project, 60)
    prompts(project, 60, is_gold=True)
    alice = annotator("alice", project)
    rng = random.Random(7)
    gold_seen = 0
    for _ in range(40):
        claim = prompt_next_for_annotator(project=project, user=alice, rng=rng)
        gold_seen += claim.prompt.is_gold
        annotation_skip(project=project, prompt=claim.prompt, user=alice, reason="sampling")
    assert 4 <= gold_seen <= 18  # binomial(40, 0.25): mean 10, far outside +-3 sigma fails
