"""The work queue: which prompt an annotator gets next, and the claim that reserves it.

Rules: a prompt is open while its non-skipped annotations plus live claims are below its
target overlap (``Prompt.target_overlap``, else the project's overlap); an annotator never gets
a prompt they annotated or skipped; prompts closest to completion (fewest missing annotations)
come first, then the oldest. Gold prompts are mixed in at the project's ``gold_rate``; they are
exempt from the overlap (every annotator may be checked against them) but are never shown twice
to one person.

Correctness under concurrency rests on two locks, both taken through ``core.db``:

* the annotator's Membership row, so one annotator's requests run one at a time;
* the Prompt row, taken by every transaction that adds a claim or a submission to it.

Holding the prompt's lock, a transaction re-counts its annotations and live claims from the
tables (a new statement, so a fresh snapshot of committed rows), not from the denormalised
counter, so the decision is made on committed truth. Claims skip locked prompts (SKIP LOCKED),
submissions wait for them. Expired claims need no sweeper: they stop counting once
``expires_at`` passes, and the annotator's next claim reuses the row.

The hot path is plain SQL (portable between PostgreSQL and SQLite; the lock clauses come from
``core.db``): the ORM's query compilation cost several times the database's own work here.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from annotate.models import Annotation, Claim, Completion, Project, Prompt
from core import db
from core.errors import ServiceError

# How many locked candidates one request may reject (stale counter, raced claim) before
# giving up; each rejection repairs the counter, so the next query is accurate.
MAX_CANDIDATE_ATTEMPTS = 20

# In the model's field order: Model.from_db maps a partial row by that order.
PROMPT_COLUMNS = (
    "id", "project_id", "external_id", "text", "messages", "html", "messages_html", "is_gold",
    "target_overlap", "submitted_count", "priority", "priority_lineage", "shown_ids",
)  # fmt: skip
_SELECT_PROMPT = "SELECT " + ", ".join(f"p.{c}" for c in PROMPT_COLUMNS) + " FROM annotate_prompt p"
_OPEN_FOR_USER = """
    p.project_id = %s AND p.is_gold = %s
    AND NOT EXISTS (SELECT 1 FROM annotate_annotation a
                    WHERE a.prompt_id = p.id AND a.annotator_id = %s)
"""
_LIVE_CLAIMS = (
    "(SELECT COUNT(*) FROM annotate_claim c WHERE c.prompt_id = p.id AND c.expires_at > %s)"
)
# Prompts at the project's overlap: one shared target, so "fewest missing" is "most
# submitted"; the partial index prompt_queue_idx walks them in exactly this order.
_AT_OVERLAP = f"""{_SELECT_PROMPT} WHERE {_OPEN_FOR_USER}
    AND p.target_overlap IS NULL AND p.submitted_count < %s
    AND {_LIVE_CLAIMS} < %s - p.submitted_count {{excluded}}
    ORDER BY {{first}}p.submitted_count DESC, p.id LIMIT 1"""
# The few prompts whose overlap was raised for low agreement, by their own missing count.
_RAISED = f"""{_SELECT_PROMPT} WHERE {_OPEN_FOR_USER}
    AND p.target_overlap IS NOT NULL AND p.submitted_count < p.target_overlap
    AND {_LIVE_CLAIMS} < p.target_overlap - p.submitted_count {{excluded}}
    ORDER BY {{first}}p.target_overlap - p.submitted_count, p.id LIMIT 1"""
_COMPLETIONS = "SELECT {columns} FROM annotate_completion WHERE prompt_id = %s ORDER BY position"
_TALLY = """SELECT
    (SELECT COUNT(*) FROM annotate_annotation WHERE prompt_id = %s AND skipped = %s
        AND source <> 'machine'),
    (SELECT COUNT(*) FROM annotate_claim WHERE prompt_id = %s AND expires_at > %s
        AND user_id <> %s),
    (SELECT COUNT(*) FROM annotate_annotation WHERE prompt_id = %s AND annotator_id = %s)"""


class SubmissionRefused(ServiceError):
    """A request the queue's rules refuse; ``code`` is stable for clients, ``message`` for people."""

    status = 409

    def __init__(self, code: str, message: str):
        super().__init__(message, code=code)


