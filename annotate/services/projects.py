from __future__ import annotations

from django.db import transaction
from django.utils.text import slugify

from annotate.models import Project


def project_create(*, name: str, slug: str | None = None, **settings) -> Project:
    project = Project(name=name, slug=slug or slugify(name), **settings)
    project.full_clean()
    project.save()
    return project


@transaction.atomic
def project_get_or_create(
    *, slug: str, name: str | None = None, **settings
) -> tuple[Project, bool]:
    project = Project.objects.filter(slug=slug).first()
    if project is not None:
        return project, False
    return project_create(name=name or slug.replace("-", " ").title(), slug=slug, **settings), True
