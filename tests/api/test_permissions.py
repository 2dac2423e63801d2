"""Every endpoint x every role: the status each role gets, and no data for those who may not."""

import pytest

from tests.api.conftest import MARKER, ROLES, assert_error_shape
from tests.api.permission_matrix import ENDPOINTS


def call(world, endpoint, role):
    client = world.client(role)
    body = endpoint.body(world) if endpoint.body else None
    path = endpoint.path(world)
    if body is not None and "multipart" in body:
        return getattr(client, endpoint.method)(path, body["multipart"], format="multipart")
    return getattr(client, endpoint.method)(path, body, format="json")


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_permission_matrix(world, endpoint, role):
    response = call(world, endpoint, role)
    expected = endpoint.expected(role)
    assert response.status_code == expected, (
        f"{endpoint.method.upper()} {endpoint.path(world)} as {role}: "
        f"{response.status_code} {response.content[:300]!r}"
    )
    if expected >= 400:
        assert_error_shape(response)
    if role == "outsider" or expected in (401, 403, 404):
        content = b"".join(response.streaming_content) if response.streaming else response.content
        assert MARKER.encode() not in content.lower(), f"{endpoint.name} leaks to {role}"
    for check in endpoint.extra_checks:
        check(response, world, role)


@pytest.mark.django_db
def test_every_api_route_is_in_the_matrix(world):
    """A new /api/v1/ URL without a row in the matrix fails here, so none goes untested."""
    from django.urls import get_resolver, resolve

    def walk(patterns, prefix=""):
        for p in patterns:
            if hasattr(p, "url_patterns"):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            else:
                yield prefix + str(p.pattern)

    routes = {r for r in walk(get_resolver().url_patterns) if r.startswith("api/v1/")}
    covered = {resolve(e.path(world).split("?")[0]).route for e in ENDPOINTS}
    assert routes, "no API routes found"
    assert routes - covered == set()
