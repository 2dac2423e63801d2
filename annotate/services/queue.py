"""The work queue: which prompt an annotator gets next, and the claim that reserves it.

Rules (see docs/queue.md in the report): a prompt is open while its non-skipped annotations
plus live claims are below its target overlap; an annotator never gets a prompt they annotated
or skipped; prompts closest to completion come first, then the oldest. Gold prompts are mixed
in at the project's ``gold_rate``; they are exempt from the overlap (every annotator may be
checked against them) but are never shown twice to one person.

Correctness under concurrency rests on two locks, both taken through ``annotate.db``:

* the annotator's Membership row, so one annotator's requests run one at a time;
* the Prompt row, taken by every transaction that adds a claim or a submission to it.

Holding the prompt's lock, a transaction re-counts its annotations and live claims from the
tables (not the denormalised counter), so the decision is made on committed truth. Claims skip
locked prompts (SKIP LOCKED), submissions wait for them. Expired claims need no sweeper: they
stop counting once ``expires_at`` passes.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import (
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Subquery,
    Value,
    prefetch_related_objects,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from annotate import db
from annotate.models import Annotation, Claim, Completion, Membership, Project, Prompt

# How many locked candidates one request may reject (stale counter, raced claim) before
# re-querying; each rejection also repairs the counter, so the next query is accurate.
MAX_CANDIDATE_ATTEMPTS = 20


class SubmissionRefused(Exception):
    """A request the queue's rules refuse; ``code`` is stable for clients, ``message`` for people."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def membership_lock(*, project: Project, user) -> Membership:
    """Lock the annotator's membership (one queue decision per annotator at a time)."""
    membership = db.row_lock(Membership.objects.filter(project=project, user=user))
    if membership is None:
        raise SubmissionRefused(
            "not_member", f"You are not a member of the project {project.name!r}."
        )
    return membership


@dataclass(frozen=True)
class Tally:
    submitted: int  # non-skipped annotations
    live_claims: int  # unexpired claims, not counting the user's own
    user_done: bool  # the user annotated or skipped it


def _count(queryset) -> Subquery:
    counted = queryset.order_by().values("prompt").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def prompt_tally(*, prompt_id: int, now: datetime, user) -> Tally:
    """A prompt's counts from the tables, in one query (call it holding the prompt's lock)."""
    row = (
        Prompt.objects.filter(pk=prompt_id)
        .values_list(
            _count(Annotation.objects.filter(prompt=OuterRef("pk"), skipped=False)),
            _count(
                Claim.objects.filter(prompt=OuterRef("pk"), expires_at__gt=now).exclude(user=user)
            ),
            Exists(Annotation.objects.filter(prompt=OuterRef("pk"), annotator=user)),
        )
        .first()
    )
    return Tally(*row) if row else Tally(0, 0, False)


def submitted_count(*, prompt_id: int) -> int:
    return Annotation.objects.filter(prompt_id=prompt_id, skipped=False).count()


def prompt_counters_refresh(*, prompt_ids: Iterable[int] | None = None, project=None) -> int:
    """Recompute ``Prompt.submitted_count`` from the Annotation table in one UPDATE.

    For bulk writers (the JSONL import, admin fixes) that add annotations without the queue's
    services. Pass the prompt ids written, or a project to refresh all its prompts. Returns
    the number of prompts updated.
    """
    counts = (
        Annotation.objects.filter(prompt=OuterRef("pk"), skipped=False)
        .order_by()
        .values("prompt")
        .annotate(n=Count("pk"))
        .values("n")
    )
    prompts = Prompt.objects.all()
    if project is not None:
        prompts = prompts.filter(project=project)
    if prompt_ids is None:
        if project is None:
            raise ValueError("pass prompt_ids or project")
        return prompts.update(submitted_count=Coalesce(Subquery(counts), 0))
    ids = list(prompt_ids)
    updated = 0
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        updated += prompts.filter(pk__in=chunk).update(
            submitted_count=Coalesce(Subquery(counts), 0)
        )
    return updated


def _live_claims_subquery(now: datetime):
    return _count(Claim.objects.filter(prompt=OuterRef("pk"), expires_at__gt=now))


def _unseen(project: Project, user, *, gold: bool):
    mine = Annotation.objects.filter(prompt=OuterRef("pk"), annotator=user)
    return Prompt.objects.filter(project=project, is_gold=gold).filter(~Exists(mine))


def _regular_candidates(project: Project, user, now: datetime, excluded: set[int]):
    """Two index-ordered lanes, each already in "fewest missing, then oldest" order.

    Prompts at the project's overlap (the vast majority) sort by submitted count, descending,
    which is the same order as "fewest missing" because they share one target; prompts whose
    target was raised for low agreement are few and sort by their own missing count.
    """
    unseen = _unseen(project, user, gold=False)
    if excluded:
        unseen = unseen.exclude(pk__in=excluded)
    live = _live_claims_subquery(now)
    at_overlap = (
        unseen.filter(target_overlap__isnull=True, submitted_count__lt=project.overlap)
        .alias(live=live)
        .filter(live__lt=project.overlap - F("submitted_count"))
        .order_by("-submitted_count", "id")
    )
    raised = (
        unseen.filter(target_overlap__isnull=False, submitted_count__lt=F("target_overlap"))
        .alias(live=live)
        .filter(live__lt=F("target_overlap") - F("submitted_count"))
        .order_by(F("target_overlap") - F("submitted_count"), "id")
    )
    return at_overlap, raised


