"""Read-side queries of the annotate app."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery, TextField
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from annotate.models import Annotation, ImportJob, Membership, Project, Prompt
from core import db
from core.filters import queryset_filter
from core.policy import roles_of
from core.roles import Roles


def prompts_open_q(*, project: Project) -> Q:
    """Regular prompts of ``project`` that still want annotations (claims aside)."""
    return Q(project=project, is_gold=False) & (
        Q(target_overlap__isnull=True, submitted_count__lt=project.overlap)
        | Q(target_overlap__isnull=False, submitted_count__lt=F("target_overlap"))
    )


def user_has_role(*, user, role: str) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    return user.groups.filter(name=role).exists()


def project_list_for_user(*, user) -> QuerySet[Project]:
    """Admins see every project; everyone else the projects they are a member of."""
    projects = Project.objects.all()
    if not (user.is_superuser or user_has_role(user=user, role=Roles.ADMIN)):
        projects = projects.filter(memberships__user=user)
    return projects.annotate(
        prompt_count=Count("prompts", distinct=True),
        annotation_count=Count(
            "prompts__annotations", filter=Q(prompts__annotations__skipped=False), distinct=True
        ),
    ).order_by("name")


def project_visible_get(*, user, slug: str) -> Project | None:
    """The project if the user may see it: admins every project, others their memberships.

    Deliberately lighter than ``project_list_for_user`` (no counts): it runs on every request,
    so it is one plain query; compiling the ORM's join cost more CPU than the rest of the
    permission check.
    """
    if Roles.ADMIN in roles_of(user):
        return db.model_get(Project, "t.slug = %s", [slug])
    return db.model_get(
        Project,
        f"t.slug = %s AND EXISTS (SELECT 1 FROM {Membership._meta.db_table} m "
        "WHERE m.project_id = t.id AND m.user_id = %s)",
        [slug, user.pk],
    )


def project_ids_for_member(*, user) -> QuerySet | None:
    """The ids of the user's projects, as a subquery; None for admins, who see every project.

    Objects reached through a project (snapshots, runs, models, generations) are filtered with
    it, so a list holds only the user's projects' objects and a lookup by id finds no other.
    """
    if user.is_superuser or user_has_role(user=user, role=Roles.ADMIN):
        return None
    return Project.objects.filter(memberships__user=user).values("pk")


def annotation_list_for_annotator(*, user, project: Project | None = None) -> QuerySet[Annotation]:
    """The user's own annotations, newest change first (never anyone else's: overlap is blind)."""
    annotations = Annotation.objects.filter(annotator=user)
    if project is not None:
        annotations = annotations.filter(prompt__project=project)
    return annotations.select_related("prompt", "prompt__project").order_by("-updated_at", "-id")


def annotation_get_for_annotator(*, user, pk: int) -> Annotation | None:
    """One of the user's own annotations, in a project they are (still) a member of."""
    annotations = annotation_list_for_annotator(user=user).filter(pk=pk)
    mine = project_ids_for_member(user=user)
    if mine is not None:
        annotations = annotations.filter(prompt__project__in=mine)
    return annotations.first()


def queue_progress(*, project: Project, user, now: datetime | None = None) -> dict:
    """Counts for the annotator's progress line.

    done_today and done_in_project count judgements and skips (both are finished tasks);
    remaining_in_queue counts regular prompts that still want annotations and that this
    annotator has not done (claims by others aside, so it may shrink faster than one's own work).
    """
    now = now or timezone.now()
    mine = Annotation.objects.filter(annotator=user, prompt__project=project)
    start_of_day = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    open_prompts = Prompt.objects.filter(prompts_open_q(project=project))
    done_on_open = mine.filter(prompt__in=open_prompts).count()
    return {
        "done_today": mine.filter(created_at__gte=start_of_day).count(),
        "done_in_project": mine.count(),
        "skipped_in_project": mine.filter(skipped=True).count(),
        "remaining_in_queue": max(0, open_prompts.count() - done_on_open),
    }


