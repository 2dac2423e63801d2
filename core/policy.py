"""Who may do what: one table for every URL, the pages and the REST API alike.

``RULES`` maps each URL name to who may use each of its methods. The API consults it through
``core.api.permissions.PolicyPermission`` (DRF's default permission class), the pages
through the ``policy_page`` decorator; both call ``policy_check``, which decides in this order:

1. a URL name without a rule is a bug (ImproperlyConfigured): nothing is open by default;
2. a method the rule does not list: 405;
3. ``PUBLIC``: anyone, signed in or not;
4. not signed in: 401 (pages: to the login page);
5. a URL with a project (``<slug:slug>``): 404 unless the user is a member (admins are members
   of every project), the same answer as for a project that does not exist, and before any
   role or payload is looked at, so nothing about the project leaks;
6. the roles the rule lists for the method (admins pass every role): 403 for anyone else.

Objects reached through a project by id (a training run, a snapshot, a reward model, one's own
annotation) are scoped by the selectors that fetch them: an object of a project the user is not
in is not found (404), and lists hold only the user's projects' objects.

Admins may judge (claim, submit, skip, edit their own judgements) in the projects they are
members of, like annotators: the work queue refuses anyone who is not a member. See
docs/api.md, "Roles and membership", for the table in prose.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db import connection
from django.http import Http404, HttpResponseNotAllowed

from core.roles import Roles

PUBLIC = "public"  # anyone, signed in or not
SIGNED_IN = "signed in"  # any signed-in user; on a project's URL, any member

ANY_ROLE = frozenset(Roles.ALL)  # any role at all (an account with none sees no project)
ANNOTATE = frozenset({Roles.ANNOTATOR})
REVIEW = frozenset({Roles.REVIEWER})
TRAIN = frozenset({Roles.ML_ENGINEER})
ADMIN = frozenset({Roles.ADMIN})
REPORT = frozenset({Roles.REVIEWER, Roles.ML_ENGINEER})

Access = str | frozenset

# URL name -> {method: who}. HEAD follows GET; the API answers OPTIONS to whoever may use any
# of the URL's methods (core.api.permissions).
RULES: dict[str, Mapping[str, Access]] = {
    # --- pages ---------------------------------------------------------------------------------
    "home": {"GET": SIGNED_IN},
    "healthz": {"GET": PUBLIC},
    "login": {"GET": PUBLIC, "POST": PUBLIC},
    "logout": {"POST": PUBLIC},
    "annotate:project-detail": {"GET": ANY_ROLE},
    "annotate:annotate": {"GET": ANNOTATE},
    "annotate:my-annotations": {"GET": ANNOTATE},
    "annotate:annotation-edit": {"GET": ANNOTATE},
    "agreement:dashboard": {"GET": REVIEW},
    "agreement:recompute": {"POST": REVIEW},
    "agreement:review-queue": {"GET": REVIEW},
    "agreement:review-prompt": {"GET": REVIEW},
    "loop:panel": {"GET": REPORT},
    "training:run-list": {"GET": TRAIN},
    "training:run-detail": {"GET": TRAIN},
    "training:run-new": {"GET": TRAIN, "POST": TRAIN},
    "training:run-new-snapshot": {"POST": ADMIN},
    # --- the schema and its viewers ------------------------------------------------------------
    "api-schema": {"GET": SIGNED_IN},
    "api-docs": {"GET": SIGNED_IN},
    "api-redoc": {"GET": SIGNED_IN},
    # --- /api/v1/: accounts --------------------------------------------------------------------
    "api:login": {"GET": PUBLIC, "POST": PUBLIC},
    "api:logout": {"POST": SIGNED_IN},
    "api:auth-token": {"POST": PUBLIC},
    "api:me": {"GET": SIGNED_IN},
    "api:user-list": {"GET": ADMIN, "POST": ADMIN},
    "api:user-detail": {"GET": ADMIN, "PATCH": ADMIN},
    "api:user-token": {"POST": ADMIN, "DELETE": ADMIN},
    # --- projects, prompts, annotations --------------------------------------------------------
    "api:project-list": {"GET": ANY_ROLE, "POST": ADMIN},
    "api:project-detail": {"GET": ANY_ROLE, "PATCH": ADMIN, "DELETE": ADMIN},
    "api:project-members": {"GET": REVIEW, "POST": ADMIN},
    "api:project-member": {"DELETE": ADMIN},
    "api:prompt-list": {"GET": REVIEW},
    "api:prompt-import": {"POST": ADMIN},
    "api:import-job-list": {"GET": ADMIN},
    "api:import-job-detail": {"GET": ADMIN},
    "api:prompt-detail": {"GET": REVIEW},
    "api:annotation-list": {"GET": REVIEW},
    "api:annotation-detail": {"GET": REVIEW, "PATCH": REVIEW},
    # --- the annotator flow: the ranking and edit pages call these (session + CSRF) -----------
    "api:task-next": {"POST": ANNOTATE},
    "api:task-peek": {"GET": ANNOTATE},
    "api:task-submit": {"POST": ANNOTATE},
    "api:task-skip": {"POST": ANNOTATE},
    "api:task-extend": {"POST": ANNOTATE},
    "api:my-annotations": {"GET": ANNOTATE},
    "api:my-annotation": {"PATCH": ANNOTATE},
    "api:my-progress": {"GET": ANNOTATE},
    # --- agreement -----------------------------------------------------------------------------
    "api:project-agreement": {"GET": REPORT},
    "api:project-agreement-recompute": {"POST": REVIEW},
    "api:prompt-adjudicate": {"POST": REVIEW},
    # --- snapshots and training: objects scoped to the user's projects by their selectors ------
    "api:snapshot-list": {"GET": TRAIN, "POST": ADMIN},
    "api:snapshot-detail": {"GET": TRAIN},
    "api:snapshot-download": {"GET": TRAIN},
    "api:training-run-list": {"GET": TRAIN, "POST": TRAIN},
    "api:training-run-detail": {"GET": TRAIN},
    "api:training-run-metrics": {"GET": TRAIN},
    "api:training-run-samples": {"GET": TRAIN},
    "api:training-run-cancel": {"POST": TRAIN},
    "api:training-run-resume": {"POST": TRAIN},
    "api:policy-list": {"GET": TRAIN},
    "api:policy-detail": {"GET": TRAIN},
    "api:policy-files": {"GET": TRAIN},
    "api:policy-download": {"GET": TRAIN},
    "api:generation-job-list": {"GET": TRAIN, "POST": TRAIN},
    "api:generation-job-detail": {"GET": TRAIN},
    "api:reward-model-list": {"GET": TRAIN},
    "api:reward-model-detail": {"GET": TRAIN},
    "api:reward-model-files": {"GET": TRAIN},
    "api:reward-model-download": {"GET": TRAIN},
    "api:reward-model-score": {"POST": TRAIN},
    # --- webhooks: a project's admins and ML engineers --------------------------------------
    "api:webhook-list": {"GET": TRAIN, "POST": TRAIN},
    "api:webhook-detail": {"GET": TRAIN, "PATCH": TRAIN, "DELETE": TRAIN},
    "api:webhook-ping": {"POST": TRAIN},
    "api:webhook-delivery-list": {"GET": TRAIN},
    "api:webhook-delivery-replay": {"POST": TRAIN},
    # --- the model in the loop: a project's queue order, retraining, machine annotators ------
    "api:project-loop": {"GET": REPORT, "PATCH": ADMIN},
    "api:project-loop-rescore": {"POST": ADMIN},
    "api:machine-annotator-list": {"GET": REPORT, "POST": ADMIN},
    "api:machine-annotator-judge": {"POST": ADMIN},
    "api:machine-annotator-calibrate": {"POST": ADMIN},
    "api:machine-annotator-route": {"POST": ADMIN},
    # --- the audit log (core) -------------------------------------------------------------------
    "api:audit-event-list": {"GET": ADMIN},
}

NOT_FOUND = "No such project, or you are not a member of it."


def roles_of(user) -> frozenset[str]:
    """The user's roles, cached on the user object for the rest of the request."""
    if not user or not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_rankwise_roles", None)
    if cached is None:
        if user.is_superuser:
            cached = frozenset(Roles.ALL)
        else:
            cached = _group_names(user.pk) & frozenset(Roles.ALL)
        user._rankwise_roles = cached
    return cached


