"""The annotator's reservation beyond the claim itself: extending it, and a preview of the
task that comes after it (the ranking page fetches it while the current one is judged, and
the submit claims it with ``prefer=``; see annotate.services.queue for the claim rules)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from annotate.models import Claim, Project
from annotate.services.queue import (
    SubmissionRefused,
    _claim_row,
    _held,
    _regular_pick,
    _shown_order,
    membership_lock,
    prompt_lock,
    prompt_tally,
)
from core import db


def prompt_peek_for_annotator(
    *, project: Project, user, now: datetime | None = None
) -> Claim | None:
    """The task the annotator will most likely get after the one they hold, without claiming
    it: the page shows it the moment the current one is submitted, and the submit claims it
    (``prefer=``) if nobody filled it meanwhile. An unsaved Claim (no reservation); None when
    nothing else is open. Gold prompts are never previewed (they come in at their rate)."""
    now = now or timezone.now()
    with transaction.atomic():
        membership_lock(project=project, user=user)
        row = _claim_row(project, user)
        held = {row[1]} if row and _held(project, user, row, now) is not None else set()
        prompt = _regular_pick(project, user, now, excluded=held)
        if prompt is None:
            return None
        order = _shown_order(prompt, user, random.Random(), preferred=True)
        claim = Claim(project=project, user=user, prompt=prompt, shown_order=order,
                      claimed_at=None, expires_at=None)  # fmt: skip
        return claim


def claim_extend(*, project: Project, user, prompt_id: int, now: datetime | None = None) -> Claim:
    """Give the annotator's reservation of the prompt another claim timeout from now.

    A live claim is simply extended. One that ran out is taken again if the prompt still has
    room for the annotator (nobody filled the slot meanwhile); otherwise SubmissionRefused
    ("claim_lost"), and the page says the work can no longer be submitted there.
    """
    now = now or timezone.now()
    with transaction.atomic():
        membership_lock(project=project, user=user)
        row = _claim_row(project, user)
        if row is None or row[1] != prompt_id:
            raise SubmissionRefused(
                "no_claim", "You do not hold this task (any more); take the next task."
            )
        prompt = prompt_lock(prompt_id=prompt_id)
        held = _held(project, user, row, now)
        if held is None:
            tally = prompt_tally(prompt_id=prompt_id, now=now, user=user)
            full = not prompt.is_gold and (
                prompt.overlap_target(project) - tally.submitted - tally.live_claims <= 0
            )
            if tally.user_done or full:
                raise SubmissionRefused(
                    "claim_lost",
                    "Your reservation ran out and the prompt got the annotations it needed "
                    "from others meanwhile. Nothing of yours was saved; take the next task.",
                )
            held = _held(project, user, (*row[:4], now + timedelta(seconds=1)), now)
        expires_at = now + timedelta(minutes=project.claim_timeout_minutes)
        db.execute(
            "UPDATE annotate_claim SET expires_at = %s WHERE id = %s",
            [db.datetime_param(expires_at), row[0]],
        )
        held.expires_at = expires_at
        return held