def membership_lock(*, project: Project, user) -> None:
    """Lock the annotator's membership (one queue decision per annotator at a time)."""
    sql = db.locking("SELECT id FROM annotate_membership WHERE project_id = %s AND user_id = %s")
    if db.fetch_one(sql, [project.pk, user.pk]) is None:
        raise SubmissionRefused(
            "not_member", f"You are not a member of the project {project.name!r}."
        )


def prompt_lock(*, prompt_id: int) -> Prompt | None:
    """The prompt, its row locked until the transaction ends (waits for other holders)."""
    row = db.fetch_one(db.locking(f"{_SELECT_PROMPT} WHERE p.id = %s"), [prompt_id])
    return _prompt_from_row(row) if row else None


@dataclass(frozen=True)
class Tally:
    submitted: int  # non-skipped annotations
    live_claims: int  # unexpired claims, not counting the user's own
    user_done: bool  # the user annotated or skipped it


def prompt_tally(*, prompt_id: int, now: datetime, user) -> Tally:
    """A prompt's counts from the tables, in one query (call it holding the prompt's lock)."""
    when = db.datetime_param(now)
    submitted, live, mine = db.fetch_one(
        _TALLY, [prompt_id, False, prompt_id, when, user.pk, prompt_id, user.pk]
    )
    return Tally(submitted, live, mine > 0)


