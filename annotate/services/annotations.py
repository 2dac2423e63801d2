"""Writing judgements: submit a ranking, skip a prompt, edit one's own annotation.

Every write validates with ``annotate.judgements.clean_judgement`` first (nothing is written for
bad input), then takes the annotator's membership lock and the prompt's row lock (see
``annotate.services.queue``) before checking the overlap, so concurrent submissions cannot
overshoot it. Each change leaves an AnnotationRevision with the full state, and marks the
prompt's consensus pending in the same transaction (the ``judgement.changed`` event, which
``agreement.services.incremental`` handles; see core.events).
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from annotate.judgements import (
    JUDGEMENT_FIELDS,
    JudgementError,
    JudgementRules,
    clean_judgement,
)
from annotate.models import Annotation, AnnotationRevision, Project, Prompt
from annotate.selectors import user_has_role
from annotate.services.queue import (
    SubmissionRefused,
    claim_release,
    claimed_shown_order,
    membership_lock,
    overlap_check,
    prompt_completion_ids,
    prompt_counter_set,
    prompt_lock,
    prompt_tally,
)
from core.events import JUDGEMENT_CHANGED, event_publish
from core.roles import Roles

__all__ = [
    "JudgementError",
    "SubmissionRefused",
    "annotation_skip",
    "annotation_update",
    "ranking_submit",
]


def _consensus_pending(prompt: Prompt) -> None:
    # agreement marks it in this transaction and recomputes it on the worker after the commit.
    event_publish(JUDGEMENT_CHANGED, prompt_id=prompt.pk, project_id=prompt.project_id)


def _state(annotation: Annotation) -> dict:
    return {name: getattr(annotation, name) for name in JUDGEMENT_FIELDS}


def _revision(annotation: Annotation, *, editor, action: str) -> None:
    AnnotationRevision.objects.create(
        annotation=annotation,
        editor=editor,
        action=action,
        state={"annotator": annotation.annotator.get_username(), **_state(annotation)},
    )


def _prompt_lock(prompt: Prompt) -> Prompt:
    locked = prompt_lock(prompt_id=prompt.pk)
    if locked is None:
        raise SubmissionRefused("no_prompt", "This prompt no longer exists.")
    return locked


def _submitted_now(prompt_id: int) -> int:
    return (
        Annotation.objects.filter(prompt_id=prompt_id, skipped=False)
        .exclude(source=Annotation.Source.MACHINE)
        .count()
    )


def _check_prompt(project: Project, prompt: Prompt) -> None:
    if prompt.project_id != project.pk:
        raise SubmissionRefused(
            "wrong_project", f"Prompt {prompt.external_id!r} is not in project {project.name!r}."
        )


def _annotation_create(
    *, project: Project, prompt: Prompt, user, cleaned: dict, source: str, now: datetime
) -> Annotation:
    with transaction.atomic():
        membership_lock(project=project, user=user)
        locked = _prompt_lock(prompt)
        tally = prompt_tally(prompt_id=locked.pk, now=now, user=user)
        if tally.user_done:
            raise SubmissionRefused(
                "already_annotated",
                "You already judged this prompt; change it under My annotations.",
            )
        if not cleaned["skipped"]:
            overlap_check(project=project, prompt=locked, user=user, now=now, tally=tally)
        if not cleaned["shown_order"]:
            # The letters the annotator saw are stored with the judgement (annotate.letters):
            # the claim's order, else the file order a claim-less client was given.
            cleaned["shown_order"] = claimed_shown_order(
                project=project, user=user, prompt_id=locked.pk
            ) or prompt_completion_ids(prompt=locked)
        annotation = Annotation.objects.create(
            prompt=locked, annotator=user, source=source, lineage=locked.priority_lineage,
            **cleaned,
        )  # fmt: skip
        _revision(annotation, editor=user, action=AnnotationRevision.Action.CREATED)
        if not cleaned["skipped"]:
            prompt_counter_set(prompt_id=locked.pk, submitted=tally.submitted + 1)
        claim_release(project=project, user=user, prompt_id=locked.pk)
        _consensus_pending(locked)
    return annotation


def ranking_submit(
    *, project: Project, prompt: Prompt, user, data: dict, source: str = "ui"
) -> Annotation:
    """Store the annotator's ranking of ``prompt``.

    ``data``: ranking (tie groups of completion ids, best first), ratings, flags, comment,
    time_ms, shown_order. Raises JudgementError (naming the field) for bad input, and
    SubmissionRefused with code ``not_member``, ``already_annotated``, ``overlap_full`` or
    ``wrong_project``; nothing is written in either case.
    """
    _check_prompt(project, prompt)
    if not isinstance(data, dict):
        raise JudgementError("data", "must be an object")
    judgement = {k: v for k, v in data.items() if k not in ("skipped", "skip_reason")}
    cleaned = clean_judgement(
        judgement, prompt_completion_ids(prompt=prompt), JudgementRules.for_project(project)
    )
    return _annotation_create(
        project=project, prompt=prompt, user=user, cleaned=cleaned, source=source,
        now=timezone.now(),
    )  # fmt: skip


def annotation_skip(
    *, project: Project, prompt: Prompt, user, reason: str, time_ms: int | None = None,
    source: str = "ui",
) -> Annotation:  # fmt: skip
    """Record that the annotator skipped ``prompt`` (with a reason); they never get it again."""
    _check_prompt(project, prompt)
    cleaned = clean_judgement(
        {"skipped": True, "skip_reason": reason, "time_ms": time_ms},
        prompt_completion_ids(prompt=prompt),
        JudgementRules.for_project(project),
    )
    return _annotation_create(
        project=project, prompt=prompt, user=user, cleaned=cleaned, source=source,
        now=timezone.now(),
    )  # fmt: skip


def _may_edit(annotation: Annotation, user) -> bool:
    if annotation.annotator_id == user.pk:
        return True
    return user_has_role(user=user, role=Roles.ADMIN) or user_has_role(
        user=user, role=Roles.REVIEWER
    )


def annotation_update(*, annotation: Annotation, user, data: dict) -> Annotation:
    """Change an annotation; fields missing from ``data`` keep their value.

    Sending a ranking to a skipped annotation turns it into a judgement (which needs a free
    overlap slot); sending ``skipped: true`` with a ``skip_reason`` withdraws a judgement.
    Each change keeps the previous state in an AnnotationRevision; an unchanged submission
    writes nothing.
    """
    if not _may_edit(annotation, user):
        raise SubmissionRefused("not_yours", "You can only change your own annotations.")
    if not isinstance(data, dict):
        raise JudgementError("data", "must be an object")
    unknown = sorted(set(data) - set(JUDGEMENT_FIELDS))
    if unknown:
        raise JudgementError(unknown[0], "is not a field of an annotation")
    prompt = annotation.prompt
    project = prompt.project
    merged = {**_state(annotation), **data}
    if "ranking" in data and "skipped" not in data:
        merged["skipped"] = False
    cleaned = clean_judgement(
        merged, prompt_completion_ids(prompt=prompt), JudgementRules.for_project(project)
    )
    with transaction.atomic():
        locked = _prompt_lock(prompt)
        current = Annotation.objects.select_for_update().get(pk=annotation.pk)
        changed = [name for name in JUDGEMENT_FIELDS if getattr(current, name) != cleaned[name]]
        if not changed:
            return current
        becomes_judgement = current.skipped and not cleaned["skipped"]
        if becomes_judgement:
            # Counts as a new submission: the annotator's own slot was given up by the skip.
            now = timezone.now()
            tally = prompt_tally(prompt_id=locked.pk, now=now, user=current.annotator)
            overlap_check(
                project=project, prompt=locked, user=current.annotator, now=now, tally=tally
            )
        for name in changed:
            setattr(current, name, cleaned[name])
        current.save(update_fields=[*changed, "updated_at"])
        _revision(current, editor=user, action=AnnotationRevision.Action.UPDATED)
        if "skipped" in changed:
            prompt_counter_set(prompt_id=locked.pk, submitted=_submitted_now(locked.pk))
        _consensus_pending(locked)
    return current