def project_stats(*, project: Project) -> dict:
    """Cheap totals for a project page (no join over every annotation per prompt)."""
    prompts = Prompt.objects.filter(project=project)
    return {
        "prompts": prompts.count(),
        "gold_prompts": prompts.filter(is_gold=True).count(),
        "judgements": Annotation.objects.filter(prompt__project=project, skipped=False).count(),
        "complete_prompts": prompts.filter(is_gold=False)
        .exclude(prompts_open_q(project=project))
        .count(),
    }


def prompt_in_project(*, project: Project, prompt_id: int) -> Prompt | None:
    if not 0 < prompt_id < 2**63:  # a URL's <int:...> takes any digits; raw SQL would overflow
        return None
    fields = ("id", "project_id", "external_id", "is_gold")
    row = db.fetch_one(
        f"SELECT {', '.join(fields)} FROM annotate_prompt WHERE id = %s AND project_id = %s",
        [prompt_id, project.pk],
    )
    return None if row is None else db.model_from_row(Prompt, fields, row)


def import_jobs_for_project(*, project: Project) -> QuerySet[ImportJob]:
    return ImportJob.objects.filter(project=project).select_related("project", "created_by")


def prompt_list_for_project(
    *,
    project: Project,
    external_id: str | None = None,
    is_gold: bool | None = None,
    annotated: bool | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> QuerySet[Prompt]:
    """The project's prompts with ``annotation_count`` (rankings, not skips), filtered."""
    ranked = Annotation.objects.filter(prompt=OuterRef("pk"), skipped=False)
    count = ranked.order_by().values("prompt").annotate(n=Count("*")).values("n")
    prompts = (
        Prompt.objects.filter(project=project)
        .annotate(annotation_count=Coalesce(Subquery(count), 0))
        .prefetch_related("completions")
    )
    if annotated is not None:
        prompts = prompts.filter(Exists(ranked) if annotated else ~Exists(ranked))
    return queryset_filter(
        prompts, external_id=external_id, is_gold=is_gold, created_at__gte=created_after,
        created_at__lt=created_before,
    )  # fmt: skip


def flag_q(*, key: str) -> Q:
    """Annotations whose flags {completion: [keys]} list ``key`` for any completion.

    Matched on the JSON text, where a flag is always followed by ',' or ']' and a completion
    id (an object key) by ':'; flag keys are [a-z0-9_], so no escaping can interfere.
    """
    return Q(flags_text__contains=f'"{key}",') | Q(flags_text__contains=f'"{key}"]')


def annotation_list_for_project(
    *,
    project: Project,
    annotator: str | None = None,
    prompt: int | None = None,
    prompt_external_id: str | None = None,
    skipped: bool | None = None,
    source: str | None = None,
    flag: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> QuerySet[Annotation]:
    """The project's annotations, filtered (``annotator`` is a username, ``prompt`` an id)."""
    annotations = Annotation.objects.filter(prompt__project=project).select_related(
        "prompt", "annotator"
    )
    if flag:
        annotations = annotations.annotate(flags_text=Cast("flags", TextField())).filter(
            flag_q(key=flag)
        )
    return queryset_filter(
        annotations, annotator__username=annotator, prompt_id=prompt,
        prompt__external_id=prompt_external_id, skipped=skipped, source=source,
        created_at__gte=created_after, created_at__lt=created_before,
    )  # fmt: skip


def project_slugs_for_member(*, user) -> QuerySet:
    """Slugs of the projects ``user`` is a member of, in order."""
    return (
        Membership.objects.filter(user=user).order_by("project__slug")
        .values_list("project__slug", flat=True)
    )  # fmt: skip


def project_member_is(*, project: Project, user) -> bool:
    return project.memberships.filter(user=user).exists()


def simulated_annotator_names(*, project: Project) -> set[str]:
    """Usernames whose judgements in the project are simulated (agreement.simulation): every
    page that names annotators labels them."""
    return set(
        Annotation.objects.filter(prompt__project=project, source=Annotation.Source.SIMULATED)
        .order_by()
        .values_list("annotator__username", flat=True)
        .distinct()
    )