def _group_names(user_id: int) -> frozenset[str]:
    # Plain SQL: this runs on every request, and compiling the ORM's join cost several times
    # the database's own work (bench/profile_requests.py).
    from django.contrib.auth.models import Group

    through = Group.user_set.through._meta
    sql = (
        f"SELECT g.name FROM {Group._meta.db_table} g JOIN {through.db_table} ug "
        f"ON ug.group_id = g.id WHERE ug.user_id = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [user_id])
        return frozenset(name for (name,) in cursor.fetchall())


def has_any_role(user, roles: Iterable[str]) -> bool:
    held = roles_of(user)
    return Roles.ADMIN in held or bool(held.intersection(roles))


# The policy knows projects only through this lookup, which the app that owns projects
# registers when Django starts (``annotate.apps``): a registry seam, so core imports no feature
# app while every URL with a ``<slug:slug>`` is still scoped to its members.
_project_lookup: Callable[[Any, str], Any] | None = None


def project_lookup_register(lookup: Callable[[Any, str], Any]) -> None:
    """``lookup(user, slug)``: the project if ``user`` may see it, else None."""
    global _project_lookup
    _project_lookup = lookup


def project_visible_get(user, slug: str) -> Any | None:
    """The project if the user may see it (admins every project, others their memberships)."""
    if _project_lookup is None:
        raise ImproperlyConfigured(
            "no project lookup registered (core.policy.project_lookup_register)"
        )
    return _project_lookup(user=user, slug=slug)


@dataclass(frozen=True)
class Verdict:
    status: int  # 200 allowed; else the refusal's HTTP status
    message: str = ""
    project: Any = None  # the URL's project, as the registered lookup found it
    allowed_methods: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.status == 200


def rule_for(view_name: str | None) -> Mapping[str, Access]:
    rule = RULES.get(view_name or "")
    if rule is None:
        raise ImproperlyConfigured(
            f"URL {view_name!r} has no rule in core/policy.py RULES; add one (and a row "
            "to the permission matrix test)."
        )
    return rule


def _access(rule: Mapping[str, Access], method: str) -> Access | None:
    return rule.get("GET" if method == "HEAD" else method)


def policy_check(*, user, view_name: str | None, method: str, kwargs: Mapping) -> Verdict:
    """The decision for ``user`` calling URL ``view_name`` with ``method`` (see the module)."""
    rule = rule_for(view_name)
    access = _access(rule, method)
    if access is None:
        return Verdict(405, f"Method {method} is not allowed here.", allowed_methods=tuple(rule))
    if access == PUBLIC:
        return Verdict(200)
    if not user or not user.is_authenticated:
        return Verdict(401, "Sign in first.")
    project = None
    if "slug" in kwargs:
        project = project_visible_get(user, kwargs["slug"])
        if project is None:
            return Verdict(404, NOT_FOUND)
    if access != SIGNED_IN and not has_any_role(user, access):
        needed = " or ".join(sorted(access))
        return Verdict(403, f"Your role does not allow this (it takes {needed}).")
    return Verdict(200, project=project)


# --- the pages' side --------------------------------------------------------------------------


def policy_page():
    """Decorate a page view: it runs only if ``policy_check`` allows, and a project URL's view
    gets the project as ``project=``. Refusals are friendly pages (login redirect, 403 and 404
    pages); the pages' JSON calls go to /api/v1 and get the API's one error shape."""

    def decorate(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            match = request.resolver_match
            verdict = policy_check(
                user=request.user, view_name=match.view_name if match else None,
                method=request.method, kwargs=kwargs,
            )  # fmt: skip
            if verdict.allowed:
                if verdict.project is not None:
                    kwargs["project"] = verdict.project
                return view(request, *args, **kwargs)
            if verdict.status == 401:
                return redirect_to_login(request.get_full_path())
            if verdict.status == 404:
                raise Http404(verdict.message)
            if verdict.status == 405:
                return HttpResponseNotAllowed(verdict.allowed_methods)
            raise PermissionDenied(verdict.message)

        wrapper.policy_governed = True
        return wrapper

    return decorate
