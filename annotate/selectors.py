"""Read-side queries of the annotate app."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from annotate.constants import Roles
from annotate.models import Project


def user_has_role(user, role: str) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    return user.groups.filter(name=role).exists()


def project_list_for_user(user) -> QuerySet[Project]:
    """Admins see every project; everyone else the projects they are a member of."""
    projects = Project.objects.all()
    if not (user.is_superuser or user_has_role(user, Roles.ADMIN)):
        projects = projects.filter(memberships__user=user)
    return projects.annotate(
        prompt_count=Count("prompts", distinct=True),
        annotation_count=Count(
            "prompts__annotations", filter=Q(prompts__annotations__skipped=False), distinct=True
        ),
    ).order_by("name")
