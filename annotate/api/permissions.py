"""Who may call what: roles (Django groups) and project membership.

Other apps' APIs import these. The rules:

* Unauthenticated requests get 401 (IsAuthenticated, token auth's WWW-Authenticate).
* Project-scoped views (URL has ``<slug:slug>``) list ``ProjectMember`` first: a project the
  user is not a member of is 404, so its existence does not leak. Admins are members of all.
* ``RolePermission`` then checks the view's ``required_roles`` for the request method: 403 if
  the user holds none of them. Admins (group or superuser) pass every role check.

Usage::

    class RunList(ProjectScopedMixin, APIView):
        permission_classes = [IsAuthenticated, ProjectMember, RolePermission]
        required_roles = {"GET": (Roles.ML_ENGINEER,), "POST": (Roles.ADMIN,)}
"""

from __future__ import annotations

from collections.abc import Iterable

from rest_framework.exceptions import NotFound
from rest_framework.permissions import BasePermission, IsAuthenticated

from annotate.constants import Roles
from annotate.models import Project

__all__ = [
    "IsAdmin",
    "IsAuthenticated",
    "ProjectMember",
    "ProjectScopedMixin",
    "RolePermission",
    "has_any_role",
    "project_visible_get",
    "roles_of",
]


def roles_of(user) -> frozenset[str]:
    """The user's roles, cached on the user object for the rest of the request."""
    if not user or not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_rankwise_roles", None)
    if cached is None:
        if user.is_superuser:
            cached = frozenset(Roles.ALL)
        else:
            cached = frozenset(
                user.groups.filter(name__in=Roles.ALL).values_list("name", flat=True)
            )
        user._rankwise_roles = cached
    return cached


def has_any_role(user, roles: Iterable[str]) -> bool:
    held = roles_of(user)
    return Roles.ADMIN in held or bool(held.intersection(roles))


def project_visible_get(user, slug: str) -> Project | None:
    """The project if the user may see it: admins every project, others their memberships.

    Deliberately lighter than ``project_list_for_user`` (no counts): it runs on every request.
    """
    projects = Project.objects.filter(slug=slug)
    if Roles.ADMIN not in roles_of(user):
        projects = projects.filter(memberships__user=user)
    return projects.first()


class RolePermission(BasePermission):
    """The view's ``required_roles``: a tuple for every method, or {method: tuple}.

    ``{"*": ...}`` is the fallback for methods not listed; HEAD and OPTIONS follow GET.
    """

    message = "Your role does not allow this."

    def has_permission(self, request, view) -> bool:
        required = getattr(view, "required_roles", None)
        if required is None:
            raise AttributeError(
                f"{type(view).__name__} lists RolePermission but no required_roles"
            )
        if isinstance(required, dict):
            method = "GET" if request.method in ("HEAD", "OPTIONS") else request.method
            required = required.get(method, required.get("*", ()))
        return has_any_role(request.user, required)


class IsAdmin(BasePermission):
    message = "Only admins may do this."

    def has_permission(self, request, view) -> bool:
        return Roles.ADMIN in roles_of(request.user)


class ProjectScopedMixin:
    """Resolves ``self.project`` from the URL's slug among the projects the user may see."""

    project_url_kwarg = "slug"

    def get_project(self) -> Project:
        if not hasattr(self, "_project"):
            slug = self.kwargs[self.project_url_kwarg]
            project = project_visible_get(self.request.user, slug)
            if project is None:
                raise NotFound("No such project, or you are not a member of it.")
            self._project = project
        return self._project

    @property
    def project(self) -> Project:
        return self.get_project()


class ProjectMember(BasePermission):
    """404 unless the user is a member of the URL's project (admins see every project)."""

    def has_permission(self, request, view) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        view.get_project()  # raises NotFound for non-members
        return True
