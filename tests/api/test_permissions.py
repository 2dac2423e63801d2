"""Every URL (API and pages) x every principal: the status each gets, and no data for those who
may not see it. The URLconf is walked, so a URL (or a method of one) without a row fails."""

import json

import pytest
from django.urls import get_resolver, resolve
from rest_framework.views import APIView

from core.api.permissions import PolicyPermission
from core.policy import RULES
from tests.api.conftest import MARKER, PRINCIPALS, assert_error_shape
from tests.api.permission_matrix import ENDPOINTS

EXCLUDED = ("admin/",)  # Django's admin: its own staff check (tests/annotate/test_views_admin.py)


def call(world, endpoint, who):
    client = world.client(who, session=endpoint.surface != "api")
    body = endpoint.body(world) if endpoint.body else None
    path = endpoint.path(world)
    method = getattr(client, endpoint.method)
    if body is not None and "multipart" in body:
        return method(path, body["multipart"], format="multipart")
    if body is not None and "form" in body:
        return method(path, body["form"], format="multipart")
    if endpoint.surface == "api":
        return method(path, body, format="json")
    if body is None:
        return method(path)
    return method(path, json.dumps(body), content_type="application/json")


def check_refusal_shape(endpoint, response, status):
    if endpoint.surface == "api":
        assert_error_shape(response)
    elif endpoint.surface == "json":
        error = response.json()["error"]
        assert error.get("code") and error.get("message"), error
    elif status == 302:
        assert "/accounts/login/" in response["Location"]
    else:  # a friendly page in the site's layout, not a bare error
        assert b'class="topbar"' in response.content, response.content[:300]


@pytest.mark.django_db
@pytest.mark.parametrize("who", PRINCIPALS)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_permission_matrix(world, endpoint, who):
    response = call(world, endpoint, who)
    expected = endpoint.expected(who)
    assert response.status_code == expected, (
        f"{endpoint.method.upper()} {endpoint.path(world)} as {who}: "
        f"{response.status_code} {response.content[:300]!r}"
    )
    if expected in (302, 401, 403, 404, 405) and endpoint.ok != expected:
        check_refusal_shape(endpoint, response, expected)
    elif expected >= 400 and endpoint.surface == "api":
        assert_error_shape(response)
    outside = who == "anonymous" or ("@" in who and not who.startswith("admin"))
    if outside or expected in (401, 403, 404):
        content = b"".join(response.streaming_content) if response.streaming else response.content
        assert MARKER.encode() not in content.lower(), f"{endpoint.name} leaks to {who}"
    for check in endpoint.extra_checks:
        check(response, world, who)


def _walk(patterns, prefix="", namespace=None):
    for p in patterns:
        if hasattr(p, "url_patterns"):
            ns = p.namespace or namespace
            yield from _walk(p.url_patterns, prefix + str(p.pattern), ns)
        else:
            name = f"{namespace}:{p.name}" if namespace and p.name else p.name
            yield prefix + str(p.pattern), name, p.callback


def _urls():
    return [u for u in _walk(get_resolver().url_patterns) if not u[0].startswith(EXCLUDED)]


def _methods(view_name, callback) -> set[str]:
    cls = getattr(callback, "cls", None)
    if cls is not None and issubclass(cls, APIView):
        return {m.upper() for m in ("get", "post", "put", "patch", "delete") if hasattr(cls, m)}
    return set(RULES.get(view_name, {"GET": None}))  # the page answers 405 to any other


@pytest.mark.django_db
def test_every_url_and_method_has_a_row(world):
    """A new URL (a page or an API route), or a new method on one, without a row in the
    matrix fails here, so none goes untested."""
    covered = {(resolve(e.path(world).split("?")[0]).route, e.method.upper()) for e in ENDPOINTS}
    wanted = {(route, m) for route, name, cb in _urls() for m in _methods(name, cb)}
    assert len(wanted) > 70, "the URLconf walk found too little"
    assert sorted(wanted - covered) == []


def test_every_url_has_one_rule_and_every_rule_a_url():
    names = {name for _, name, _ in _urls()}
    assert None not in names, "a URL without a name cannot have a rule"
    assert sorted(names - set(RULES)) == [], "URLs without a rule in core/policy.py"
    assert sorted(set(RULES) - names) == [], "rules for URLs that no longer exist"


def test_every_view_consults_the_policy():
    """Pages through @policy_page, API views through PolicyPermission: no view decides alone."""
    loose = []
    for route, name, callback in _urls():
        cls = getattr(callback, "cls", None)
        if cls is not None and issubclass(cls, APIView):
            initkwargs = getattr(callback, "view_initkwargs", {})
            classes = initkwargs.get("permission_classes", cls.permission_classes)
            if list(classes) != [PolicyPermission]:
                loose.append((route, [c.__name__ for c in classes]))
        elif not getattr(callback, "policy_governed", False):
            loose.append((route, name))
    assert loose == []


PROBES = [e for e in ENDPOINTS if e.scoped is True]


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", PROBES, ids=lambda e: e.name)
def test_a_non_member_cannot_tell_a_real_project_from_none(world, endpoint):
    """A project's URL answers a non-member exactly as an unknown slug does, whatever the
    role and the body (membership comes before roles and before the body is read)."""
    fake = type(endpoint)(**{**endpoint.__dict__, "path": lambda w: endpoint.path(w).replace(
        w.project.slug, "no-such-project")})  # fmt: skip
    for who in ("annotator@elsewhere", "reviewer@elsewhere", "ml_engineer@elsewhere"):
        real, unknown = call(world, endpoint, who), call(world, fake, who)
        assert real.status_code == unknown.status_code == 404, (who, real.content[:200])
        if endpoint.surface != "page":  # a page carries a fresh CSRF token each time
            assert real.content == unknown.content, who


@pytest.mark.django_db
def test_a_member_without_any_role_sees_only_their_account(world):
    """Membership alone opens nothing: an account with no role (a member) gets its own
    account and the home page, and 403 for every project URL, page or API."""
    from annotate.models import Membership
    from tests.factories import UserFactory

    user = UserFactory(username="nobody")
    Membership.objects.create(project=world.project, user=user)
    client = world.client("anonymous")
    client.force_login(user)
    slug = world.project.slug
    assert client.get("/api/v1/me/").status_code == 200
    assert client.get("/").status_code == 200
    for url in (f"/api/v1/projects/{slug}/", "/api/v1/projects/", f"/projects/{slug}/",
                f"/projects/{slug}/annotate/"):  # fmt: skip
        response = client.get(url)
        assert response.status_code == 403, url
        assert MARKER.encode() not in response.content.lower()
