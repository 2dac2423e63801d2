"""The REST API's side of the one permission table (``core.policy``).

``PolicyPermission`` is DRF's default permission class (settings ``REST_FRAMEWORK``) and the
schema views' (``SPECTACULAR_SETTINGS["SERVE_PERMISSIONS"]``): every API view is governed by
the URL's rule in ``core.policy.RULES``, so a view declares no roles of its own.

* not signed in: 401 (with token auth's ``WWW-Authenticate``);
* a project URL (``<slug:slug>``) of a project the user is not a member of: 404, whatever the
  role and before the body is read; ``self.project`` is the project for the rest;
* a member without a role the rule lists for the method: 403.

A new view needs a rule for its URL name (a missing one is ImproperlyConfigured: nothing is
open by default) and a row in tests/api/permission_matrix.py.
"""

from __future__ import annotations

from rest_framework.exceptions import NotFound
from rest_framework.permissions import BasePermission

from core.policy import (
    NOT_FOUND,
    has_any_role,
    policy_check,
    project_visible_get,
    roles_of,
    rule_for,
)

__all__ = [
    "PolicyPermission",
    "ProjectScopedMixin",
    "has_any_role",
    "project_visible_get",
    "roles_of",
]


class PolicyPermission(BasePermission):
    def has_permission(self, request, view) -> bool:
        match = request.resolver_match
        view_name = match.view_name if match else None
        methods = [request.method]
        if request.method == "OPTIONS":  # DRF's metadata: for whoever may use any method
            methods = list(rule_for(view_name)) or ["GET"]
        verdicts = [
            policy_check(user=request.user, view_name=view_name, method=m, kwargs=view.kwargs)
            for m in methods
        ]
        verdict = next((v for v in verdicts if v.allowed), verdicts[0])
        if verdict.status == 405:
            return True  # DRF answers 405 itself, after authentication
        if verdict.status == 404:
            raise NotFound(verdict.message)
        if verdict.allowed:
            if verdict.project is not None:
                view._project = verdict.project
            return True
        self.message = verdict.message
        return False  # DRF: 401 when not signed in, else 403 with the message


class ProjectScopedMixin:
    """``self.project``: the URL's project, as the policy found it (404 for non-members)."""

    project_url_kwarg = "slug"

    def get_project(self):
        if not hasattr(self, "_project"):
            project = project_visible_get(self.request.user, self.kwargs[self.project_url_kwarg])
            if project is None:
                raise NotFound(NOT_FOUND)
            self._project = project
        return self._project

    @property
    def project(self):
        return self.get_project()