def _missing(prompt: Prompt, project: Project) -> int:
    return prompt.overlap_target(project) - prompt.submitted_count


def _regular_pick(project: Project, user, now: datetime) -> Prompt | None:
    excluded: set[int] = set()
    for _ in range(MAX_CANDIDATE_ATTEMPTS):
        at_overlap, raised = _regular_candidates(project, user, now, excluded)
        # Both lanes lock their best row; the one not chosen is released at commit, moments
        # later, and other annotators skip it meanwhile, which costs them nothing.
        found = [p for p in (db.first_unlocked_row(raised), db.first_unlocked_row(at_overlap)) if p]
        if not found:
            return None
        prompt = min(found, key=lambda p: (_missing(p, project), p.pk))
        if _has_room(prompt, project, user, now):
            return prompt
        excluded.add(prompt.pk)
    return None


def _has_room(prompt: Prompt, project: Project, user, now: datetime) -> bool:
    """Re-check a locked prompt against the tables; repair its counter if it had drifted."""
    tally = prompt_tally(prompt_id=prompt.pk, now=now, user=user)
    if tally.submitted != prompt.submitted_count:
        prompt.submitted_count = tally.submitted
        prompt.save(update_fields=["submitted_count"])
    room = prompt.overlap_target(project) - tally.submitted - tally.live_claims
    return room > 0 and not tally.user_done


def _gold_pick(project: Project, user) -> Prompt | None:
    # Gold prompts are few and need no overlap slot, so no lock: a random unseen one, so
    # annotators cannot learn to spot them by position.
    return _unseen(project, user, gold=True).order_by("?").first()


def _shown_order(prompt: Prompt, rng: random.Random) -> list[str]:
    # Loads the completions into the prompt's prefetch cache: the caller renders them next.
    prefetch_related_objects(
        [prompt], Prefetch("completions", queryset=Completion.objects.order_by("position"))
    )
    ids = [c.external_id for c in prompt.completions.all()]
    rng.shuffle(ids)
    return ids


def prompt_next_for_annotator(
    *, project: Project, user, now: datetime | None = None, rng: random.Random | None = None
) -> Claim | None:
    """Claim the annotator's next task, or return the one they already hold; None when done.

    Raises SubmissionRefused("not_member") for users outside the project.
    """
    now = now or timezone.now()
    rng = rng or random.Random()
    with transaction.atomic():
        membership_lock(project=project, user=user)
        # The one claim row of this annotator here, live or expired (reused below).
        own = Claim.objects.filter(project=project, user=user).select_related("prompt").first()
        if (
            own is not None
            and own.is_live(now)
            # answered through another path (the API) meanwhile: the claim is spent
            and not Annotation.objects.filter(prompt_id=own.prompt_id, annotator=user).exists()
        ):
            return own
        picks = [lambda: _regular_pick(project, user, now)]
        if project.gold_rate > 0:
            gold = [lambda: _gold_pick(project, user)]
            picks = gold + picks if rng.random() < project.gold_rate else picks + gold
        prompt = None
        for pick in picks:
            prompt = pick()
            if prompt is not None:
                break
        if prompt is None:
            return None
        claim = own or Claim(project=project, user=user)
        claim.prompt = prompt
        claim.shown_order = _shown_order(prompt, rng)
        claim.claimed_at = now
        claim.expires_at = now + timedelta(minutes=project.claim_timeout_minutes)
        if own is None:
            claim.save()
        else:
            claim.save(update_fields=["prompt", "shown_order", "claimed_at", "expires_at"])
        return claim


def claim_release(*, project: Project, user, prompt: Prompt) -> None:
    """Drop the annotator's claim on ``prompt`` (after they submitted or skipped it)."""
    Claim.objects.filter(project=project, user=user, prompt=prompt).delete()


def overlap_check(*, project: Project, prompt: Prompt, user, now: datetime, tally: Tally) -> None:
    """Raise SubmissionRefused if one more submission would exceed the prompt's overlap.

    The caller holds the prompt's row lock and passes its fresh ``prompt_tally``. Others' live
    claims count as taken: they were promised a slot before this late submission arrived.
    """
    if prompt.is_gold:
        return
    target = prompt.overlap_target(project)
    submitted, others = tally.submitted, tally.live_claims
    if submitted + others >= target:
        held = Claim.objects.filter(project=project, user=user, prompt=prompt).first()
        why = (
            f"your claim expired at {timezone.localtime(held.expires_at):%H:%M} and "
            if held is not None and not held.is_live(now)
            else ""
        )
        raise SubmissionRefused(
            "overlap_full",
            f"This prompt already has the {target} annotations it needs ({why}"
            f"{submitted} submitted, {others} in progress by others). "
            "Nothing was saved; take the next task.",
        )
