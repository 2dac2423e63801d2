from __future__ import annotations

from django.db import transaction
from django.utils.text import slugify

from annotate.models import Project
from core.services import audit_event_record

# What an audit event records of a project's settings (everything an admin can change).
AUDITED_SETTINGS = (
    "name", "slug", "instructions", "ties_allowed", "require_all_placed", "rating_scale",
    "flags", "overlap", "max_overlap", "agreement_threshold", "gold_rate",
    "claim_timeout_minutes", "judging_mode", "strength_levels", "gap_levels", "dimensions",
    "rationale",
)  # fmt: skip


def project_settings(*, project: Project) -> dict:
    return {name: getattr(project, name) for name in AUDITED_SETTINGS}


@transaction.atomic
def project_create(*, name: str, slug: str | None = None, actor=None, **settings) -> Project:
    project = Project(name=name, slug=slug or slugify(name), **settings)
    project.full_clean()
    project.save()
    audit_event_record(action="project.create", obj=project, project=project, actor=actor,
                       after=project_settings(project=project))  # fmt: skip
    return project


@transaction.atomic
def project_get_or_create(
    *, slug: str, name: str | None = None, actor=None, **settings
) -> tuple[Project, bool]:
    project = Project.objects.filter(slug=slug).first()
    if project is not None:
        return project, False
    name = name or slug.replace("-", " ").title()
    return project_create(name=name, slug=slug, actor=actor, **settings), True