def prompt_counters_refresh(*, prompt_ids: Iterable[int] | None = None, project=None) -> int:
    """Recompute ``Prompt.submitted_count`` from the Annotation table in one UPDATE.

    For bulk writers (the JSONL import, admin fixes) that add annotations without the queue's
    services. Pass the prompt ids written, or a project to refresh all its prompts. Returns
    the number of prompts updated.
    """
    counts = (
        Annotation.objects.filter(prompt=OuterRef("pk"), skipped=False)
        .exclude(source=Annotation.Source.MACHINE)  # machines take no human slot
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


def _prompt_from_row(row: tuple) -> Prompt:
    return db.model_from_row(Prompt, PROMPT_COLUMNS, row)


def prompt_counter_set(*, prompt_id: int, submitted: int) -> None:
    """Write the denormalised ``Prompt.submitted_count`` (the caller holds the prompt's lock)."""
    db.execute(
        "UPDATE annotate_prompt SET submitted_count = %s WHERE id = %s", [submitted, prompt_id]
    )


def _lane(sql: str, params: list, excluded: set[int], first: str) -> Prompt | None:
    clause = ""
    if excluded:
        clause = f"AND p.id NOT IN ({', '.join(['%s'] * len(excluded))})"
        params = [*params, *sorted(excluded)]
    sql = sql.format(excluded=clause, first=first)
    row = db.fetch_one(db.locking(sql, skip_locked=True), params)
    return _prompt_from_row(row) if row else None


def _missing(prompt: Prompt, project: Project) -> int:
    return prompt.overlap_target(project) - prompt.submitted_count


def _regular_pick(
    project: Project, user, now: datetime, excluded: set[int] | None = None
) -> Prompt | None:
    when = db.datetime_param(now)
    base = [project.pk, False, user.pk]
    excluded = set(excluded or ())
    # By stored priority (random, uncertainty) the main lane walks prompt_priority_idx.
    first = "" if project.priority == Project.Priority.FIFO else "p.priority DESC, "
    for _ in range(MAX_CANDIDATE_ATTEMPTS):
        # Both lanes lock their best row; the one not chosen is released at commit, moments
        # later, and other annotators skip it meanwhile, which costs them nothing.
        found = [
            p
            for p in (
                _lane(_RAISED, [*base, when], excluded, first),
                _lane(
                    _AT_OVERLAP, [*base, project.overlap, when, project.overlap], excluded, first
                ),
            )
            if p is not None
        ]
        if not found:
            return None
        prompt = min(found, key=lambda p: (-p.priority if first else 0, _missing(p, project), p.pk))
        if _has_room(prompt, project, user, now):
            return prompt
        excluded.add(prompt.pk)
    return None


def _has_room(prompt: Prompt, project: Project, user, now: datetime) -> bool:
    """Re-check a locked prompt against the tables; repair its counter if it had drifted."""
    tally = prompt_tally(prompt_id=prompt.pk, now=now, user=user)
    if tally.submitted != prompt.submitted_count:
        prompt.submitted_count = tally.submitted
        prompt_counter_set(prompt_id=prompt.pk, submitted=tally.submitted)
    room = prompt.overlap_target(project) - tally.submitted - tally.live_claims
    return room > 0 and not tally.user_done


def _gold_pick(project: Project, user) -> Prompt | None:
    # Gold prompts are few and need no overlap slot, so no lock: a random unseen one, so
    # annotators cannot learn to spot them by position.
    rows = db.fetch_all(f"{_SELECT_PROMPT} WHERE {_OPEN_FOR_USER}", [project.pk, True, user.pk])
    return _prompt_from_row(random.choice(rows)) if rows else None


def prompt_completions(*, prompt: Prompt) -> list[Completion]:
    """The prompt's completions in file order, cached on it (the page renders them next)."""
    cached = getattr(prompt, "_queue_completions", None)
    if cached is None:
        fields = ("id", "prompt_id", "external_id", "position", "text", "html")
        rows = db.fetch_all(_COMPLETIONS.format(columns=", ".join(fields)), [prompt.pk])
        cached = [db.model_from_row(Completion, fields, row) for row in rows]
        if prompt.shown_ids:  # the K the model chose to show (loop.services)
            cached = [c for c in cached if c.external_id in prompt.shown_ids]
        prompt._queue_completions = cached
    return cached


def prompt_completion_ids(*, prompt: Prompt) -> list[str]:
    """The completions' ids in file order (from the cache when the queue loaded them)."""
    cached = getattr(prompt, "_queue_completions", None)
    if cached is not None:
        return [c.external_id for c in cached]
    rows = db.fetch_all(_COMPLETIONS.format(columns="external_id"), [prompt.pk])
    shown = prompt.shown_ids  # a model chose K of them to show (Project.shown_k)
    return [row[0] for row in rows if not shown or row[0] in shown]


def _claim_row(project: Project, user) -> tuple | None:
    return db.fetch_one(
        f"SELECT {', '.join(_CLAIM_COLUMNS)} FROM annotate_claim "
        "WHERE project_id = %s AND user_id = %s",
        [project.pk, user.pk],
    )


_CLAIM_COLUMNS = ("id", "prompt_id", "shown_order", "claimed_at", "expires_at")


def _claim_from_row(project: Project, user, row: tuple) -> Claim:
    """A Claim from ``_CLAIM_COLUMNS`` values, in ``project`` for ``user``."""
    fields = ("project_id", "user_id", *_CLAIM_COLUMNS)
    return db.model_from_row(Claim, fields, (project.pk, user.pk, *row))


def _held(project: Project, user, row: tuple, now: datetime) -> Claim | None:
    """The annotator's live, unanswered claim as a Claim with its prompt, else None."""
    prompt_id = row[1]
    claim = _claim_from_row(project, user, row)
    if not claim.is_live(now):
        return None
    done = db.fetch_one(
        "SELECT 1 FROM annotate_annotation WHERE prompt_id = %s AND annotator_id = %s",
        [prompt_id, user.pk],
    )
    if done:
        return None  # answered through another path (the API) meanwhile: the claim is spent
    claim.prompt = _prompt_from_row(db.fetch_one(f"{_SELECT_PROMPT} WHERE p.id = %s", [prompt_id]))
    return claim


def _shown_order(prompt: Prompt, user, rng: random.Random, *, preferred: bool) -> list[str]:
    """The annotator's order of the outputs (labels A, B, ...). A prefetched prompt's order is
    derived from (annotator, prompt), so the claim shows the letters the preview showed."""
    order = [c.external_id for c in prompt_completions(prompt=prompt)]
    (random.Random(f"{user.pk}:{prompt.pk}") if preferred else rng).shuffle(order)
    return order


def _preferred_pick(project: Project, user, now: datetime, prompt_id: int) -> Prompt | None:
    """The prefetched prompt, if it is still open to the annotator (else the usual pick)."""
    row = db.fetch_one(
        db.locking(f"{_SELECT_PROMPT} WHERE p.id = %s AND p.project_id = %s AND p.is_gold = %s",
                   skip_locked=True),
        [prompt_id, project.pk, False],
    )  # fmt: skip
    if row is None:
        return None
    prompt = _prompt_from_row(row)
    return prompt if _has_room(prompt, project, user, now) else None


def prompt_next_for_annotator(
    *,
    project: Project,
    user,
    now: datetime | None = None,
    rng: random.Random | None = None,
    prefer: int | None = None,
) -> Claim | None:
    """Claim the annotator's next task, or return the one they already hold; None when done.

    ``prefer``: a prompt id from ``prompt_peek_for_annotator``, claimed if it is still open to
    the annotator (gold prompts still come in at the project's rate before it).
    The Claim's ``prompt`` is loaded, ``prompt_completions(claim.prompt)`` costs no query.
    Raises SubmissionRefused("not_member") for users outside the project.
    """
    now = now or timezone.now()
    rng = rng or random.Random()
    with transaction.atomic():
        membership_lock(project=project, user=user)
        # The one claim row of this annotator here, live or expired (reused below).
        row = _claim_row(project, user)
        held = _held(project, user, row, now) if row else None
        if held is not None:
            return held
        picks = [lambda: _regular_pick(project, user, now)]
        if prefer is not None:
            picks.insert(0, lambda: _preferred_pick(project, user, now, prefer))
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
        shown_order = _shown_order(prompt, user, rng, preferred=prompt.pk == prefer)
        expires_at = now + timedelta(minutes=project.claim_timeout_minutes)
        if row is None:
            claim = Claim.objects.create(
                project=project, user=user, prompt=prompt, shown_order=shown_order,
                claimed_at=now, expires_at=expires_at,
            )  # fmt: skip
        else:
            db.execute(
                "UPDATE annotate_claim SET prompt_id = %s, shown_order = %s, claimed_at = %s, "
                "expires_at = %s WHERE id = %s",
                [prompt.pk, db.json_param(shown_order), db.datetime_param(now),
                 db.datetime_param(expires_at), row[0]],
            )  # fmt: skip
            claim = _claim_from_row(
                project, user, (row[0], prompt.pk, shown_order, now, expires_at)
            )
        claim.prompt = prompt
        return claim


def claim_release(*, project: Project, user, prompt_id: int) -> None:
    """Drop the annotator's claim on the prompt (after they submitted or skipped it)."""
    db.execute(
        "DELETE FROM annotate_claim WHERE project_id = %s AND user_id = %s AND prompt_id = %s",
        [project.pk, user.pk, prompt_id],
    )


def claimed_shown_order(*, project: Project, user, prompt_id: int) -> list[str]:
    row = db.fetch_one(
        "SELECT shown_order FROM annotate_claim "
        "WHERE project_id = %s AND user_id = %s AND prompt_id = %s",
        [project.pk, user.pk, prompt_id],
    )
    return list(db.json_value(row[0])) if row else []


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
